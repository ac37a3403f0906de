"""A status channel set by hand: ``chit-agent printers channel``, kept in agent.json, picked up
by a running agent at its next scan, and :meth:`Agent.apply_status_channel` (the hub's way);
it also chooses the command set documents are rendered in."""

from __future__ import annotations

import asyncio

import pytest

from agent import cli
from agent import settings as store
from agent.jobs import job_bytes
from agent.service import Agent
from agent.settings import AgentSettings, channel_overrides, with_channel
from agent.simulators.usb_backend import FakeUsbBackend, FakeUsbPrinter
from shared.events import PrintJobDispatch
from shared.printers import PrinterState


def test_channel_entries_round_trip() -> None:
    entries = with_channel((), "usb:04b8:0e15:X", "none")
    entries = with_channel(entries, "net:10.0.0.5:9100", "star")
    assert channel_overrides(entries) == {"usb:04b8:0e15:X": "none", "net:10.0.0.5:9100": "star"}
    assert with_channel(entries, "usb:04b8:0e15:X", None) == ("net:10.0.0.5:9100=star",)
    assert channel_overrides(("broken", "x=bogus", "=none")) == {}


def test_the_cli_keeps_the_choice_and_auto_forgets_it(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["printers", "channel", "usb:0416:5011:path-1-1.4", "NONE"]) == 0
    assert store.load_stored().printer_channels == ("usb:0416:5011:path-1-1.4=none",)
    assert "set to none" in capsys.readouterr().out
    assert cli.main(["printers", "channel", "usb:0416:5011:path-1-1.4", "auto"]) == 0
    assert store.load_stored().printer_channels == ()


def test_the_cli_refuses_an_unknown_channel(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["printers", "channel", "usb:1", "dle-eot"]) == 2
    err = capsys.readouterr().err
    assert "escpos, star, queue, none" in err and "auto" in err


def _agent(device: FakeUsbPrinter) -> Agent:
    settings = AgentSettings(agent_id="agent-t", mdns=False, queues=False, io_timeout=1.0)
    return Agent(settings, usb_backend=FakeUsbBackend([device]))


async def test_a_running_agent_picks_up_the_cli_choice_at_its_next_scan() -> None:
    agent = _agent(FakeUsbPrinter(serial="CH01"))
    await agent.scan()
    [printer] = agent.printers()
    assert printer.status_channel == "escpos"
    assert printer.status is not None and printer.status.state is PrinterState.ONLINE
    assert (
        await asyncio.to_thread(cli.main, ["printers", "channel", printer.printer_id, "none"]) == 0
    )
    await agent.scan()
    [printer] = agent.printers()
    assert printer.status_channel == "none"
    assert printer.status is not None and printer.status.state is PrinterState.NO_STATUS
    assert (
        await asyncio.to_thread(cli.main, ["printers", "channel", printer.printer_id, "auto"]) == 0
    )
    await agent.scan()
    assert agent.printers()[0].status_channel == "escpos"
    await agent.stop()


async def test_apply_status_channel_sets_keeps_and_reports() -> None:
    agent = _agent(FakeUsbPrinter(serial="CH02"))
    await agent.scan()
    [printer] = agent.printers()
    changed = await agent.apply_status_channel(printer.printer_id, "none")
    assert changed is not None and changed.status_channel == "none"
    assert changed.status is not None and changed.status.state is PrinterState.NO_STATUS
    assert store.load_stored().printer_channels == (f"{printer.printer_id}=none",)
    await agent.scan()  # a rescan keeps it
    assert agent.printers()[0].status_channel == "none"
    assert await agent.apply_status_channel("usb:nobody", "star") is None
    again = await agent.apply_status_channel(printer.printer_id, None)
    assert again is not None and again.status_channel == "escpos"
    await agent.stop()


async def test_the_channel_set_by_hand_chooses_the_command_set_of_documents() -> None:
    agent = _agent(FakeUsbPrinter(serial="CH03"))
    await agent.scan()
    [printer] = agent.printers()
    job = PrintJobDispatch.model_validate(
        {
            "jobId": "job-channel-1",
            "correlationId": "job-channel-1",
            "printerId": printer.printer_id,
            "document": {"lines": [{"type": "text", "text": "hello"}]},
        }
    )
    coordinator = agent.coordinators[printer.printer_id]
    assert job_bytes(job, coordinator).endswith(b"\x1dV\x00")  # detected ESC/POS: GS V
    await agent.apply_status_channel(printer.printer_id, "star")
    assert job_bytes(job, coordinator).endswith(b"\x1bd\x02")  # set to Star: ESC d 2
    await agent.apply_status_channel(printer.printer_id, None)
    assert job_bytes(job, coordinator).endswith(b"\x1dV\x00")
    await agent.stop()
