"""Hypothesis over Socket.IO: random event names and payloads to every namespace, through real
python-socketio clients (an agent, a manager, branch staff) connected to a live hub.

Every message asks for an ack. Whatever is sent: the ack is ``{"ok": true, ...}`` or
``{"ok": false, "error": {code, message[, field]}}``, every client stays connected, nothing
is logged at ERROR and the hub answers /healthz afterwards. Hypothesis runs in a worker
thread and hands each message to the clients' event loop (the hub's too).

Not sent here: events named ``connect`` and ``disconnect`` and raw packets whose event name
is not a string; their refusal belongs to the gateways and is tested with them.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.events import CATALOG
from shared.namespaces import Namespace
from shared.tokens import Role
from tests.hub.fuzz.conftest import FUZZ, ErrorLog
from tests.hub.fuzz.test_rest_fuzz import json_values, nasty, text
from tests.support import HubHarness, Recorder

NAMESPACES = [str(ns) for ns in Namespace]
RESERVED = {"connect", "disconnect"}
PRINTER = {"printerId": "usb:04b8:0e15:SN1", "name": "TM", "connection": "usb", "source": "usb"}
STATUS = {"state": "online", "online": True}
#: A valid payload per inbound event, so mutations reach the handlers and the store.
VALID: dict[str, dict[str, Any]] = {
    "agent:hello": {"agentId": "agent-1", "hostname": "till", "os": "linux", "version": "1"},
    "agent:inventory": {"agentId": "agent-1", "printers": [PRINTER]},
    "agent:heartbeat": {"agentId": "agent-1", "sentAt": "2025-01-01T00:00:00Z"},
    "printer:discovered": {"agentId": "agent-1", "printer": PRINTER},
    "printer:removed": {"agentId": "agent-1", "printerId": PRINTER["printerId"]},
    "printerStatusUpdate": {
        "agentId": "agent-1",
        "printerId": PRINTER["printerId"],
        "status": STATUS,
    },
    "printer:test:result": {
        "correlationId": "corr-fuzz-0001",
        "printerId": PRINTER["printerId"],
        "success": True,
        "durationMs": 3,
    },
    "printJobUpdate": {
        "jobId": "job-1",
        "correlationId": "corr-fuzz-0002",
        "printerId": PRINTER["printerId"],
        "state": "printed",
    },
    "printer:test": {"correlationId": "corr-fuzz-0003", "printerId": "nope"},
}
NAMES = sorted({spec.name for spec in CATALOG} | set(VALID))


def _mutate(valid: dict[str, Any], changes: dict[str, Any], drop: list[str]) -> dict[str, Any]:
    body = {k: v for k, v in valid.items() if k not in drop}
    return {**body, **changes}


def _nested(draw: st.DrawFn, valid: dict[str, Any]) -> dict[str, Any]:
    """``valid`` with one nested text field (a printer's name, a status detail) replaced."""
    if "printers" in valid:
        printer = {**PRINTER, draw(st.sampled_from(sorted(PRINTER))): draw(nasty | text)}
        return {**valid, "printers": [printer]}
    if "printer" in valid:
        return {**valid, "printer": {**PRINTER, "name": draw(nasty | text)}}
    if "status" in valid:
        return {**valid, "status": {**STATUS, "detail": draw(nasty | text)}}
    return valid


@st.composite
def payloads(draw: st.DrawFn, event: str) -> Any:
    """Random JSON, a valid payload, or a valid one with a field or two changed."""
    valid = VALID.get(event)
    choice = draw(st.integers(0, 6))
    if valid is None or choice == 0:
        return draw(json_values)
    if choice == 1:
        return valid
    if choice == 2:
        return _nested(draw, valid)
    strings = sorted(k for k, v in valid.items() if isinstance(v, str))
    if choice == 3 and strings:
        return {**valid, draw(st.sampled_from(strings)): draw(nasty | text)}
    keys = st.sampled_from(sorted({*valid, "printers", "status", "printer", "state"}))
    changes = draw(st.dictionaries(keys | text, text | json_values, min_size=1, max_size=2))
    drop = draw(st.lists(st.sampled_from(sorted(valid)), max_size=1))
    return _mutate(valid, changes, drop)


@dataclass
class Message:
    """One emit: who sends it, where, which event, what arguments."""

    sender: str
    namespace: str
    event: str
    args: tuple[Any, ...]


INBOUND = {
    str(ns): sorted(spec.name for spec in CATALOG if spec.namespace == ns and spec.from_clients)
    for ns in Namespace
}


@st.composite
def messages(draw: st.DrawFn) -> Message:
    """Mostly events the namespace accepts, some of another namespace, some made up."""
    sender = draw(st.sampled_from(["agent", "agent", "agent", "manager", "staff"]))
    namespace = "/printing-ws" if sender == "agent" else draw(st.sampled_from(NAMESPACES))
    pick = draw(st.integers(0, 9))
    if pick < 6 and INBOUND[namespace]:
        event = draw(st.sampled_from(INBOUND[namespace]))
    elif pick < 8:
        event = draw(st.sampled_from(NAMES))
    else:
        event = draw(text.filter(lambda e: e not in RESERVED and e != ""))
    first = draw(payloads(event))
    extra = draw(st.lists(json_values, max_size=1)) if draw(st.integers(0, 9)) == 0 else []
    return Message(sender, namespace, event, (first, *extra))


#: Messages that once went unanswered (PostgreSQL refused the NUL): always tried first.
SEEN = (
    Message("agent", "/printing-ws", "agent:hello", ({**VALID["agent:hello"], "os": "li\x00"},)),
    Message(
        "agent",
        "/printing-ws",
        "agent:inventory",
        ({"agentId": "agent-1", "printers": [{**PRINTER, "name": "T\x00M"}]},),
    ),
)


def check_ack(message: Message, ack: Any) -> None:
    """Every ack is well-formed: ok, or a refusal with a code and a message."""
    assert isinstance(ack, dict) and isinstance(ack.get("ok"), bool), (message, ack)
    if ack["ok"]:
        return
    error = ack.get("error")
    assert isinstance(error, dict), (message, ack)
    assert {"code", "message"} <= set(error) <= {"code", "message", "field"}, (message, ack)


async def _clients(hub: HubHarness) -> dict[str, Recorder]:
    agent = await hub.connect(
        hub.token(Role.DESKTOP_APP, "acme", "b1", sub="agent-1"), ["/printing-ws"]
    )
    manager = await hub.connect(hub.token(Role.MANAGER, "acme"), NAMESPACES)
    staff = await hub.connect(hub.token(Role.STAFF, "acme", "b1"), NAMESPACES)
    return {"agent": agent, "manager": manager, "staff": staff}


async def _send(client: Recorder, message: Message) -> Any:
    data: Any = message.args[0] if len(message.args) == 1 else message.args
    return await client.client.call(message.event, data, namespace=message.namespace, timeout=15)


async def _fuzz_sockets(hub: HubHarness, error_log: ErrorLog) -> None:
    clients = await _clients(hub)
    loop = asyncio.get_running_loop()
    seen: Counter[str] = Counter()

    def on_loop(work: Coroutine[Any, Any, Any]) -> Any:
        return asyncio.run_coroutine_threadsafe(work, loop).result(timeout=30)

    @settings(FUZZ, max_examples=FUZZ.max_examples * 3)
    @given(message=messages())
    @example(message=SEEN[0])
    @example(message=SEEN[1])
    def run(message: Message) -> None:
        client = clients[message.sender]
        ack = on_loop(_send(client, message))
        check_ack(message, ack)
        seen["ok" if ack["ok"] else ack["error"]["code"]] += 1
        assert all(c.client.connected for c in clients.values()), message

    await asyncio.to_thread(run)
    assert seen.total() >= FUZZ.max_examples, seen
    assert seen["ok"] > 0 and len(seen) > 3, f"the fuzzer reached too few handlers: {seen}"
    status, body = await hub.get("/healthz")
    assert (status, body["status"]) == (200, "ok")
    assert error_log.summary() == []


@pytest.mark.slow
async def test_socket_events_survive_random_messages(
    any_hub: HubHarness, error_log: ErrorLog
) -> None:
    await _fuzz_sockets(any_hub, error_log)


def test_acks_are_checked() -> None:
    message = Message("agent", "/printing-ws", "x", ({},))
    check_ack(message, {"ok": True})
    check_ack(message, {"ok": False, "error": {"code": "a", "message": "b", "field": "c"}})
    for bad in (None, "ok", {"ok": False}, {"ok": False, "error": {"code": "a"}}):
        with pytest.raises(AssertionError):
            check_ack(message, bad)
