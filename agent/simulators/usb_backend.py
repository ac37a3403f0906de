"""A fake pyusb backend: simulated USB printers that pyusb (and so the agent) drives for real.

Pass ``FakeUsbBackend([...])`` wherever pyusb takes a ``backend``: ``usb.core.find`` and
everything above it run unchanged, down to descriptors, string requests, claiming,
kernel-driver detaching and bulk transfers. Each :class:`FakeUsbPrinter` wraps a
:class:`~agent.simulators.brain.PrinterBrain`, so it prints and answers ``DLE EOT`` like the
network simulator. It mimics libusb where code tends to go wrong:

* endpoints are at 0x03 (OUT) and 0x84 (IN) by default, so code assuming 0x01/0x82 fails;
* a read with nothing to read raises ``USBTimeoutError`` after the requested timeout; a
  timeout of 0 (libusb: wait forever) is refused loudly instead of hanging the tests;
* ``access_denied`` makes opening fail with EACCES (strings unreadable, like on Linux
  without a udev rule), ``held_elsewhere`` makes claiming fail with EBUSY, and
  ``kernel_driver_active`` plays usblp: claiming fails with EBUSY until it is detached;
* powered off (the brain's ``powered_off`` state) is unplugged: the device disappears from
  enumeration and I/O fails with ENODEV.
"""

from __future__ import annotations

import array
import errno
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import usb.backend
import usb.core

from agent.simulators.brain import PrinterBrain, SimState

# libusb error codes, as pyusb's libusb1 backend reports them.
_LIBUSB_ERRORS = {
    errno.EACCES: (-3, "Access denied (insufficient permissions)"),
    errno.ENODEV: (-4, "No such device (it may have been disconnected)"),
    errno.EBUSY: (-6, "Resource busy"),
    errno.EPIPE: (-9, "Pipe error"),
}
_BULK = 0x02
_INTERRUPT = 0x03
_GET_DESCRIPTOR = 0x06
_STRING_DESCRIPTOR = 3
_LANGID_EN_US = 0x0409


def _usb_error(code: int) -> usb.core.USBError:
    """The USBError libusb1's backend raises for ``code``."""
    backend_code, text = _LIBUSB_ERRORS[code]
    return usb.core.USBError(text, backend_code, code)


def _timeout_error() -> usb.core.USBTimeoutError:
    """The error libusb1's backend raises when a transfer times out."""
    return usb.core.USBTimeoutError("Operation timed out", -7, errno.ETIMEDOUT)


