"""chit-agent commands against simulated printers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent import cli
from agent import settings as store
from agent.simulators.network import SimulatedNetworkPrinter


@pytest.fixture(autouse=True)
def _isolated_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CHIT_AGENT_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("CHIT_AGENT_MDNS", "false")
    monkeypatch.setenv("CHIT_AGENT_USB", "false")
    monkeypatch.delenv("CHIT_AGENT_TOKEN", raising=False)


async def _sim() -> SimulatedNetworkPrinter:
    sim = SimulatedNetworkPrinter()
    await sim.start()
    return sim


def test_config_then_discover_lists_printer(capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    async def scenario() -> None:
        sim = await _sim()
        try:
            assert (
                cli._config(
                    cli._parser().parse_args(
                        ["config", "--add-printer", f"127.0.0.1:{sim.port}", "--token", "t0k"]
                    )
                )
                == 0
            )
            assert store.read_token() == "t0k"
            mode = (store.config_dir() / store.TOKEN_FILE).stat().st_mode & 0o777
            assert mode == 0o600
            capsys.readouterr()
            assert await cli._discover(store.load(), as_json=True) == 0
            printers = json.loads(capsys.readouterr().out)
            assert [p["printerId"] for p in printers] == [sim.printer_id]
            assert printers[0]["status"]["state"] == "online"
        finally:
            await sim.stop()

    asyncio.run(scenario())


async def test_test_print_by_address(capsys: pytest.CaptureFixture[str]) -> None:
    sim = await _sim()
    try:
        code = await cli._test_print(store.load(), f"127.0.0.1:{sim.port}", as_json=True)
        result = json.loads(capsys.readouterr().out)
        assert code == 0
        assert result["success"] is True
        assert sim.count_jobs_containing(result["correlationId"]) == 1
        sim.set_state("paper_out")
        code = await cli._test_print(store.load(), f"127.0.0.1:{sim.port}", as_json=False)
        assert code == 1
        assert "paper out: load paper" in capsys.readouterr().out
    finally:
        await sim.stop()


def test_agent_id_is_stable(tmp_path: Path) -> None:
    first = store.load(tmp_path).agent_id
    assert store.load(tmp_path).agent_id == first


async def test_simulate_command_serves_printers() -> None:
    import asyncio
    import re
    import signal
    import sys

    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent.cli",
        "simulate",
        "--count",
        "2",
        "--no-mdns",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        lines = [await asyncio.wait_for(proc.stdout.readline(), 20) for _ in range(2)]
        ports = [int(re.search(rb"127\.0\.0\.1:(\d+) ", line).group(1)) for line in lines]  # type: ignore[union-attr]
        for port in ports:
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"\x10\x04\x01")
            await writer.drain()
            reply = await asyncio.wait_for(reader.read(1), 5)
            assert reply == b"\x12"  # online: fixed bits only
            writer.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 10) == 0


def test_config_path_choice_is_stored_and_checked(capsys: pytest.CaptureFixture[str]) -> None:
    args = cli._parser().parse_args(["config", "--path", "net:10.0.0.5:9100=queue"])
    assert cli._config(args) == 0
    args = cli._parser().parse_args(["config", "--path", "net:10.0.0.5:9100=direct"])
    assert cli._config(args) == 0
    assert store.load().printer_paths == ("net:10.0.0.5:9100=direct",)
    assert cli._config(cli._parser().parse_args(["config", "--path", "net:x=sideways"])) == 2
    assert "PRINTER_ID=direct or PRINTER_ID=queue" in capsys.readouterr().err
