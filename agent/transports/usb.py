"""USB printers through pyusb (libusb), with every blocking call in a worker thread.

Every pyusb transfer gets an explicit timeout in milliseconds, never 0: libusb reads 0 as
"wait forever" (and python-escpos' Usb printer defaults to 0). Each worker call is also
guarded by an asyncio timeout slightly longer than the libusb one, so even a stuck driver
cannot hang the event loop's caller. Errors are translated once, here: ``EACCES`` ->
AccessDenied, ``EBUSY`` -> DeviceBusy, ``ENODEV`` -> PrinterNotFound, timeouts ->
TransportTimeout (writes) or ``b""`` (reads).

On Linux the ``usblp`` kernel driver binds to class 7 printers; it is detached before the
interface is claimed (and not re-attached on close: the agent owns the printer).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
from collections.abc import Callable
from typing import Any, TypeVar

import usb.core
import usb.util

from agent.transports.base import chunks, clamp_timeout
from agent.transports.errors import (
    AccessDenied,
    DeviceBusy,
    PrinterNotFound,
    TransportClosed,
    TransportError,
    TransportTimeout,
    access_denied_message,
    device_busy_message,
    libusb_missing_message,
)
from agent.transports.usb_device import (
    PrinterInterface,
    find_printer_interface,
    read_string,
    usb_path,
)

T = TypeVar("T")

DEFAULT_OPEN_TIMEOUT = 5.0
DEFAULT_WRITE_TIMEOUT = 10.0
WRITE_CHUNK = 16 * 1024
# Extra time the asyncio guard gives a worker call beyond its libusb timeout.
_GUARD_SLACK = 2.0


def _ms(timeout: float) -> int:
    """Seconds to libusb milliseconds, at least 1 (0 would mean forever)."""
    return max(1, round(clamp_timeout(timeout) * 1000))


def translate_usb_error(exc: Exception, vendor_id: int | None = None) -> TransportError:
    """The one place a pyusb/libusb failure becomes one of our errors."""
    if isinstance(exc, TransportError):
        return exc
    if isinstance(exc, usb.core.USBTimeoutError):
        return TransportTimeout("the USB printer did not answer in time")
    if isinstance(exc, usb.core.NoBackendError):
        return TransportError(libusb_missing_message(), code="usb_backend_missing")
    code = getattr(exc, "errno", None)
    if code in (errno.EACCES, errno.EPERM):
        return AccessDenied(access_denied_message(vendor_id))
    if code == errno.EBUSY:
        return DeviceBusy(device_busy_message())
    if code in (errno.ENODEV, errno.ENOENT):
        return PrinterNotFound("the USB printer is not connected (unplugged or powered off)")
    if code == errno.ETIMEDOUT:
        return TransportTimeout("the USB printer did not answer in time")
    return TransportError(f"USB error: {exc}", code="usb_error")


async def _in_thread(call: Callable[[], T], timeout: float, vendor_id: int | None) -> T:
    """Run a blocking pyusb call in a worker thread, bounded and with errors translated."""
    try:
        async with asyncio.timeout(timeout + _GUARD_SLACK):
            return await asyncio.to_thread(call)
    except TimeoutError:
        raise TransportTimeout("the USB driver did not return in time", code="usb_stuck") from None
    except (usb.core.USBError, ValueError, NotImplementedError) as exc:
        raise translate_usb_error(exc, vendor_id) from exc


def _matches(dev: Any, serial: str | None, path: str | None) -> bool:
    """True when ``dev`` is the wanted unit: by serial when known, else by port path."""
    if serial is not None:
        return read_string(dev, "serial_number") == serial
    return path is None or usb_path(dev) == path


def _find_device(
    vendor_id: int, product_id: int, serial: str | None, path: str | None, backend: Any
) -> Any:
    """The pyusb device for this printer, or PrinterNotFound."""
    found = usb.core.find(find_all=True, backend=backend, idVendor=vendor_id, idProduct=product_id)
    devices = list(found)
    for dev in devices:
        if _matches(dev, serial, path):
            return dev
    # A lone unit whose serial cannot be read (no permission yet): opening it says why.
    if len(devices) == 1 and read_string(devices[0], "serial_number") is None:
        return devices[0]
    where = f"{vendor_id:04x}:{product_id:04x} ({serial or path or 'any unit'})"
    raise PrinterNotFound(f"USB printer {where} is not connected")


def _ensure_configuration(dev: Any, wanted: int) -> None:
    """Select ``wanted`` unless it is already active (re-setting it upsets some drivers)."""
    try:
        active = dev.get_active_configuration().bConfigurationValue
    except usb.core.USBError as exc:
        if exc.errno is not None:  # a real failure, not pyusb's "Configuration not set"
            raise
        active = None
    if active != wanted:
        dev.set_configuration(wanted)


def _detach_kernel_driver(dev: Any, interface: int) -> None:
    """Detach usblp (Linux) from ``interface``; other systems have no such call."""
    try:
        active = dev.is_kernel_driver_active(interface)
    except NotImplementedError:  # libusb's NOT_SUPPORTED
        return
    if active:
        dev.detach_kernel_driver(interface)


def _claim(dev: Any) -> PrinterInterface:
    """Configure the device and claim its printer interface."""
    intf = find_printer_interface(dev)
    if intf is None:
        raise TransportError("this USB device has no printer interface", code="not_a_printer")
    _detach_kernel_driver(dev, intf.interface)
    _ensure_configuration(dev, intf.configuration)
    usb.util.claim_interface(dev, intf.interface)
    if intf.alternate:
        dev.set_interface_altsetting(intf.interface, intf.alternate)
    return intf


class UsbTransport:
    """A claimed USB printer interface with bulk OUT (and usually bulk IN) endpoints."""

    def __init__(
        self, dev: Any, intf: PrinterInterface, *, write_timeout: float = DEFAULT_WRITE_TIMEOUT
    ) -> None:
        self._dev = dev
        self.interface = intf
        self.vendor_id = int(dev.idVendor)
        self.product_id = int(dev.idProduct)
        self.path = usb_path(dev)
        self.write_timeout = write_timeout
        self._pending = b""
        self._lock = asyncio.Lock()
        self._closed = False

    @classmethod
    async def open(
        cls,
        vendor_id: int,
        product_id: int,
        *,
        serial: str | None = None,
        usb_path: str | None = None,
        backend: Any = None,
        timeout: float = DEFAULT_OPEN_TIMEOUT,
        write_timeout: float = DEFAULT_WRITE_TIMEOUT,
    ) -> UsbTransport:
        """Find the printer (by serial, else port path), detach usblp, claim its interface."""

        def open_blocking() -> tuple[Any, PrinterInterface]:
            dev = _find_device(vendor_id, product_id, serial, usb_path, backend)
            try:
                return dev, _claim(dev)
            except Exception:
                usb.util.dispose_resources(dev)
                raise

        dev, intf = await _in_thread(open_blocking, timeout, vendor_id)
        return cls(dev, intf, write_timeout=write_timeout)

    @property
    def can_read(self) -> bool:
        """False for a write-only printer (no bulk-IN endpoint): it can report no status."""
        return self.interface.in_endpoint is not None

    async def write(self, data: bytes, timeout: float | None = None) -> None:
        """Send ``data`` to the bulk OUT endpoint, chunk by chunk."""
        limit = clamp_timeout(self.write_timeout if timeout is None else timeout)
        for chunk in chunks(data, WRITE_CHUNK):
            await self._call(self._write_blocking(chunk, limit), limit)

    async def read(self, size: int, timeout: float) -> bytes:
        """Up to ``size`` bytes from bulk IN, ``b""`` on timeout or without an IN endpoint."""
        if self.interface.in_endpoint is None:
            self._check_open()
            return b""
        if not self._pending:
            limit = clamp_timeout(timeout)
            self._pending = await self._call(self._read_blocking(limit), limit)
        data, self._pending = self._pending[:size], self._pending[size:]
        return data

    async def close(self) -> None:
        """Release the interface and the device handle."""
        if self._closed:
            return
        self._closed = True
        dev, number = self._dev, self.interface.interface

        def release() -> None:
            try:
                usb.util.release_interface(dev, number)
            finally:
                usb.util.dispose_resources(dev)

        # An unplugged printer has nothing left to release.
        async with self._lock:
            with contextlib.suppress(TransportError):
                await _in_thread(release, 1.0, self.vendor_id)

    def describe(self) -> str:
        """``usb://vid:pid@path`` with the endpoints in use."""
        intf = self.interface
        ep_in = "none" if intf.in_endpoint is None else f"{intf.in_endpoint:#04x}"
        return (
            f"usb://{self.vendor_id:04x}:{self.product_id:04x}@{self.path} "
            f"(interface {intf.interface}, out {intf.out_endpoint:#04x}, in {ep_in})"
        )

    def _write_blocking(self, chunk: bytes, timeout: float) -> Callable[[], None]:
        """A worker-thread call writing one chunk within ``timeout``."""
        dev, ep, where = self._dev, self.interface.out_endpoint, self.describe()

        def write() -> None:
            try:
                dev.write(ep, chunk, _ms(timeout))
            except usb.core.USBTimeoutError:
                raise TransportTimeout(
                    f"{where} stopped accepting data for {timeout:g} s", code="write_timeout"
                ) from None

        return write

    def _read_blocking(self, timeout: float) -> Callable[[], bytes]:
        """A worker-thread call reading one USB packet (never less: smaller reads overflow)."""
        dev, ep, size = self._dev, self.interface.in_endpoint, self.interface.in_packet_size

        def read() -> bytes:
            try:
                return bytes(dev.read(ep, size, _ms(timeout)))
            except usb.core.USBTimeoutError:
                return b""

        return read

    async def _call(self, call: Callable[[], T], timeout: float) -> T:
        """One serialised, bounded worker call on this device."""
        async with self._lock:
            self._check_open()
            return await _in_thread(call, timeout, self.vendor_id)

    def _check_open(self) -> None:
        """Refuse I/O on a closed transport."""
        if self._closed:
            raise TransportClosed(f"{self.describe()} is closed")
