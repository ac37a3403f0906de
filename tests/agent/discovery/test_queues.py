"""OS queues in discovery: stable ids, receipt marks, one entry per physical printer, the path."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from agent.discovery.queues import (
    cups_candidate,
    discover_cups,
    discover_windows,
    looks_like_receipt_printer,
    queue_printer_id,
    reconcile,
)
from agent.scanner import Scanner
from agent.settings import AgentSettings
from agent.simulators import fake_win32print
from agent.simulators.fake_win32print import FakeSpooler
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.usb_backend import FakeUsbBackend, FakeUsbPrinter
from agent.transports.cups_server import CupsServer
from shared.printers import Connection, DiscoverySource, PrintPath
from tests.agent.support import free_port
from tests.cupsd import CupsDaemon


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    printer = SimulatedNetworkPrinter(name="Kitchen")
    await printer.start()
    yield printer
    await printer.stop()


@pytest.fixture
def spooler() -> Iterator[FakeSpooler]:
    fake = fake_win32print.install()
    yield fake
    fake_win32print.uninstall()


def _settings(**changes: object) -> AgentSettings:
    return AgentSettings(mdns=False, usb=False).with_changes(**changes)


async def test_cups_queues_are_listed_with_stable_ids(
    cupsd: CupsDaemon, sim: SimulatedNetworkPrinter
) -> None:
    uri = f"socket://127.0.0.1:{sim.port}"
    await cupsd.add_raw_queue("kitchen", uri, "-D", "Kitchen TM-T20")
    first = await discover_cups(cupsd.server)
    second = await discover_cups(cupsd.socket_server)
    assert [p.printer_id for p in first] == [p.printer_id for p in second]
    [kitchen] = first
    assert kitchen.printer_id == queue_printer_id("cups", "kitchen", uri)
    assert kitchen.printer_id.startswith("cups:kitchen:socket")
    assert str(sim.port) in kitchen.printer_id
    assert kitchen.name == "Kitchen TM-T20"
    assert kitchen.source is DiscoverySource.QUEUE
    assert kitchen.queue is not None and kitchen.queue.receipt  # a raw queue
    assert (kitchen.connection, kitchen.host, kitchen.port) == (
        Connection.NETWORK,
        "127.0.0.1",
        sim.port,
    )
    assert kitchen.path is PrintPath.CUPS


async def test_a_queue_repointed_elsewhere_is_another_printer() -> None:
    a = queue_printer_id("cups", "kitchen", "socket://10.0.0.5:9100")
    b = queue_printer_id("cups", "kitchen", "socket://10.0.0.6:9100")
    assert a != b
    odd = queue_printer_id("windows", "EPSON TM-T20III Receipt", "USB001")
    assert odd == queue_printer_id("windows", "EPSON TM-T20III Receipt", "USB001")
    assert odd != queue_printer_id("windows", "EPSON_TM-T20III_Receipt", "USB001")


async def test_no_cups_here_is_no_queues_but_a_configured_dead_server_is_an_error() -> None:
    dead = free_port()
    assert await discover_cups(CupsServer("127.0.0.1", dead, configured=False)) == []
    with pytest.raises(Exception, match="cupsd running"):
        await discover_cups(CupsServer("127.0.0.1", dead, configured=True))


def test_receipt_heuristics() -> None:
    for name in ("EPSON TM-T20III Receipt5", "Star TSP100 Cutter", "BIXOLON SRP-350III",
                 "CITIZEN CT-S310II", "POS-58", "XP-80C", "Generic / Text Only",
                 "Local Raw Printer"):  # fmt: skip
        assert looks_like_receipt_printer(name), name
    for name in ("HP LaserJet Pro M404", "Microsoft Print to PDF", "Brother HL-L2350DW", None):
        assert not looks_like_receipt_printer(name), name


async def test_windows_printers_are_listed_with_driver_and_port(spooler: FakeSpooler) -> None:
    spooler.add_port("USB001", bidirectional=True)
    spooler.add_printer("EPSON TM-T20III Receipt", "USB001", driver="EPSON TM-T20III Receipt5",
                        bidi=True)  # fmt: skip
    spooler.add_printer("Office", "IP_10.0.0.9", driver="HP Universal Printing PCL 6")
    found = {p.name: p for p in await discover_windows()}
    epson, office = found["EPSON TM-T20III Receipt"], found["Office"]
    assert epson.printer_id == "win:EPSON_TM-T20III_Receipt:USB001-" + epson.printer_id[-8:]
    assert epson.queue is not None and epson.queue.receipt and epson.queue.bidirectional
    assert epson.queue.driver == "EPSON TM-T20III Receipt5"
    assert epson.connection is Connection.USB and epson.path is PrintPath.SPOOLER
    assert office.queue is not None and not office.queue.receipt
    assert (office.connection, office.host, office.port) == (Connection.NETWORK, "10.0.0.9", 9100)


async def test_a_usb_printer_held_by_cups_appears_once_as_its_queue(
    cupsd: CupsDaemon, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUPS_SERVER", cupsd.address)
    await cupsd.add_raw_queue("tm-t20", "usb://EPSON/TM-T20II?serial=S1")
    backend = FakeUsbBackend([FakeUsbPrinter(serial="S1"), FakeUsbPrinter(serial="S2")])
    scanner = Scanner(_settings(usb=True), backend)
    report = await scanner.scan()
    ids = sorted(p.printer_id for p in scanner.tracker.printers.values())
    assert ids == [queue_printer_id("cups", "tm-t20", "usb://EPSON/TM-T20II?serial=S1"),
                   "usb:04b8:0e15:S2"], report  # fmt: skip
    held = scanner.tracker.get(ids[0])
    assert held is not None
    assert (held.vendor_id, held.serial) == (0x04B8, "S1")
    assert held.path is PrintPath.CUPS and held.paths == [PrintPath.CUPS, PrintPath.DIRECT]
    again = await scanner.scan()
    assert not again.diff and len(scanner.tracker.printers) == 2


async def test_a_usb_printer_held_by_the_windows_driver_appears_once(spooler: FakeSpooler) -> None:
    spooler.add_port("USB001", bidirectional=True)
    spooler.add_printer("EPSON TM-T20II Receipt", "USB001", driver="EPSON TM-T20II Receipt5")
    backend = FakeUsbBackend([FakeUsbPrinter(serial=None)])
    scanner = Scanner(_settings(usb=True), backend)
    await scanner.scan()
    [printer] = scanner.tracker.printers.values()
    assert printer.printer_id.startswith("win:EPSON_TM-T20II_Receipt:USB001")
    assert printer.path is PrintPath.SPOOLER and printer.vendor_id == 0x04B8


async def test_a_network_printer_found_both_ways_gets_the_direct_path(
    cupsd: CupsDaemon, sim: SimulatedNetworkPrinter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUPS_SERVER", cupsd.address)
    await cupsd.add_raw_queue("kitchen", f"socket://127.0.0.1:{sim.port}")
    scanner = Scanner(_settings(manual_printers=(f"127.0.0.1:{sim.port}",)))
    await scanner.scan()
    [printer] = scanner.tracker.printers.values()
    assert printer.printer_id == sim.printer_id
    assert printer.path is PrintPath.DIRECT
    assert printer.paths == [PrintPath.DIRECT, PrintPath.CUPS]
    assert printer.queue is not None and printer.queue.name == "kitchen"
    # The direct method failing for a scan does not make the queue a second printer.
    scanner.settings = scanner.settings.with_changes(manual_printers=())
    await scanner.scan()
    assert list(scanner.tracker.printers) == [sim.printer_id]


async def test_the_path_choice_is_applied_and_keeps_the_id(
    cupsd: CupsDaemon, sim: SimulatedNetworkPrinter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CUPS_SERVER", cupsd.address)
    await cupsd.add_raw_queue("kitchen", f"socket://127.0.0.1:{sim.port}")
    choice = (f"{sim.printer_id}=queue",)
    scanner = Scanner(_settings(manual_printers=(f"127.0.0.1:{sim.port}",), printer_paths=choice))
    await scanner.scan()
    [printer] = scanner.tracker.printers.values()
    assert printer.printer_id == sim.printer_id and printer.path is PrintPath.CUPS


def test_two_queues_on_one_device_are_one_printer() -> None:
    raw = cups_candidate({"printer-name": "tm-raw", "device-uri": "usb://EPSON/TM?serial=X",
                          "printer-make-and-model": "Local Raw Printer"})  # fmt: skip
    text = cups_candidate({"printer-name": "tm-text", "device-uri": "usb://EPSON/TM?serial=X",
                           "printer-make-and-model": "HP LaserJet"})  # fmt: skip
    assert [p.printer_id for p in reconcile([text, raw])] == [raw.printer_id]