@dataclass(eq=False)
class FakeUsbPrinter:
    """One simulated USB printer; change its fields from tests to change its behaviour."""

    vendor_id: int = 0x04B8
    product_id: int = 0x0E15
    serial: str | None = "SIM0001"
    manufacturer: str | None = "EPSON"
    product: str | None = "TM-T20II (simulated)"
    #: 7 for the printer class, 0xFF for vendor-specific (Epson "vendor class" mode).
    interface_class: int = 7
    #: The printer interface's number; numbers below it are taken by a HID interface.
    interface_number: int = 0
    out_endpoint: int = 0x03
    in_endpoint: int | None = 0x84
    max_packet_size: int = 64
    device_class: int = 0
    bus: int = 1
    port_numbers: tuple[int, ...] = (2,)
    address: int = 5
    brain: PrinterBrain = field(default_factory=PrinterBrain)
    access_denied: bool = False
    held_elsewhere: bool = False
    kernel_driver_active: bool = False
    #: False: bulk writes stall (the printer's buffer is full) and time out.
    accepts_writes: bool = True

    def __post_init__(self) -> None:
        self._replies = bytearray()
        self._ready = threading.Condition()
        self.configuration = 1
        self.claimed: set[int] = set()
        self.timeouts_requested: list[int] = []
        self.brain.add_listener(self._on_state)

    def _on_state(self, state: SimState) -> None:
        """A Star printer with ASB on sends an ASB on bulk IN by itself at each change."""
        pushed = self.brain.unsolicited()
        if pushed:
            with self._ready:
                self._replies += pushed
                self._ready.notify_all()

    @property
    def plugged_in(self) -> bool:
        """False while the simulated printer is powered off."""
        return self.brain.state is not SimState.POWERED_OFF

    def device_descriptor(self) -> SimpleNamespace:
        """The fields pyusb reads from a device descriptor."""
        return SimpleNamespace(
            bLength=18,
            bDescriptorType=1,
            bcdUSB=0x0200,
            bDeviceClass=self.device_class,
            bDeviceSubClass=0,
            bDeviceProtocol=0,
            bMaxPacketSize0=64,
            idVendor=self.vendor_id,
            idProduct=self.product_id,
            bcdDevice=0x0100,
            iManufacturer=1 if self.manufacturer else 0,
            iProduct=2 if self.product else 0,
            iSerialNumber=3 if self.serial else 0,
            bNumConfigurations=1,
            address=self.address,
            bus=self.bus,
            port_number=self.port_numbers[-1] if self.port_numbers else None,
            port_numbers=self.port_numbers,
            speed=2,
        )

    def interfaces(self) -> list[SimpleNamespace]:
        """Interface descriptors: HID fillers, then the printer interface."""
        hid = [_interface(n, 3, 1) for n in range(self.interface_number)]
        endpoints = 1 if self.in_endpoint is None else 2
        return [*hid, _interface(self.interface_number, self.interface_class, endpoints)]

    def endpoints(self, interface: int) -> list[SimpleNamespace]:
        """Endpoint descriptors of the interface at logical index ``interface``."""
        if interface < self.interface_number:
            return [_endpoint(0x81 + interface, _INTERRUPT, 8)]
        found = [_endpoint(self.out_endpoint, _BULK, self.max_packet_size)]
        if self.in_endpoint is not None:
            found.append(_endpoint(self.in_endpoint, _BULK, self.max_packet_size))
        return found

    def string(self, index: int) -> str | None:
        """String descriptor ``index`` (1 manufacturer, 2 product, 3 serial)."""
        return {1: self.manufacturer, 2: self.product, 3: self.serial}.get(index)

    def bulk_out(self, data: bytes, timeout_ms: int) -> int:
        """The agent writes to the printer."""
        if not self.accepts_writes:
            threading.Event().wait(timeout_ms / 1000)
            raise _timeout_error()
        reply = self.brain.receive(data)
        with self._ready:
            self._replies += reply
            self._ready.notify_all()
        return len(data)

    def bulk_in(self, size: int, timeout_ms: int) -> bytes:
        """The agent reads from the printer: what it answered, or a timeout."""
        with self._ready:
            if not self._ready.wait_for(lambda: bool(self._replies), timeout_ms / 1000):
                raise _timeout_error()
            data = bytes(self._replies[:size])
            del self._replies[:size]
            return data


def _interface(number: int, klass: int, endpoints: int) -> SimpleNamespace:
    """An interface descriptor; printer-class ones say subclass 1, protocol 2 (bidirectional)."""
    return SimpleNamespace(
        bLength=9,
        bDescriptorType=4,
        bInterfaceNumber=number,
        bAlternateSetting=0,
        bNumEndpoints=endpoints,
        bInterfaceClass=klass,
        bInterfaceSubClass=1 if klass == 7 else 0,
        bInterfaceProtocol=2 if klass == 7 else 0,
        iInterface=0,
        extra_descriptors=[],
    )


def _endpoint(address: int, kind: int, packet: int) -> SimpleNamespace:
    """An endpoint descriptor."""
    return SimpleNamespace(
        bLength=7,
        bDescriptorType=5,
        bEndpointAddress=address,
        bmAttributes=kind,
        wMaxPacketSize=packet,
        bInterval=0 if kind == _BULK else 10,
        bRefresh=0,
        bSynchAddress=0,
        extra_descriptors=[],
    )


def _config(printer: FakeUsbPrinter) -> SimpleNamespace:
    """The single configuration descriptor."""
    return SimpleNamespace(
        bLength=9,
        bDescriptorType=2,
        wTotalLength=32,
        bNumInterfaces=len(printer.interfaces()),
        bConfigurationValue=1,
        iConfiguration=0,
        bmAttributes=0xC0,
        bMaxPower=50,
        extra_descriptors=[],
    )


class _Handle:
    """An open device, as ``open_device`` returns it."""

    def __init__(self, printer: FakeUsbPrinter) -> None:
        self.printer = printer
        self.claimed: set[int] = set()


