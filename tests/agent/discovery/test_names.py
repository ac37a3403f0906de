"""A printer is never called after its address when a better name is known (issue 17, 2)."""

from __future__ import annotations

import pytest

from agent.discovery.manual import ManualEntryError, manual_printer, split_name
from agent.discovery.network import fallback_name, has_fallback_name, network_printer
from agent.discovery.tracker import PrinterTracker
from shared.printers import DiscoverySource

MDNS = DiscoverySource.MDNS
PID = "net:127.0.0.1:46575"


def test_named_manual_entries() -> None:
    assert split_name("Kitchen=127.0.0.1:46575") == ("Kitchen", "127.0.0.1:46575")
    assert split_name("127.0.0.1") == (None, "127.0.0.1")
    info = manual_printer("Front counter=127.0.0.1:46575")
    assert (info.printer_id, info.name) == (PID, "Front counter")
    with pytest.raises(ManualEntryError):
        manual_printer(" =127.0.0.1")


def test_address_names_tell_printers_apart() -> None:
    assert fallback_name("10.0.0.5") == "Network printer 10.0.0.5"
    assert fallback_name("127.0.0.1", 46575) == "Network printer 127.0.0.1:46575"
    assert manual_printer("127.0.0.1:46575").name != manual_printer("127.0.0.1:46576").name
    assert has_fallback_name(manual_printer("127.0.0.1:46575"))
    assert not has_fallback_name(manual_printer("Bar=127.0.0.1:46575"))


def test_an_announced_name_beats_an_unnamed_manual_entry_in_either_order() -> None:
    announced = network_printer("127.0.0.1", 46575, MDNS, name="Kitchen")
    for first, then in (
        (manual_printer("127.0.0.1:46575"), announced),
        (announced, manual_printer("127.0.0.1:46575")),
    ):
        tracker = PrinterTracker()
        tracker.observe([first, then])
        assert tracker.printers[PID].name == "Kitchen"
        tracker.observe([manual_printer("127.0.0.1:46575")])  # mDNS missed a scan
        assert tracker.printers[PID].name == "Kitchen"


def test_a_typed_name_still_beats_an_announced_one() -> None:
    tracker = PrinterTracker()
    tracker.observe([network_printer("127.0.0.1", 46575, MDNS, name="TM-T88V-1234")])
    tracker.observe([manual_printer("Bar=127.0.0.1:46575")])
    assert tracker.printers[PID].name == "Bar"
