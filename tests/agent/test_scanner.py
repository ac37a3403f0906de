"""The scanner: every method at once; failures never count as misses."""

from __future__ import annotations

from agent.scanner import Scanner
from agent.settings import AgentSettings
from agent.simulators.network import SimulatedNetworkPrinter
from agent.simulators.usb_backend import FakeUsbBackend, FakeUsbPrinter
from shared.printers import DiscoverySource


async def test_sweep_manual_and_usb_in_one_scan() -> None:
    async with SimulatedNetworkPrinter() as sim, SimulatedNetworkPrinter() as other:
        settings = AgentSettings(
            manual_printers=(f"127.0.0.1:{other.port}",),
            subnets=("127.0.0.0/24",),
            sweep_port=sim.port,
            mdns=False,
        )
        scanner = Scanner(settings, FakeUsbBackend([FakeUsbPrinter(serial="S1")]))
        report = await scanner.scan()
        ids = {p.printer_id for p in report.diff.added}
        assert sim.printer_id in ids
        assert other.printer_id in ids
        assert any(i.startswith("usb:04b8:0e15:S1") for i in ids)
        assert report.found[DiscoverySource.SWEEP] == 1
        assert report.errors == {}


async def test_failed_method_does_not_remove_printers() -> None:
    backend = FakeUsbBackend([FakeUsbPrinter(serial="S1")])
    scanner = Scanner(AgentSettings(mdns=False), backend)
    assert len((await scanner.scan()).diff.added) == 1

    async def broken() -> list:  # type: ignore[type-arg]
        raise OSError("libusb exploded")

    scanner.methods = lambda: {DiscoverySource.USB: broken}  # type: ignore[method-assign]
    for _ in range(5):
        report = await scanner.scan()
        assert report.errors[DiscoverySource.USB] == "libusb exploded"
        assert report.diff.removed == ()
    assert len(scanner.tracker.printers) == 1


async def test_printer_gone_after_three_missed_scans() -> None:
    device = FakeUsbPrinter(serial="S1")
    backend = FakeUsbBackend([device])
    scanner = Scanner(AgentSettings(mdns=False), backend)
    await scanner.scan()
    device.brain.set_state("powered_off")
    removed = [bool((await scanner.scan()).diff.removed) for _ in range(3)]
    assert removed == [False, False, True]


async def test_bad_manual_entry_is_reported() -> None:
    scanner = Scanner(AgentSettings(mdns=False, usb=False, manual_printers=("bad host:x",)))
    report = await scanner.scan()
    assert "manual printer entry" in report.errors[DiscoverySource.MANUAL]
