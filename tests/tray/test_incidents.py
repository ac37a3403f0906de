"""IncidentNotifier: once per incident, the hub only after a minute — with a fake clock, no Qt."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.tray.incidents import IncidentNotifier
from agent.tray.snapshot import CoreSnapshot
from shared.printers import Connection, DiscoverySource, PrinterInfo, PrinterState, PrinterStatus


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def printer(state: PrinterState, printer_id: str = "net:10.0.0.5:9100") -> PrinterInfo:
    return PrinterInfo(
        printer_id=printer_id,
        name="Kitchen",
        connection=Connection.NETWORK,
        source=DiscoverySource.MANUAL,
        host="10.0.0.5",
        port=9100,
        status=PrinterStatus(state=state, checked_at=datetime.now(UTC)),
    )


def snap(*printers: PrinterInfo, link: str = "connected") -> CoreSnapshot:
    return CoreSnapshot("agent-1", "http://hub", True, link, None, tuple(printers))


def test_a_printer_incident_is_announced_once_until_it_ends() -> None:
    notifier = IncidentNotifier(Clock())
    assert notifier.observe(snap(printer(PrinterState.ONLINE))) == []
    first = notifier.observe(snap(printer(PrinterState.PAPER_OUT)))
    assert [n.title for n in first] == ["Printer out of paper"]
    assert notifier.observe(snap(printer(PrinterState.PAPER_OUT))) == []
    assert notifier.observe(snap(printer(PrinterState.ONLINE))) == []
    again = notifier.observe(snap(printer(PrinterState.PAPER_OUT)))
    assert [n.title for n in again] == ["Printer out of paper"]


def test_a_different_bad_state_is_a_new_incident() -> None:
    notifier = IncidentNotifier(Clock())
    notifier.observe(snap(printer(PrinterState.COVER_OPEN)))
    titles = [n.title for n in notifier.observe(snap(printer(PrinterState.OFFLINE)))]
    assert titles == ["Printer offline"]


def test_paper_low_does_not_notify() -> None:
    notifier = IncidentNotifier(Clock())
    assert notifier.observe(snap(printer(PrinterState.PAPER_NEAR_END))) == []


def test_the_hub_outage_is_announced_after_a_minute_once_then_its_end() -> None:
    clock = Clock()
    notifier = IncidentNotifier(clock)
    assert notifier.observe(snap(link="disconnected")) == []
    clock.now += 59
    assert notifier.tick() == []
    clock.now += 2
    assert [n.title for n in notifier.tick()] == ["Hub connection lost"]
    clock.now += 300
    assert notifier.tick() == []
    assert notifier.observe(snap(link="disconnected")) == []
    back = notifier.observe(snap(link="connected"))
    assert [(n.title, n.warning) for n in back] == [("Hub connection restored", False)]


def test_a_short_outage_says_nothing() -> None:
    clock = Clock()
    notifier = IncidentNotifier(clock)
    notifier.observe(snap(link="disconnected"))
    clock.now += 30
    assert notifier.observe(snap(link="connected")) == []
    clock.now += 100
    assert notifier.tick() == []


def test_an_unpaired_agent_has_no_hub_incident() -> None:
    clock = Clock()
    notifier = IncidentNotifier(clock)
    notifier.observe(CoreSnapshot("agent-1", None, False))
    clock.now += 3600
    assert notifier.tick() == []
