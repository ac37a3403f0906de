"""USB discovery: every device with a printer interface (or a POS brand's vendor interface).

A USB printer's id is ``usb:{vid:04x}:{pid:04x}:{serial}``, or
``usb:{vid:04x}:{pid:04x}:path-{bus}-{ports}`` when it has no readable serial number. The
serial follows the printer from port to port; the path is stable only per physical port.
Two caveats, both accepted: reading the serial needs access to the device, so a printer seen
before its udev rule is installed changes id once; and no-name printers that all report the
same serial get path ids when two of them are plugged in at once.

Enumeration reads cached descriptors; string descriptors need the device opened and may
fail (access denied): the printer is still reported, under its vendor's name.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections import Counter
from typing import Any

import usb.core
import usb.util

from agent.profiles import choose_profile
from agent.transports.errors import libusb_missing_message
from agent.transports.usb_device import find_printer_interface, read_string, usb_path
from agent.usb_ids import vendor
from shared.printers import Connection, DiscoverySource, PrinterInfo

log = logging.getLogger(__name__)

DEFAULT_USB_SCAN_TIMEOUT = 10.0
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_SERIAL_MAX = 64


def clean_serial(serial: str | None) -> str | None:
    """The serial as it may appear in an id (unsafe characters become ``_``), or None."""
    if not serial:
        return None
    cleaned = _ID_UNSAFE.sub("_", serial.strip())[:_SERIAL_MAX]
    return cleaned if cleaned.strip("_") else None


def usb_printer_id(vendor_id: int, product_id: int, serial: str | None, path: str) -> str:
    """``usb:vid:pid:serial``, or ``usb:vid:pid:path-<path>`` without a usable serial."""
    unit = clean_serial(serial) or f"path-{path}"
    return f"usb:{vendor_id:04x}:{product_id:04x}:{unit}"


def _name(vendor_id: int, product_id: int, product: str | None, maker: str | None) -> str:
    """A readable name: the product string, else the vendor's name, else the ids."""
    if product:
        return product if not maker or product.startswith(maker) else f"{maker} {product}"
    known = vendor(vendor_id)
    label = known.name if known else "USB printer"
    return f"{label} {vendor_id:04x}:{product_id:04x}"


def describe_usb_device(dev: Any) -> PrinterInfo | None:
    """The printer candidate for a pyusb device, or None when it is not a printer (blocking)."""
    intf = find_printer_interface(dev)
    if intf is None:
        return None
    vid, pid, path = int(dev.idVendor), int(dev.idProduct), usb_path(dev)
    serial = read_string(dev, "serial_number")
    manufacturer = read_string(dev, "manufacturer")
    product = read_string(dev, "product")
    usb.util.dispose_resources(dev)
    known = vendor(vid)
    return PrinterInfo(
        printer_id=usb_printer_id(vid, pid, serial, path),
        name=_name(vid, pid, product, manufacturer)[:200],
        connection=Connection.USB,
        source=DiscoverySource.USB,
        vendor_id=vid,
        product_id=pid,
        serial=serial[:200] if serial else None,
        usb_path=path,
        manufacturer=(manufacturer or (known.name if known else None)),
        model=product[:200] if product else None,
        profile=choose_profile(product, vid, manufacturer).profile,
        paper_width_mm=known.paper_width_mm if known else None,
        # No bulk-IN endpoint: no way back, so no status (known before any contact).
        status_channel="none" if intf.in_endpoint is None else None,
    )


def _by_path(printer: PrinterInfo) -> PrinterInfo:
    """The same printer with its port-path id."""
    vid, pid, path = printer.vendor_id or 0, printer.product_id or 0, printer.usb_path or "?"
    return printer.model_copy(update={"printer_id": usb_printer_id(vid, pid, None, path)})


def _split_shared_serials(found: list[PrinterInfo]) -> list[PrinterInfo]:
    """Printers sharing one serial (cheap clones) are told apart by their port path."""
    counts = Counter(p.printer_id for p in found)
    return [_by_path(p) if counts[p.printer_id] > 1 else p for p in found]


def scan_usb(backend: Any = None) -> list[PrinterInfo]:
    """Every USB printer on the bus (blocking; run it in a thread)."""
    try:
        devices = list(usb.core.find(find_all=True, backend=backend))
    except usb.core.NoBackendError:
        log.warning("USB discovery is off. %s", libusb_missing_message())
        return []
    found = []
    for dev in devices:
        try:
            info = describe_usb_device(dev)
        except (usb.core.USBError, ValueError) as exc:
            log.debug("skipping USB device %s: %s", dev, exc)
            continue
        if info is not None:
            found.append(info)
    return _split_shared_serials(found)


async def discover_usb(
    backend: Any = None,
    timeout: float = DEFAULT_USB_SCAN_TIMEOUT,
) -> list[PrinterInfo]:
    """Every USB printer on the bus, scanned in a worker thread.

    Raises TimeoutError after ``timeout`` seconds: a scan that did not finish must not count
    as "no printers" (that would start the countdown to removing them).
    """
    async with asyncio.timeout(timeout):
        return await asyncio.to_thread(scan_usb, backend)
