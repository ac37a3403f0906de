"""UsbTransport driving pyusb for real, on the fake backend that ships with the agent."""

from __future__ import annotations

import errno

import pytest
import usb.core

from agent.simulators.brain import SimState
from agent.simulators.usb_backend import (
    FakeUsbBackend,
    FakeUsbPrinter,
    epson_vendor_class,
    generic_pos58,
)
from agent.transports import (
    AccessDenied,
    DeviceBusy,
    PrinterNotFound,
    TransportClosed,
    TransportError,
    TransportTimeout,
    UsbTransport,
)
from agent.transports.errors import access_denied_message
from agent.transports.usb import translate_usb_error
from tests.agent.support import within


async def open_printer(printer: FakeUsbPrinter, **kwargs: object) -> UsbTransport:
    backend = FakeUsbBackend([printer])
    return await UsbTransport.open(
        printer.vendor_id, printer.product_id, backend=backend, timeout=2.0, **kwargs
    )


async def test_endpoints_come_from_the_descriptors() -> None:
    printer = FakeUsbPrinter(interface_number=1)  # a HID interface 0 before the printer
    transport = await open_printer(printer, serial="SIM0001")
    assert transport.interface.interface == 1
    assert transport.interface.out_endpoint == 0x03
    assert transport.interface.in_endpoint == 0x84
    assert "out 0x03, in 0x84" in transport.describe()
    await transport.write(b"hello\x1dV\x00")
    await transport.write(b"\x10\x04\x01")
    assert await transport.read(1, 1.0) == b"\x12"
    await transport.close()
    assert printer.brain.count_jobs_containing("hello") == 1
    assert printer.claimed == set()


async def test_vendor_class_epson_is_driven_too() -> None:
    printer = epson_vendor_class()
    transport = await open_printer(printer)
    assert transport.interface.interface_class == 0xFF
    assert (transport.interface.out_endpoint, transport.interface.in_endpoint) == (0x01, 0x82)
    await transport.write(b"\x10\x04\x04")
    assert await transport.read(1, 1.0) == b"\x12"
    await transport.close()


async def test_usblp_is_detached_before_claiming() -> None:
    printer = FakeUsbPrinter(kernel_driver_active=True)
    transport = await open_printer(printer)
    assert printer.kernel_driver_active is False
    assert printer.claimed == {0}
    await transport.close()


async def test_read_without_reply_times_out_quickly_and_never_passes_zero() -> None:
    printer = FakeUsbPrinter()
    transport = await open_printer(printer)
    with within(1.0):
        assert await transport.read(1, 0.1) == b""
    with within(1.0):
        assert await transport.read(1, 0.0) == b""  # clamped to 1 ms, not "forever"
    await transport.close()
    assert printer.timeouts_requested
    assert all(ms > 0 for ms in printer.timeouts_requested)


async def test_read_returns_at_most_size_and_keeps_the_rest() -> None:
    printer = FakeUsbPrinter()
    transport = await open_printer(printer)
    await transport.write(b"\x10\x04\x01\x10\x04\x02")
    assert await transport.read(1, 1.0) == b"\x12"
    assert await transport.read(1, 1.0) == b"\x12"
    await transport.close()


async def test_printer_without_in_endpoint_reads_nothing() -> None:
    transport = await open_printer(generic_pos58())
    assert transport.interface.in_endpoint is None
    with within(0.5):
        assert await transport.read(1, 5.0) == b""
    await transport.write(b"ok")
    await transport.close()


async def test_stalled_write_times_out() -> None:
    printer = FakeUsbPrinter(accepts_writes=False)
    transport = await open_printer(printer)
    with within(1.5), pytest.raises(TransportTimeout) as caught:
        await transport.write(b"x" * 10, timeout=0.2)
    assert caught.value.code == "write_timeout"
    await transport.close()


