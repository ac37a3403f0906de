"""The tracker: no duplicates on rediscovery, removal only after three missed scans."""

from __future__ import annotations

import pytest

from agent.discovery.manual import manual_printer
from agent.discovery.network import network_printer
from agent.discovery.tracker import PrinterTracker, ScanDiff
from shared.printers import Connection, DiscoverySource, PrinterInfo, PrinterState, PrinterStatus

USB = DiscoverySource.USB
MDNS = DiscoverySource.MDNS
SWEEP = DiscoverySource.SWEEP


def usb_printer(serial: str = "SN1", name: str = "TM-T20II") -> PrinterInfo:
    return PrinterInfo(
        printer_id=f"usb:04b8:0e15:{serial}",
        name=name,
        connection=Connection.USB,
        source=USB,
        vendor_id=0x04B8,
        product_id=0x0E15,
        serial=serial,
    )


def ids(printers: tuple[PrinterInfo, ...]) -> list[str]:
    return [p.printer_id for p in printers]


def test_first_sighting_is_added_then_nothing_changes() -> None:
    tracker = PrinterTracker()
    assert ids(tracker.observe([usb_printer()]).added) == ["usb:04b8:0e15:SN1"]
    for _ in range(5):
        assert not tracker.observe([usb_printer()])
    assert list(tracker.printers) == ["usb:04b8:0e15:SN1"]


def test_duplicates_within_one_scan_are_one_printer() -> None:
    tracker = PrinterTracker()
    diff = tracker.observe([usb_printer(), usb_printer(name="renamed")])
    assert ids(diff.added) == ["usb:04b8:0e15:SN1"]
    assert diff.updated == ()
    assert len(tracker.printers) == 1


def test_removed_only_after_three_missed_scans() -> None:
    tracker = PrinterTracker()
    tracker.observe([usb_printer()], [USB])
    assert tracker.observe([], [USB]) == ScanDiff()
    assert tracker.observe([], [USB]) == ScanDiff()
    diff = tracker.observe([], [USB])
    assert ids(diff.removed) == ["usb:04b8:0e15:SN1"]
    assert tracker.printers == {}


def test_a_sighting_resets_the_count() -> None:
    tracker = PrinterTracker()
    tracker.observe([usb_printer()], [USB])
    for _ in range(10):  # flapping: missed twice, seen once
        tracker.observe([], [USB])
        tracker.observe([], [USB])
        assert not tracker.observe([usb_printer()], [USB]).added
    assert "usb:04b8:0e15:SN1" in tracker.printers


def test_scans_of_other_sources_are_not_misses() -> None:
    tracker = PrinterTracker()
    tracker.observe([usb_printer()], [USB])
    for _ in range(5):
        assert not tracker.observe([], [MDNS, SWEEP]).removed
    assert "usb:04b8:0e15:SN1" in tracker.printers


def test_a_printer_found_two_ways_goes_only_when_both_lose_it() -> None:
    tracker = PrinterTracker()
    by_mdns = network_printer("10.0.0.5", 9100, MDNS, name="Kitchen")
    by_sweep = network_printer("10.0.0.5", 9100, SWEEP)
    tracker.observe([by_mdns, by_sweep], [MDNS, SWEEP])
    for _ in range(3):
        assert not tracker.observe([by_sweep], [MDNS, SWEEP]).removed  # mDNS lost it
    for _ in range(2):
        assert not tracker.observe([], [SWEEP]).removed
    assert ids(tracker.observe([], [SWEEP]).removed) == ["net:10.0.0.5:9100"]


def test_better_sources_name_the_printer_and_sweeps_do_not_flap_it() -> None:
    tracker = PrinterTracker()
    tracker.observe([network_printer("10.0.0.5", 9100, SWEEP)])
    diff = tracker.observe([network_printer("10.0.0.5", 9100, MDNS, name="Kitchen", model="TM")])
    assert [p.name for p in diff.updated] == ["Kitchen"]
    for _ in range(3):
        assert not tracker.observe([network_printer("10.0.0.5", 9100, SWEEP)])
    info = tracker.get("net:10.0.0.5:9100")
    assert info is not None
    assert (info.name, info.model, info.source) == ("Kitchen", "TM", SWEEP)


def test_manual_name_wins() -> None:
    tracker = PrinterTracker()
    tracker.observe([manual_printer("10.0.0.5", name="Bar")])
    tracker.observe([network_printer("10.0.0.5", 9100, MDNS, name="TM-T88V-1234")])
    assert tracker.printers["net:10.0.0.5:9100"].name == "Bar"


def test_status_changes_are_kept_but_not_updates() -> None:
    tracker = PrinterTracker()
    tracker.observe([network_printer("10.0.0.5", 9100, SWEEP)])
    paper_out = PrinterStatus(state=PrinterState.PAPER_OUT, online=False, paper_out=True)
    diff = tracker.observe([network_printer("10.0.0.5", 9100, SWEEP, status=paper_out)])
    assert not diff
    assert tracker.printers["net:10.0.0.5:9100"].status == paper_out


def test_real_changes_are_updates() -> None:
    tracker = PrinterTracker()
    tracker.observe([usb_printer()])
    moved = usb_printer().model_copy(update={"usb_path": "1-4"})
    assert ids(tracker.observe([moved]).updated) == ["usb:04b8:0e15:SN1"]


def test_forget() -> None:
    tracker = PrinterTracker()
    tracker.observe([usb_printer()])
    assert tracker.forget("usb:04b8:0e15:SN1") is not None
    assert tracker.forget("usb:04b8:0e15:SN1") is None


def test_misses_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        PrinterTracker(0)
