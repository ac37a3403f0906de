"""USB vendor ids of receipt printers.

Two kinds of vendors, treated differently:

* POS brands (Epson, Star, ...) make receipt printers whose USB interface may be
  vendor-specific (class 0xFF) instead of the printer class 7: Epson's TM series in "vendor
  class" mode for the APD driver, for example. For these vendors a vendor-specific interface
  with a bulk OUT endpoint is accepted as a printer.
* Generic chips (Winbond, STM, GD32, NXP, ...) sit inside countless no-name 58/80 mm
  printers ("POS58", "POS80", "XP-58"), which present the printer class 7. The same vendor ids
  are used by unrelated devices (an ST-Link debugger is 0483:3748), so for these only a
  class 7 interface counts; the id only gives the printer a readable name and a default
  paper width when its strings cannot be read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

PaperWidth = Literal[58, 80]


@dataclass(frozen=True)
class UsbVendor:
    """What we know about a vendor id."""

    name: str
    #: True for POS brands: a vendor-specific interface is accepted as a printer.
    pos_brand: bool
    #: python-escpos profile to use when the model matches none (None: the conservative one).
    profile: str | None = None
    paper_width_mm: PaperWidth | None = None


USB_VENDORS: dict[int, UsbVendor] = {
    0x04B8: UsbVendor("Epson", pos_brand=True, profile="TM-T88III", paper_width_mm=80),
    0x0519: UsbVendor("Star Micronics", pos_brand=True),
    0x1504: UsbVendor("Bixolon", pos_brand=True),
    0x1D90: UsbVendor("Citizen", pos_brand=True),
    0x2730: UsbVendor("Citizen", pos_brand=True),
    0x154F: UsbVendor("SNBC", pos_brand=True),
    0x0DD4: UsbVendor("Custom", pos_brand=True),
    0x0416: UsbVendor("Winbond (generic POS58)", pos_brand=False, paper_width_mm=58),
    0x0483: UsbVendor("STMicroelectronics (generic POS80)", pos_brand=False, paper_width_mm=80),
    0x28E9: UsbVendor("GigaDevice GD32 (generic)", pos_brand=False),
    0x1FC9: UsbVendor("NXP (generic)", pos_brand=False),
    0x0FE6: UsbVendor("ICS Advent (generic)", pos_brand=False),
    0x6868: UsbVendor("Generic POS printer", pos_brand=False),
    0x20D1: UsbVendor("Generic POS printer", pos_brand=False),
}

#: The USB printer class (bInterfaceClass / bDeviceClass).
USB_CLASS_PRINTER = 7
USB_CLASS_VENDOR_SPECIFIC = 0xFF


def vendor(vendor_id: int) -> UsbVendor | None:
    """The known vendor for ``vendor_id``, if any."""
    return USB_VENDORS.get(vendor_id)


def is_pos_brand(vendor_id: int) -> bool:
    """True when a vendor-specific interface of this vendor is accepted as a printer."""
    known = USB_VENDORS.get(vendor_id)
    return known is not None and known.pos_brand
