"""Log lines carry their fields: key=value in text, JSON lines with --json-logs; the link says
"refused" only when the hub refused, and a hub that is down is a warning that says so."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent import logs
from agent.link import HubLink, LinkState
from tests.support import HubHarness, free_port


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


def _record(msg: str, **fields: object) -> logging.LogRecord:
    logger = logging.getLogger("chit.agent.test")
    return logger.makeRecord(logger.name, logging.INFO, __file__, 1, msg, (), None, extra=fields)


def test_text_lines_show_the_fields_as_key_value() -> None:
    record = _record("printer status", printer_id="usb:04b8:0e15:X1", state="paper_out")
    line = logs.KeyValueFormatter().format(record)
    assert line.endswith(
        "chit.agent.test: printer status printer_id=usb:04b8:0e15:X1 state=paper_out"
    )


def test_values_with_spaces_are_quoted_so_the_line_splits_back() -> None:
    record = _record("hub link", state="disconnected", detail="cannot reach hub: Connection error")
    line = logs.KeyValueFormatter().format(record)
    assert 'detail="cannot reach hub: Connection error"' in line
    assert "state=disconnected" in line


def test_json_lines_carry_message_and_fields() -> None:
    record = _record("hub link", state="connected", hub="http://127.0.0.1:1", detail=None)
    entry = json.loads(logs.JsonFormatter().format(record))
    assert entry["msg"] == "hub link" and entry["level"] == "INFO"
    assert entry["logger"] == "chit.agent.test"
    assert (entry["state"], entry["hub"], entry["detail"]) == (
        "connected",
        "http://127.0.0.1:1",
        None,
    )


@pytest.mark.usefixtures("restore_root")
def test_the_log_file_and_the_recent_lines_keep_the_fields(tmp_path: Path) -> None:
    path = logs.setup(console=False, directory=tmp_path)
    logging.getLogger("chit.agent").info(
        "printer status", extra={"printer_id": "p1", "state": "online"}
    )
    for handler in logging.getLogger().handlers:
        if getattr(handler, "_chit_handler", False):
            handler.flush()
    assert "printer status printer_id=p1 state=online" in path.read_text()
    kept = [line["fields"] for line in logs.RECENT.lines() if line["msg"] == "printer status"]
    assert {"printer_id": "p1", "state": "online"} in kept


def test_json_logs_from_the_command_line(tmp_path: Path) -> None:
    env = {
        "CHIT_AGENT_CONFIG_DIR": str(tmp_path / "c"),
        "CHIT_AGENT_DATA_DIR": str(tmp_path / "d"),
        "CHIT_AGENT_LOG_DIR": str(tmp_path / "l"),
        "PATH": "/usr/bin:/bin",
    }
    # test-print of an address nothing listens on: one warning-or-worse line on stderr, as JSON.
    port = free_port()
    done = subprocess.run(
        [sys.executable, "-m", "agent.cli", "--json-logs", "-v", "test-print", f"127.0.0.1:{port}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("{")]
    assert lines, done.stderr
    entries = [json.loads(line) for line in lines]
    assert all({"ts", "level", "logger", "msg"} <= set(e) for e in entries)


async def _states_until(link: HubLink, wanted: LinkState, timeout: float = 15) -> None:
    task = asyncio.create_task(link.run())
    try:
        async with asyncio.timeout(timeout):
            while link.state is not wanted:
                await asyncio.sleep(0.05)
    finally:
        await link.stop()
        async with asyncio.timeout(10):
            await task


async def test_a_hub_that_is_down_is_a_warning_not_a_refusal(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def announce() -> bool:
        return True

    link = HubLink(f"http://127.0.0.1:{free_port()}", lambda: "a.b.c", announce, connect_timeout=3)
    link._base, link._cap = 0.05, 0.1
    caplog.set_level(logging.DEBUG, logger="chit.agent.link")
    seen: list[LinkState] = []
    details: list[str | None] = []
    link.listen(lambda state, detail: (seen.append(state), details.append(detail)))
    task = asyncio.create_task(link.run())
    try:
        async with asyncio.timeout(15):
            while sum(r.msg.startswith("hub still unreachable") for r in caplog.records) < 2:
                await asyncio.sleep(0.05)
    finally:
        await link.stop()
        async with asyncio.timeout(10):
            await task
    assert LinkState.REFUSED not in seen
    assert not [r for r in caplog.records if "refused" in r.getMessage()]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # once per outage, not per retry
    assert "hub unreachable" in warnings[0].getMessage()
    assert warnings[0].hub == link.url  # type: ignore[attr-defined]
    assert any(d and d.startswith("cannot reach hub") for d in details)


async def test_a_refused_token_is_an_error_with_the_hubs_code(
    hub: HubHarness, caplog: pytest.LogCaptureFixture
) -> None:
    async def announce() -> bool:
        return True

    link = HubLink(hub.url, lambda: "not-a-token", announce, connect_timeout=5)
    caplog.set_level(logging.INFO, logger="chit.agent.link")
    await _states_until(link, LinkState.REFUSED)
    refused = [r for r in caplog.records if r.getMessage() == "hub refused the connection"]
    assert refused and refused[0].levelno == logging.ERROR
    assert refused[0].code  # type: ignore[attr-defined]
    assert not [r for r in caplog.records if "unreachable" in r.getMessage()]
