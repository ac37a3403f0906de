"""agent.winservice behind the fake SCM: registration, the run/stop life cycle, failures.

The pywin32 glue itself runs in .github/workflows/agent-windows.yml (a real SCM)."""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path

import pytest

from agent import winservice
from agent.service import Agent
from agent.simulators.fake_scm import FakeServiceManager, RecordingSink, ScmError
from agent.simulators.network import SimulatedNetworkPrinter


class FakeAgent:
    """An agent whose run() lasts until stop(); ``fail`` makes run() raise instead."""

    def __init__(self, fail: bool = False, deaf: bool = False) -> None:
        self.fail, self.deaf = fail, deaf
        self.started = threading.Event()
        self._done: asyncio.Event | None = None

    async def run(self) -> None:
        self._done = asyncio.Event()
        self.started.set()
        if self.fail:
            raise RuntimeError("hub link broke")
        await self._done.wait()

    async def stop(self) -> None:
        if not self.deaf:
            assert self._done is not None
            self._done.set()
        else:
            await asyncio.sleep(3600)


def run_in_thread(runner: winservice.ServiceRunner) -> tuple[threading.Thread, list[int]]:
    codes: list[int] = []
    thread = threading.Thread(target=lambda: codes.append(runner.run()), daemon=True)
    thread.start()
    return thread, codes


def test_install_registers_an_automatic_service_with_restarts() -> None:
    scm = FakeServiceManager()
    spec = winservice.install(scm, r"C:\Program Files\Chit Agent\chit-agent-service.exe")
    registered = scm.services["ChitAgent"].spec
    assert registered == spec
    assert registered.command_line == r'"C:\Program Files\Chit Agent\chit-agent-service.exe"'
    assert registered.account == r"NT SERVICE\ChitAgent" and registered.auto_start
    assert registered.restart_delays_ms == (5000, 5000, 30000)
    assert registered.failure_on_error_exit


def test_reinstalling_over_a_running_service_stops_and_replaces_it() -> None:
    scm = FakeServiceManager()
    winservice.install(scm, "old.exe")
    scm.start("ChitAgent")
    winservice.install(scm, "new.exe")
    assert scm.calls == [
        "create ChitAgent", "start ChitAgent", "stop ChitAgent", "delete ChitAgent",
        "create ChitAgent",
    ]  # fmt: skip
    assert scm.services["ChitAgent"].spec.command_line == '"new.exe"'


def test_remove_stops_then_deletes_and_says_when_there_was_nothing() -> None:
    scm = FakeServiceManager()
    assert winservice.remove(scm) is False
    winservice.install(scm, "svc.exe")
    scm.start("ChitAgent")
    assert winservice.remove(scm) is True
    assert scm.services == {} and scm.calls[-2:] == ["stop ChitAgent", "delete ChitAgent"]


def test_the_fake_scm_refuses_what_the_real_one_refuses() -> None:
    scm = FakeServiceManager()
    winservice.install(scm, "svc.exe")
    scm.start("ChitAgent")
    with pytest.raises(ScmError) as running:
        scm.delete("ChitAgent")
    assert running.value.winerror == 1072
    with pytest.raises(ScmError):
        scm.create(winservice.service_spec("svc.exe"))


def test_main_runs_the_commands_against_the_manager(capsys: pytest.CaptureFixture[str]) -> None:
    scm = FakeServiceManager()
    assert winservice.main(["install"], scm) == 0
    assert winservice.main(["start"], scm) == 0
    assert scm.state("ChitAgent") == "running"
    assert winservice.main(["remove"], scm) == 0
    assert winservice.main(["remove"], scm) == 0
    out = capsys.readouterr().out
    assert "installed service ChitAgent" in out and "no service to remove" in out
    assert winservice.main(["frobnicate"], scm) == 2


def test_a_requested_stop_reports_every_state_and_exits_0() -> None:
    agent, sink = FakeAgent(), RecordingSink()
    runner = winservice.ServiceRunner(lambda: agent, sink)
    thread, codes = run_in_thread(runner)
    assert agent.started.wait(10)
    runner.request_stop()
    thread.join(10)
    assert codes == [0]
    assert sink.states == ["start_pending", "running", "stop_pending", "stopped"]


def test_an_agent_that_fails_makes_the_service_fail_for_the_scm_to_restart() -> None:
    sink = RecordingSink()
    runner = winservice.ServiceRunner(lambda: FakeAgent(fail=True), sink)
    assert runner.run() == 1
    assert sink.states[-1] == "stopped"
    assert any(level == logging.ERROR and "hub link broke" in text for level, text in sink.events)


def test_an_agent_that_ignores_stop_is_cancelled_after_the_timeout() -> None:
    agent, sink = FakeAgent(deaf=True), RecordingSink()
    runner = winservice.ServiceRunner(lambda: agent, sink, stop_timeout=0.3)
    thread, codes = run_in_thread(runner)
    assert agent.started.wait(10)
    runner.request_stop()
    thread.join(10)
    assert not thread.is_alive() and codes == [0]


def test_a_stop_before_the_agent_is_built_ends_at_once() -> None:
    sink = RecordingSink()
    runner = winservice.ServiceRunner(FakeAgent, sink)
    runner.request_stop()
    assert runner.run() == 0
    assert "running" not in sink.states


def test_the_service_folders_are_under_programdata(tmp_path: Path) -> None:
    folders = winservice.service_folders(winservice.program_data({"ProgramData": str(tmp_path)}))
    assert folders["CHIT_AGENT_CONFIG_DIR"] == str(tmp_path / "Chit" / "agent")
    assert folders["CHIT_AGENT_LOG_DIR"] == str(tmp_path / "Chit" / "logs")
    preseed = winservice.enroll_preseed(tmp_path)
    assert preseed == tmp_path / "Chit" / "enroll.toml"


async def test_the_real_agent_runs_and_stops_as_a_service(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The real core, built as the service builds it, in %ProgramData%\\Chit, finding a printer."""
    for key in ("CHIT_AGENT_CONFIG_DIR", "CHIT_AGENT_DATA_DIR", "CHIT_AGENT_LOG_DIR"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ProgramData", str(tmp_path))
    for key in ("MDNS", "USB", "QUEUES"):
        monkeypatch.setenv(f"CHIT_AGENT_{key}", "false")
    async with SimulatedNetworkPrinter(name="Kitchen") as printer:
        monkeypatch.setenv("CHIT_AGENT_MANUAL_PRINTERS", f"127.0.0.1:{printer.port}")
        sink = RecordingSink()
        built: list[Agent] = []

        def make() -> winservice.AgentLike:
            agent = winservice.build_agent()
            assert isinstance(agent, Agent)
            built.append(agent)
            return agent

        runner = winservice.ServiceRunner(make, sink)
        task = asyncio.create_task(asyncio.to_thread(runner.run))
        async with asyncio.timeout(20):
            while "running" not in sink.states:
                await asyncio.sleep(0.05)
            while printer.printer_id not in {p.printer_id for p in built[0].printers()}:
                await asyncio.sleep(0.05)
        runner.request_stop()
        assert await asyncio.wait_for(task, 30) == 0
    assert sink.states[-2:] == ["stop_pending", "stopped"]
    assert (tmp_path / "Chit" / "logs" / "chit-agent.log").exists()
    assert (tmp_path / "Chit" / "agent" / "agent.json").exists()
