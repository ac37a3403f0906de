"""The fake pyusb backend behaves like libusb where it matters."""

from __future__ import annotations

import errno
import time

import pytest
import usb.core
import usb.util

from agent.simulators.usb_backend import FakeUsbBackend, FakeUsbPrinter


def device(printer: FakeUsbPrinter) -> usb.core.Device:
    dev = usb.core.find(backend=FakeUsbBackend([printer]))
    assert dev is not None
    return dev


def test_descriptors_and_strings_through_pyusb() -> None:
    dev = device(FakeUsbPrinter())
    assert (dev.idVendor, dev.idProduct) == (0x04B8, 0x0E15)
    assert (dev.manufacturer, dev.product, dev.serial_number) == (
        "EPSON",
        "TM-T20II (simulated)",
        "SIM0001",
    )
    intf = dev.get_active_configuration()[(0, 0)]
    assert intf.bInterfaceClass == 7
    assert [ep.bEndpointAddress for ep in intf] == [0x03, 0x84]
    usb.util.dispose_resources(dev)


def test_read_without_data_times_out_like_libusb() -> None:
    dev = device(FakeUsbPrinter())
    started = time.monotonic()
    with pytest.raises(usb.core.USBTimeoutError) as caught:
        dev.read(0x84, 64, 50)
    assert caught.value.errno == errno.ETIMEDOUT
    assert 0.04 < time.monotonic() - started < 1.0
    usb.util.dispose_resources(dev)


def test_timeout_zero_is_refused_instead_of_hanging() -> None:
    dev = device(FakeUsbPrinter())
    with pytest.raises(ValueError, match="forever"):
        dev.read(0x84, 64, 0)
    usb.util.dispose_resources(dev)


def test_status_reply_comes_back_on_the_in_endpoint() -> None:
    dev = device(FakeUsbPrinter())
    dev.write(0x03, b"\x10\x04\x01", 100)
    assert bytes(dev.read(0x84, 64, 100)) == b"\x12"
    usb.util.dispose_resources(dev)


def test_assumed_endpoints_fail() -> None:
    dev = device(FakeUsbPrinter())
    with pytest.raises(ValueError, match="Invalid endpoint"):
        dev.write(0x01, b"x", 100)
    usb.util.dispose_resources(dev)


def test_kernel_driver_blocks_until_detached() -> None:
    printer = FakeUsbPrinter(kernel_driver_active=True)
    dev = device(printer)
    with pytest.raises(usb.core.USBError) as caught:
        usb.util.claim_interface(dev, 0)
    assert caught.value.errno == errno.EBUSY
    assert dev.is_kernel_driver_active(0)
    dev.detach_kernel_driver(0)
    usb.util.claim_interface(dev, 0)
    usb.util.dispose_resources(dev)


def test_access_denied_on_open() -> None:
    dev = device(FakeUsbPrinter(access_denied=True))
    with pytest.raises(usb.core.USBError) as caught:
        usb.util.claim_interface(dev, 0)
    assert caught.value.errno == errno.EACCES
    # Like libusb: pyusb swallows the error reading LANGIDs and then gives up on strings.
    with pytest.raises(ValueError, match="no langid"):
        dev.serial_number  # noqa: B018 - the property opens the device
