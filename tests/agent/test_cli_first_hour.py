"""``chit-agent`` as a newcomer meets it (issue 17): overrides, test-print, simulate, discover.

Commands run as real subprocesses where the point is what a person sees; the DNS check runs
in-process so that every name lookup the agent makes can be recorded.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent import cli
from agent import settings as store
from agent.simulators.network import SimulatedNetworkPrinter
from agent.transports.errors import libusb_missing_message
from tests.support import HubHarness

TRACEBACK = "Traceback (most recent call last)"


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHIT_AGENT_")}
    env.update(
        CHIT_AGENT_CONFIG_DIR=str(tmp_path / "agent-config"),
        CHIT_AGENT_DATA_DIR=str(tmp_path / "agent-data"),
        CHIT_AGENT_LOG_DIR=str(tmp_path / "agent-logs"),
        # The test's own control socket (tests/conftest.py), never the system service's.
        CHIT_AGENT_CONTROL_SOCKET=os.environ["CHIT_AGENT_CONTROL_SOCKET"],
    )
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return {**env, **extra}


def agent_cli(
    tmp_path: Path, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    """Run ``chit-agent ARGS`` to the end."""
    return subprocess.run(
        [sys.executable, "-m", "agent.cli", *args],
        env=_env(tmp_path, **env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _stored(tmp_path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((tmp_path / "agent-config" / store.SETTINGS_FILE).read_text())
    return data


@pytest.fixture
async def sim() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter(name="Kitchen") as printer:
        yield printer


# --- point 8: environment overrides are for one run ------------------------------------------


def test_config_never_writes_an_environment_override(tmp_path: Path) -> None:
    override = {"CHIT_AGENT_HUB_URL": "http://one-off:3001", "CHIT_AGENT_MDNS": "false"}
    done = agent_cli(tmp_path, "config", "--add-printer", "Kitchen=127.0.0.1:9100", **override)
    assert done.returncode == 0, done.stderr
    stored = _stored(tmp_path)
    assert stored["hub_url"] is None and stored["mdns"] is True
    assert stored["manual_printers"] == ["Kitchen=127.0.0.1:9100"]
    shown = json.loads(done.stdout)
    assert shown["hub_url"] == "http://one-off:3001", "the run itself uses the override"
    assert "CHIT_AGENT_HUB_URL" in done.stderr and "this run only" in done.stderr

    done = agent_cli(tmp_path, "config", "--hub", "http://hub.lan:3001", **override)
    assert done.returncode == 0, done.stderr
    stored = _stored(tmp_path)
    assert stored["hub_url"] == "http://hub.lan:3001" and stored["mdns"] is True
    assert agent_cli(tmp_path, "config", "--remove-printer", "Kitchen").returncode == 0
    assert _stored(tmp_path)["manual_printers"] == []


def test_a_first_load_never_writes_an_environment_override(tmp_path: Path) -> None:
    settings = store.load(tmp_path, environ={"CHIT_AGENT_HUB_URL": "http://one-off:3001"})
    assert settings.hub_url == "http://one-off:3001"
    assert json.loads((tmp_path / store.SETTINGS_FILE).read_text())["hub_url"] is None


async def test_pair_never_writes_an_environment_override(
    hub: HubHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    status, body = await hub.post(
        "/api/v1/pairing-codes", {"branchId": "b1"}, hub.token("manager", "acme")
    )
    assert status == 201, body
    monkeypatch.setenv("CHIT_AGENT_SUBNETS", "10.9.9.0/24")
    monkeypatch.delenv("CHIT_AGENT_TOKEN", raising=False)
    assert await cli._pair(store.load(), body["code"], hub.url) == 0
    stored = json.loads((store.config_dir() / store.SETTINGS_FILE).read_text())
    assert stored["hub_url"] == hub.url and stored["subnets"] == []


def test_a_bad_printer_entry_is_refused(tmp_path: Path) -> None:
    done = agent_cli(tmp_path, "config", "--add-printer", "Kitchen=not a host")
    assert done.returncode == 2 and "bad host" in done.stderr and TRACEBACK not in done.stderr


# --- point 9: test-print never asks DNS about a name it was not given as a printer ----------


async def test_an_unknown_printer_lists_the_known_ones_and_resolves_nothing(
    sim: SimulatedNetworkPrinter,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    looked_up: list[str] = []
    real = socket.getaddrinfo

    def recording(host: Any, *args: Any, **kwargs: Any) -> Any:
        looked_up.append(str(host))
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", recording)
    settings = store.AgentSettings(
        mdns=False, usb=False, manual_printers=(f"Kitchen=127.0.0.1:{sim.port}",)
    )
    assert await cli._test_print(settings, "front-desk", as_json=False) == 2
    err = capsys.readouterr().err
    assert "no printer 'front-desk'" in err
    assert sim.printer_id in err and "Kitchen" in err
    assert "front-desk" not in looked_up, "the agent asked DNS about a name it was not given"
    assert await cli._test_print(settings, "net:10.0.0.9:9100", as_json=False) == 2
    assert "10.0.0.9" not in looked_up


async def test_test_print_by_name(
    sim: SimulatedNetworkPrinter, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = store.AgentSettings(
        mdns=False, usb=False, manual_printers=(f"Kitchen=127.0.0.1:{sim.port}",)
    )
    assert await cli._test_print(settings, "kitchen", as_json=False) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"printed a test page on Kitchen ({sim.printer_id})")
    assert sim.brain.cuts == 1


async def test_a_failed_test_print_says_what_to_do_in_words(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with SimulatedNetworkPrinter() as gone:
        port = gone.port
    settings = store.AgentSettings(mdns=False, usb=False)
    assert await cli._test_print(settings, f"127.0.0.1:{port}", as_json=False) == 1
    out = capsys.readouterr().out
    assert "switched on" in out
    assert "Connect call failed" not in out and "Errno" not in out and "('127.0.0.1'" not in out


# --- points 14 and 20: simulate -> discover -> test-print, and quiet stops -------------------


async def _start_simulate(
    tmp_path: Path, *args: str
) -> tuple[asyncio.subprocess.Process, dict[str, int]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent.cli",
        "simulate",
        *args,
        env=_env(tmp_path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None
    ports: dict[str, int] = {}
    count = int(args[args.index("--count") + 1]) if "--count" in args else 3
    for _ in range(count):
        line = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode()
        found = re.match(r"(.+): 127\.0\.0\.1:(\d+) \(net:[^)]+\)$", line.strip())
        assert found, line
        ports[found.group(1)] = int(found.group(2))
    return proc, ports


async def _stop(proc: asyncio.subprocess.Process, sig: signal.Signals) -> str:
    proc.send_signal(sig)
    assert await asyncio.wait_for(proc.wait(), 15) == 0
    assert proc.stderr is not None
    return (await proc.stderr.read()).decode()


async def test_simulate_then_discover_finds_them_by_name_then_test_print_by_name(
    tmp_path: Path,
) -> None:
    proc, ports = await _start_simulate(tmp_path)
    try:
        # Names may have a suffix when another simulator on this machine took them first.
        assert [re.sub(r"-\d+$", "", name) for name in ports] == ["Kitchen", "Bar", "Front counter"]
        done = await asyncio.to_thread(
            agent_cli, tmp_path, "discover", "--json", CHIT_AGENT_USB="false"
        )
        assert done.returncode == 0, done.stderr
        listed = json.loads(done.stdout)
        found = {p["port"]: p for p in listed if p.get("host") == "127.0.0.1"}
        for name, port in ports.items():
            printer = found[port]
            assert (printer["name"], printer["source"]) == (name, "mdns")
            # Identified over GS I: a TM-T20III, known by its serial number.
            assert printer["printerId"] == f"net:sn:{printer['serial']}"
            assert (printer["model"], printer["profile"]) == ("TM-T20III", "TM-T20II")
        kitchen = next(iter(ports))
        done = await asyncio.to_thread(
            agent_cli, tmp_path, "test-print", kitchen, CHIT_AGENT_USB="false"
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith(f"printed a test page on {kitchen} ")
    finally:
        err = await _stop(proc, signal.SIGTERM)
    assert TRACEBACK not in err


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_simulate_stops_quietly_with_a_client_connected(
    tmp_path: Path, sig: signal.Signals
) -> None:
    proc, ports = await _start_simulate(tmp_path, "--count", "1", "--no-mdns")
    reader, writer = await asyncio.open_connection("127.0.0.1", next(iter(ports.values())))
    try:
        writer.write(b"\x10\x04\x01")
        await writer.drain()
        assert await asyncio.wait_for(reader.read(1), 5) == b"\x12"
        err = await _stop(proc, sig)
    finally:
        writer.close()
    assert TRACEBACK not in err and "CancelledError" not in err, err


async def test_ctrl_c_during_discover_is_quiet(tmp_path: Path) -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent.cli",
        "discover",
        env=_env(tmp_path, CHIT_AGENT_USB="false"),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    await asyncio.sleep(1.5)  # mDNS browses for 2.5 s
    proc.send_signal(signal.SIGINT)
    _, err = await asyncio.wait_for(proc.communicate(), 15)
    assert proc.returncode == 130
    assert TRACEBACK not in err.decode() and "KeyboardInterrupt" not in err.decode()


# --- point 15: what to install for USB --------------------------------------------------------


@pytest.mark.parametrize(
    ("platform", "release", "command"),
    [
        ("linux", {"ID": "debian"}, "sudo apt install libusb-1.0-0"),
        ("linux", {"ID": "linuxmint", "ID_LIKE": "ubuntu debian"}, "sudo apt install libusb-1.0-0"),
        ("linux", {"ID": "fedora"}, "sudo dnf install libusb1"),
        ("linux", {"ID": "rocky", "ID_LIKE": "rhel centos fedora"}, "sudo dnf install libusb1"),
        ("linux", {"ID": "arch"}, "sudo pacman -S libusb"),
        ("linux", {}, "libusb-1.0 package"),
        ("darwin", {}, "brew install libusb"),
        ("win32", {}, "libusb-1.0.dll"),
    ],
)
def test_the_libusb_hint_names_what_to_install(
    platform: str, release: dict[str, str], command: str
) -> None:
    assert command in libusb_missing_message(platform, release)


def test_discover_without_libusb_says_what_to_install(tmp_path: Path) -> None:
    import usb.core

    try:
        usb.core.find()
    except usb.core.NoBackendError:
        pass
    else:
        pytest.skip("libusb is installed here")
    done = agent_cli(tmp_path, "discover", CHIT_AGENT_MDNS="false")
    assert done.returncode == 0, done.stderr
    assert libusb_missing_message() in done.stderr
    assert "WARNING:agent.discovery.usb" not in done.stderr


# --- point 16: help for users ----------------------------------------------------------------

AGENT_COMMANDS = [
    (),
    ("run",),
    ("pair",),
    ("discover",),
    ("test-print",),
    ("simulate",),
    ("config",),
    ("status",),
    ("logs",),
]


@pytest.mark.parametrize("command", AGENT_COMMANDS)
def test_help_is_for_users(tmp_path: Path, command: tuple[str, ...]) -> None:
    done = agent_cli(tmp_path, *command, "--help")
    assert done.returncode == 0, done.stderr
    for internals in ("``", "module", "composition root", "docstring"):
        assert internals not in done.stdout, (internals, done.stdout)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
async def test_the_headless_agent_stops_quietly_while_connected(
    hub: HubHarness, tmp_path: Path, sig: signal.Signals
) -> None:
    from tests.e2e.support import device_token, eventually, hub_agent

    env = _env(
        tmp_path,
        CHIT_AGENT_HUB_URL=hub.url,
        CHIT_AGENT_TOKEN=device_token(hub, "agent-quiet"),
        CHIT_AGENT_MDNS="false",
        CHIT_AGENT_USB="false",
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent.cli",
        "run",
        "--headless",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await hub.provision_pending()
        await eventually(lambda: hub_agent(hub, "agent-quiet"), timeout=30)
        proc.send_signal(sig)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert proc.returncode == 0
    assert TRACEBACK not in err.decode() and "CancelledError" not in err.decode(), err


def test_naming_a_printer_again_replaces_its_entry(tmp_path: Path) -> None:
    assert agent_cli(tmp_path, "config", "--add-printer", "127.0.0.1:9100").returncode == 0
    assert agent_cli(tmp_path, "config", "--add-printer", "Kitchen=127.0.0.1").returncode == 0
    assert _stored(tmp_path)["manual_printers"] == ["Kitchen=127.0.0.1"]
