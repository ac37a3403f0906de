"""Drawer and buzzer on the agent, against a simulated printer over TCP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from agent.actions import ActionRunner
from agent.coordinator import PrinterCoordinator
from agent.simulators.brain import PrinterBrain, SimState
from agent.simulators.network import SimulatedNetworkPrinter
from agent.transports import Transport, open_transport
from shared.events import PrinterBuzzRequest, PrinterDrawerRequest
from shared.printers import PrinterInfo
from tests.e2e.support import eventually


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter() as printer:
        yield printer


async def _open(info: PrinterInfo, timeout: float) -> Transport:
    return await open_transport(info, timeout=timeout)


def runner(sim: SimulatedNetworkPrinter, **info: object) -> tuple[ActionRunner, PrinterCoordinator]:
    printer = sim.printer_info().model_copy(update=info)
    coordinator = PrinterCoordinator(printer, _open, io_timeout=1.0)
    return ActionRunner(
        lambda pid: coordinator if pid == printer.printer_id else None, lambda: "a1"
    ), coordinator


def drawer(
    sim: SimulatedNetworkPrinter, corr: str = "corr-drawer-1", pin: int = 2
) -> PrinterDrawerRequest:
    return PrinterDrawerRequest(correlation_id=corr, printer_id=sim.printer_id, pin=pin)  # type: ignore[arg-type]


async def test_drawer_opens_with_esc_p_when_ready(sim: SimulatedNetworkPrinter) -> None:
    actions, coordinator = runner(sim)
    result = await actions.run(drawer(sim, pin=5))
    assert result.success and result.action == "drawer" and result.agent_id == "a1"
    [pulse] = await eventually(lambda: sim.brain.pulses)
    assert (pulse.pin, pulse.command, pulse.on_ms) == (5, "ESC p", 100)
    await coordinator.close()


@pytest.mark.parametrize("fault", [SimState.PAPER_OUT, SimState.COVER_OPEN, SimState.OFFLINE])
async def test_drawer_opens_while_paper_is_out_or_cover_open(
    sim: SimulatedNetworkPrinter, fault: SimState
) -> None:
    sim.set_state(fault)
    actions, coordinator = runner(sim)
    result = await actions.run(drawer(sim))
    assert result.success, result.error
    assert result.status is not None and result.status.state == fault.value
    [pulse] = await eventually(lambda: sim.brain.pulses)
    assert (pulse.pin, pulse.command, pulse.state) == (2, "DLE DC4", fault)
    sim.set_state(SimState.OK)
    assert sim.brain.pulses == [pulse]  # nothing held back fires once the paper is in
    await coordinator.close()


async def test_one_correlation_id_opens_once(sim: SimulatedNetworkPrinter) -> None:
    actions, coordinator = runner(sim)
    first = await actions.run(drawer(sim))
    second = await actions.run(drawer(sim))
    await eventually(lambda: sim.brain.pulses)
    assert first == second and len(sim.brain.pulses) == 1
    await coordinator.close()


async def test_unreachable_printer_is_refused(sim: SimulatedNetworkPrinter) -> None:
    sim.set_state(SimState.POWERED_OFF)
    actions, coordinator = runner(sim)
    result = await actions.run(drawer(sim))
    assert not result.success and result.error is not None
    assert result.error.code == "printer_unreachable"
    await coordinator.close()


async def test_buzzer_only_where_there_is_one(sim: SimulatedNetworkPrinter) -> None:
    request = PrinterBuzzRequest(correlation_id="corr-buzz-1", printer_id=sim.printer_id, times=2)
    actions, coordinator = runner(sim, model="POS-5890")
    result = await actions.run(request)
    assert result.error is not None and result.error.code == "no_buzzer"
    await coordinator.close()
    actions, coordinator = runner(sim, model="TM-m30II")
    assert (await actions.run(request)).success
    await eventually(lambda: b"\x1b(A\x04\x000\x01\x02\x02" in sim.brain.printed)
    await coordinator.close()


async def test_unknown_printer(sim: SimulatedNetworkPrinter) -> None:
    actions, _ = runner(sim)
    other = PrinterDrawerRequest(correlation_id="corr-x-1", printer_id="tcp:127.0.0.9:1")
    assert (await actions.run(other)).error.code == "unknown_printer"  # type: ignore[union-attr]


async def test_star_mode_printer_gets_star_commands() -> None:
    brain = PrinterBrain(mode="star")
    async with SimulatedNetworkPrinter(brain=brain) as star:
        actions, coordinator = runner(star, status_channel="star")  # known from discovery
        assert (await actions.run(drawer(star))).success
        await eventually(lambda: b"\x1b\x07\x0a\x32\x07" in brain.printed)  # ESC BEL, BEL
        assert [p.command for p in brain.pulses] == ["BEL"]
        await coordinator.close()


async def test_a_detected_star_printer_gets_star_drawer_commands_while_paper_is_out() -> None:
    brain = PrinterBrain(SimState.PAPER_OUT, mode="star")
    async with SimulatedNetworkPrinter(brain=brain) as star:
        actions, coordinator = runner(star)  # no channel given: detected at first contact
        result = await actions.run(drawer(star, corr="corr-drawer-star"))
        assert result.success, result.error
        assert coordinator.info.status_channel == "star"
        assert result.status is not None and result.status.state == "paper_out"
        [pulse] = await eventually(lambda: brain.pulses)
        assert (pulse.pin, pulse.command, pulse.on_ms) == (2, "FS", 100)  # real time: ESC BEL, FS
        await coordinator.close()
