"""USB discovery on the fake pyusb backend."""

from __future__ import annotations

from typing import Any

import pytest

from agent.discovery.usb import clean_serial, discover_usb, scan_usb, usb_printer_id
from agent.simulators.brain import SimState
from agent.simulators.usb_backend import (
    FakeUsbBackend,
    FakeUsbPrinter,
    epson_vendor_class,
    generic_pos58,
)
from shared.printers import Connection, DiscoverySource


def keyboard(**overrides: Any) -> FakeUsbPrinter:
    """A HID device that is not a printer (no bulk OUT endpoint)."""
    return FakeUsbPrinter(
        **{"vendor_id": 0x046D, "product_id": 0xC31C, "interface_class": 3, **overrides}
    )


def st_link() -> FakeUsbPrinter:
    """An STM debugger: generic-chip vendor id, vendor-specific bulk interface, not a printer."""
    return FakeUsbPrinter(vendor_id=0x0483, product_id=0x3748, interface_class=0xFF)


def test_class_7_printer_is_found_with_its_strings() -> None:
    [info] = scan_usb(FakeUsbBackend([FakeUsbPrinter()]))
    assert info.printer_id == "usb:04b8:0e15:SIM0001"
    assert info.connection is Connection.USB
    assert info.source is DiscoverySource.USB
    assert (info.vendor_id, info.product_id, info.serial) == (0x04B8, 0x0E15, "SIM0001")
    assert info.name == "EPSON TM-T20II (simulated)"
    assert info.manufacturer == "EPSON"
    assert info.usb_path == "1-2"
    assert info.profile == "TM-T20II"  # chosen by its model, not its vendor


def test_vendor_specific_epson_is_found() -> None:
    [info] = scan_usb(FakeUsbBackend([epson_vendor_class()]))
    assert info.printer_id == "usb:04b8:0202:EPSONVC01"


def test_non_printers_are_ignored() -> None:
    found = scan_usb(FakeUsbBackend([keyboard(), st_link(), generic_pos58()]))
    assert [p.vendor_id for p in found] == [0x0416]


def test_printer_without_serial_gets_a_path_id() -> None:
    [info] = scan_usb(FakeUsbBackend([generic_pos58()]))
    assert info.printer_id == "usb:0416:5011:path-1-1.4"
    assert info.paper_width_mm == 58


def test_access_denied_printer_is_still_reported() -> None:
    [info] = scan_usb(FakeUsbBackend([FakeUsbPrinter(access_denied=True)]))
    assert info.printer_id == "usb:04b8:0e15:path-1-2"
    assert info.serial is None
    assert info.name == "Epson 04b8:0e15"
    assert info.manufacturer == "Epson"


def test_clones_sharing_a_serial_are_told_apart_by_path() -> None:
    a = generic_pos58(serial="123456", port_numbers=(1,))
    b = generic_pos58(serial="123456", port_numbers=(2,))
    ids = sorted(p.printer_id for p in scan_usb(FakeUsbBackend([a, b])))
    assert ids == ["usb:0416:5011:path-1-1", "usb:0416:5011:path-1-2"]


def test_id_is_stable_across_scans_and_ports() -> None:
    printer = FakeUsbPrinter()
    backend = FakeUsbBackend([printer])
    first = scan_usb(backend)
    printer.port_numbers = (4, 1)  # replugged elsewhere
    assert [p.printer_id for p in scan_usb(backend)] == [p.printer_id for p in first]


def test_unplugged_printer_disappears() -> None:
    printer = FakeUsbPrinter()
    backend = FakeUsbBackend([printer])
    printer.brain.set_state(SimState.POWERED_OFF)
    assert scan_usb(backend) == []


def test_discovery_leaves_the_printer_unclaimed() -> None:
    printer = FakeUsbPrinter()
    scan_usb(FakeUsbBackend([printer]))
    assert printer.claimed == set()


@pytest.mark.parametrize(
    ("serial", "expected"),
    [
        ("SN 12/34", "SN_12_34"),
        ("  ", None),
        ("", None),
        (None, None),
        ("///", None),
        ("x" * 100, "x" * 64),
    ],
)
def test_clean_serial(serial: str | None, expected: str | None) -> None:
    assert clean_serial(serial) == expected


def test_printer_id_format() -> None:
    assert usb_printer_id(0x4B8, 0x202, "A:B", "1-2") == "usb:04b8:0202:A_B"
    assert usb_printer_id(0x4B8, 0x202, None, "3-1.2") == "usb:04b8:0202:path-3-1.2"


async def test_discover_usb_runs_in_a_thread() -> None:
    found = await discover_usb(FakeUsbBackend([FakeUsbPrinter(), epson_vendor_class()]), 5.0)
    assert len(found) == 2