class FakeUsbBackend(usb.backend.IBackend):  # type: ignore[misc]
    """A pyusb backend whose bus holds the given simulated printers (and nothing else)."""

    def __init__(self, printers: Iterable[FakeUsbPrinter] = ()) -> None:
        super().__init__()
        self.printers = list(printers)

    def enumerate_devices(self) -> Iterator[FakeUsbPrinter]:
        """The plugged-in printers."""
        return iter([p for p in self.printers if p.plugged_in])

    def get_parent(self, dev: FakeUsbPrinter) -> None:
        """Every simulated printer sits on the root hub."""
        return None

    def get_device_descriptor(self, dev: FakeUsbPrinter) -> SimpleNamespace:
        return dev.device_descriptor()

    def get_configuration_descriptor(self, dev: FakeUsbPrinter, config: int) -> SimpleNamespace:
        if config != 0:
            raise IndexError("no such configuration")
        return _config(dev)

    def get_interface_descriptor(
        self, dev: FakeUsbPrinter, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        interfaces = dev.interfaces()
        if config != 0 or alt != 0 or intf >= len(interfaces):
            raise IndexError("no such interface")
        return interfaces[intf]

    def get_endpoint_descriptor(
        self, dev: FakeUsbPrinter, ep: int, intf: int, alt: int, config: int
    ) -> SimpleNamespace:
        endpoints = dev.endpoints(intf)
        if ep >= len(endpoints):
            raise IndexError("no such endpoint")
        return endpoints[ep]

    def open_device(self, dev: FakeUsbPrinter) -> _Handle:
        self._check_present(dev)
        if dev.access_denied:
            raise _usb_error(errno.EACCES)
        return _Handle(dev)

    def close_device(self, dev_handle: _Handle) -> None:
        dev_handle.printer.claimed -= dev_handle.claimed
        dev_handle.claimed.clear()

    def set_configuration(self, dev_handle: _Handle, config_value: int) -> None:
        printer = self._check_present(dev_handle.printer)
        if printer.kernel_driver_active or printer.held_elsewhere:
            raise _usb_error(errno.EBUSY)
        printer.configuration = config_value

    def get_configuration(self, dev_handle: _Handle) -> int:
        return self._check_present(dev_handle.printer).configuration

    def set_interface_altsetting(self, dev_handle: _Handle, intf: int, altsetting: int) -> None:
        self._check_present(dev_handle.printer)

    def claim_interface(self, dev_handle: _Handle, intf: int) -> None:
        printer = self._check_present(dev_handle.printer)
        taken = intf in printer.claimed and intf not in dev_handle.claimed
        if printer.held_elsewhere or printer.kernel_driver_active or taken:
            raise _usb_error(errno.EBUSY)
        printer.claimed.add(intf)
        dev_handle.claimed.add(intf)

    def release_interface(self, dev_handle: _Handle, intf: int) -> None:
        dev_handle.printer.claimed.discard(intf)
        dev_handle.claimed.discard(intf)

    def is_kernel_driver_active(self, dev_handle: _Handle, intf: int) -> bool:
        return self._check_present(dev_handle.printer).kernel_driver_active

    def detach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        self._check_present(dev_handle.printer).kernel_driver_active = False

    def attach_kernel_driver(self, dev_handle: _Handle, intf: int) -> None:
        self._check_present(dev_handle.printer).kernel_driver_active = True

    def bulk_write(
        self, dev_handle: _Handle, ep: int, intf: int, data: array.array[int], timeout: int
    ) -> int:
        printer = self._check_transfer(dev_handle, ep, intf, timeout)
        if ep != printer.out_endpoint:
            raise _usb_error(errno.EPIPE)
        return printer.bulk_out(data.tobytes(), timeout)

    def bulk_read(
        self, dev_handle: _Handle, ep: int, intf: int, buff: array.array[int], timeout: int
    ) -> int:
        printer = self._check_transfer(dev_handle, ep, intf, timeout)
        if ep != printer.in_endpoint:
            raise _usb_error(errno.EPIPE)
        data = printer.bulk_in(len(buff), timeout)
        buff[: len(data)] = array.array("B", data)
        return len(data)

    def ctrl_transfer(
        self,
        dev_handle: _Handle,
        bmRequestType: int,
        bRequest: int,
        wValue: int,
        wIndex: int,
        data: array.array[int],
        timeout: int,
    ) -> int:
        printer = self._check_present(dev_handle.printer)
        if bRequest != _GET_DESCRIPTOR or wValue >> 8 != _STRING_DESCRIPTOR:
            raise _usb_error(errno.EPIPE)  # a real device stalls what it does not support
        payload = _string_descriptor(printer, wValue & 0xFF)
        size = min(len(payload), len(data))
        data[:size] = array.array("B", payload[:size])
        return size

    def clear_halt(self, dev_handle: _Handle, ep: int) -> None:
        self._check_present(dev_handle.printer)

    def reset_device(self, dev_handle: _Handle) -> None:
        self._check_present(dev_handle.printer)

    def _check_present(self, printer: FakeUsbPrinter) -> FakeUsbPrinter:
        """ENODEV once the printer is unplugged."""
        if not printer.plugged_in or printer not in self.printers:
            raise _usb_error(errno.ENODEV)
        return printer

    def _check_transfer(
        self, dev_handle: _Handle, ep: int, intf: int, timeout: int
    ) -> FakeUsbPrinter:
        """Refuse transfers libusb would refuse, and the timeout that would hang forever."""
        printer = self._check_present(dev_handle.printer)
        printer.timeouts_requested.append(timeout)
        if timeout <= 0:
            raise ValueError("timeout 0 means 'wait forever' to libusb: never pass it")
        if intf not in dev_handle.claimed:
            raise _usb_error(errno.EBUSY)
        return printer


def _string_descriptor(printer: FakeUsbPrinter, index: int) -> bytes:
    """A USB string descriptor: length, type 3, UTF-16LE text (index 0: the LANGID list)."""
    if index == 0:
        body = _LANGID_EN_US.to_bytes(2, "little")
    else:
        text = printer.string(index)
        if text is None:
            raise _usb_error(errno.EPIPE)
        body = text.encode("utf-16-le")
    return bytes((len(body) + 2, _STRING_DESCRIPTOR)) + body


def epson_vendor_class(**overrides: Any) -> FakeUsbPrinter:
    """An Epson TM in "vendor class" USB mode: interface class 0xFF, endpoints 0x01/0x82."""
    defaults: dict[str, Any] = {
        "product_id": 0x0202,
        "serial": "EPSONVC01",
        "product": "TM-T88V (vendor class, simulated)",
        "interface_class": 0xFF,
        "out_endpoint": 0x01,
        "in_endpoint": 0x82,
        "port_numbers": (3,),
        "address": 6,
    }
    return FakeUsbPrinter(**{**defaults, **overrides})


def generic_pos58(**overrides: Any) -> FakeUsbPrinter:
    """A no-name 58 mm printer on a Winbond chip: class 7, no serial number, OUT only."""
    defaults: dict[str, Any] = {
        "vendor_id": 0x0416,
        "product_id": 0x5011,
        "serial": None,
        "manufacturer": "Winbond Electronics Corp.",
        "product": "POS58 Printer USB",
        "in_endpoint": None,
        "out_endpoint": 0x02,
        "port_numbers": (1, 4),
        "address": 7,
    }
    return FakeUsbPrinter(**{**defaults, **overrides})


def star_tsp100(**overrides: Any) -> FakeUsbPrinter:
    """A Star TSP143IIIU: printer class, bulk IN, answers ASB and ENQ, no DLE EOT, and prints
    only Star raster (Star Graphic mode, as the real TSP100 family); its version reply names
    the model (``TSP143IIIU Ver1.2``)."""
    brain = overrides.pop("brain", None) or PrinterBrain(
        mode="star_graphic", star_version="TSP143IIIU Ver1.2"
    )
    defaults: dict[str, Any] = {
        "vendor_id": 0x0519,
        "product_id": 0x0003,
        "serial": "STARSIM01",
        "manufacturer": "STAR",
        "product": "TSP143IIIU (simulated)",
        "out_endpoint": 0x02,
        "in_endpoint": 0x81,
        "port_numbers": (5,),
        "address": 8,
    }
    return FakeUsbPrinter(brain=brain, **{**defaults, **overrides})


def star_tsp650(**overrides: Any) -> FakeUsbPrinter:
    """A Star TSP654II in Star Line Mode: printer class, bulk IN, answers ASB and ENQ, no DLE
    EOT, prints Star Line Mode; its version reply names the model (``TSP654II Ver2.1``)."""
    brain = overrides.pop("brain", None) or PrinterBrain(
        mode="star", star_version="TSP654II Ver2.1"
    )
    defaults: dict[str, Any] = {
        "vendor_id": 0x0519,
        "product_id": 0x0001,
        "serial": "STARSIM02",
        "manufacturer": "STAR",
        "product": "TSP654II (simulated)",
        "out_endpoint": 0x02,
        "in_endpoint": 0x81,
        "port_numbers": (6,),
        "address": 9,
    }
    return FakeUsbPrinter(brain=brain, **{**defaults, **overrides})
