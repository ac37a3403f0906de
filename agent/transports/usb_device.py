"""Reading a pyusb device: which interface prints, its endpoints, its strings and its path.

Everything here reads descriptors, never assumes them: endpoint addresses differ between
printers (0x01/0x82 on many, 0x02/0x81 or 0x03/0x84 on others), so they always come from the
interface descriptor. Blocking calls: run these in a worker thread from async code.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal

import usb.core
import usb.util

from agent.usb_ids import USB_CLASS_PRINTER, USB_CLASS_VENDOR_SPECIFIC, is_pos_brand

#: Timeout for control transfers (string descriptors), in milliseconds; never 0 (= forever).
CONTROL_TIMEOUT_MS = 1000

StringName = Literal["serial_number", "product", "manufacturer"]


@dataclass(frozen=True)
class PrinterInterface:
    """The interface a printer prints through, as its descriptors say."""

    configuration: int
    interface: int
    alternate: int
    interface_class: int
    out_endpoint: int
    in_endpoint: int | None
    in_packet_size: int


def _bulk(intf: Any, direction: int) -> Any:
    """The first bulk endpoint of ``intf`` in ``direction``, or None."""
    return usb.util.find_descriptor(
        intf,
        custom_match=lambda ep: (
            usb.util.endpoint_type(ep.bmAttributes) == usb.util.ENDPOINT_TYPE_BULK
            and usb.util.endpoint_direction(ep.bEndpointAddress) == direction
        ),
    )


def _bulk_interfaces(dev: Any) -> Iterator[PrinterInterface]:
    """Every interface of every configuration that has a bulk OUT endpoint."""
    for cfg in dev:
        for intf in cfg:
            out_ep = _bulk(intf, usb.util.ENDPOINT_OUT)
            if out_ep is None:
                continue
            in_ep = _bulk(intf, usb.util.ENDPOINT_IN)
            yield PrinterInterface(
                configuration=int(cfg.bConfigurationValue),
                interface=int(intf.bInterfaceNumber),
                alternate=int(intf.bAlternateSetting),
                interface_class=int(intf.bInterfaceClass),
                out_endpoint=int(out_ep.bEndpointAddress),
                in_endpoint=None if in_ep is None else int(in_ep.bEndpointAddress),
                in_packet_size=64 if in_ep is None else int(in_ep.wMaxPacketSize) or 64,
            )


def find_printer_interface(dev: Any) -> PrinterInterface | None:
    """The printer-class interface, or for POS brands the first vendor-specific bulk one."""
    candidates = list(_bulk_interfaces(dev))
    device_is_printer = dev.bDeviceClass == USB_CLASS_PRINTER
    for found in candidates:
        if device_is_printer or found.interface_class == USB_CLASS_PRINTER:
            return found
    if is_pos_brand(int(dev.idVendor)):
        for found in candidates:
            if found.interface_class == USB_CLASS_VENDOR_SPECIFIC:
                return found
    return None


def usb_path(dev: Any) -> str:
    """The physical port path like Linux sysfs names it (``1-2.3``): stable per port."""
    ports = getattr(dev, "port_numbers", None)
    if ports:
        return f"{dev.bus}-{'.'.join(str(p) for p in ports)}"
    return f"{dev.bus}-a{dev.address}"


def read_string(dev: Any, name: StringName) -> str | None:
    """A string descriptor, or None when absent or unreadable (e.g. no permission)."""
    try:
        dev.default_timeout = CONTROL_TIMEOUT_MS
        value = getattr(dev, name)
    except (usb.core.USBError, ValueError, NotImplementedError, UnicodeDecodeError):
        return None
    if not isinstance(value, str):
        return None
    cleaned = value.replace("\x00", "").strip()
    return cleaned or None