async def test_access_denied_says_what_to_do() -> None:
    with pytest.raises(AccessDenied) as caught:
        await open_printer(FakeUsbPrinter(access_denied=True))
    message = caught.value.message
    if "udev" in access_denied_message(0x04B8):  # Linux wording
        assert 'SUBSYSTEM=="usb", ATTRS{idVendor}=="04b8", MODE="0660", GROUP="lp"' in message
        assert "group lp" in message
    assert caught.value.code == "access_denied"


def test_access_denied_message_per_platform() -> None:
    linux = access_denied_message(0x0416, "linux")
    assert 'ATTRS{idVendor}=="0416"' in linux
    assert "usermod -aG lp" in linux
    windows = access_denied_message(0x0416, "win32")
    assert "keep the driver" in windows and "print queue" in windows
    assert "Zadig" not in windows and "WinUSB" not in windows  # never replace the driver


async def test_printer_held_by_another_program_is_busy() -> None:
    with pytest.raises(DeviceBusy) as caught:
        await open_printer(FakeUsbPrinter(held_elsewhere=True))
    assert "print through the queue" in caught.value.message
    assert "rmmod" not in caught.value.message
    assert "another program" in caught.value.message
    assert caught.value.code == "device_busy"


async def test_second_open_of_the_same_printer_is_busy() -> None:
    printer = FakeUsbPrinter()
    backend = FakeUsbBackend([printer])
    first = await UsbTransport.open(printer.vendor_id, printer.product_id, backend=backend)
    with pytest.raises(DeviceBusy):
        await UsbTransport.open(printer.vendor_id, printer.product_id, backend=backend)
    await first.close()


async def test_missing_printer_is_not_found() -> None:
    backend = FakeUsbBackend([FakeUsbPrinter()])
    with pytest.raises(PrinterNotFound):
        await UsbTransport.open(0x04B8, 0x0E15, serial="OTHER", backend=backend)
    with pytest.raises(PrinterNotFound):
        await UsbTransport.open(0x0519, 0x0001, backend=backend)


async def test_unit_is_chosen_by_serial_then_path() -> None:
    a = FakeUsbPrinter(serial="A1", port_numbers=(1,))
    b = FakeUsbPrinter(serial="B2", port_numbers=(2,))
    backend = FakeUsbBackend([a, b])
    by_serial = await UsbTransport.open(0x04B8, 0x0E15, serial="B2", backend=backend)
    assert by_serial.path == "1-2"
    await by_serial.close()
    by_path = await UsbTransport.open(0x04B8, 0x0E15, usb_path="1-1", backend=backend)
    await by_path.write(b"x")
    await by_path.close()
    assert a.brain.raw == b"x"


async def test_unplugged_printer_raises_not_found() -> None:
    printer = FakeUsbPrinter()
    transport = await open_printer(printer)
    printer.brain.set_state(SimState.POWERED_OFF)
    with pytest.raises(PrinterNotFound):
        await transport.write(b"x")
    with pytest.raises(PrinterNotFound):
        await transport.read(1, 0.1)
    await transport.close()  # nothing to release, no error


async def test_closed_transport_refuses_io() -> None:
    transport = await open_printer(FakeUsbPrinter())
    await transport.close()
    with pytest.raises(TransportClosed):
        await transport.write(b"x")


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (errno.EACCES, AccessDenied),
        (errno.EBUSY, DeviceBusy),
        (errno.ENODEV, PrinterNotFound),
        (errno.ETIMEDOUT, TransportTimeout),
        (errno.EIO, TransportError),
    ],
)
def test_errno_translation(code: int, expected: type[TransportError]) -> None:
    error = translate_usb_error(usb.core.USBError("boom", -1, code), 0x04B8)
    assert type(error) is expected


def test_timeout_and_missing_backend_translation() -> None:
    assert isinstance(translate_usb_error(usb.core.USBTimeoutError("t", -7, 110)), TransportTimeout)
    missing = translate_usb_error(usb.core.NoBackendError("No backend available"))
    assert missing.code == "usb_backend_missing"
    assert "libusb" in missing.message
