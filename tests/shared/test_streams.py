"""The stream contract without I/O: which events are streamed, offsets, since, recovery."""

from __future__ import annotations

from typing import Any

import pytest

from shared.events import CATALOG, events_of, lookup
from shared.namespaces import Namespace
from shared.streams import (
    MAX_SEQ,
    OFFSET_FIELD,
    STATUS_EVENT,
    STREAMED,
    Head,
    SinceError,
    StreamOffset,
    is_streamed,
    recovery_problem,
    since_of,
    status_of,
    with_offset,
)

HEAD = Head("acme", "epoch-1", seq=10, first=4)


def _since(seq: int, stream: str = "acme", epoch: str = "epoch-1") -> StreamOffset:
    return StreamOffset(stream=stream, epoch=epoch, seq=seq)


def test_exactly_the_issues_events_are_streamed() -> None:
    expected = {
        (ns, s.name)
        for ns in (Namespace.ORDERS, Namespace.AVAILABILITY)
        for s in events_of(ns)
        if s.to_clients and not s.name.startswith(("auth:", "stream:"))
    }
    expected |= {
        (Namespace.PRINTING, name)
        for name in ("printJobUpdate", "printerStatusUpdate", "printer:test:result")
    }
    assert expected == STREAMED
    for namespace, name in STREAMED:
        assert lookup(namespace, name).to_clients
    assert not is_streamed(Namespace.PRINTING, "agent:status")
    assert not is_streamed("/nowhere", "newOrder")


def test_every_namespace_has_the_status_event() -> None:
    for ns in Namespace:
        spec = lookup(ns, STATUS_EVENT)
        assert spec.to_clients and not spec.from_clients and not spec.publishable


def test_no_payload_model_can_define_the_offset_field() -> None:
    for spec in CATALOG:
        names = {f.alias or n for n, f in spec.model.model_fields.items()}
        assert OFFSET_FIELD not in names, spec.name


def test_the_offset_travels_next_to_the_payloads_own_fields() -> None:
    payload = {"orderId": "o1", "status": "new"}
    wire = with_offset(payload, _since(3))
    assert wire == {**payload, "_offset": {"stream": "acme", "epoch": "epoch-1", "seq": 3}}
    assert payload == {"orderId": "o1", "status": "new"}


@pytest.mark.parametrize(
    ("since", "code"),
    [
        (_since(10), None),  # up to date
        (_since(3), None),  # the next one (4) is the oldest kept
        (_since(7), None),
        (_since(2), "offset_expired"),  # 3 was trimmed away
        (_since(0), "offset_expired"),
        (_since(11), "offset_unknown"),  # ahead of the stream
        (_since(5, epoch="epoch-0"), "offset_epoch"),  # lost history
        (_since(5, stream="globex"), "offset_foreign"),  # another company's
        (_since(5, stream="globex", epoch="x"), "offset_foreign"),  # foreign wins
    ],
)
def test_recovery_decision(since: StreamOffset, code: str | None) -> None:
    assert recovery_problem(since, HEAD) == code


def test_recovery_when_nothing_is_kept() -> None:
    empty = Head("acme", "e", seq=5, first=None)  # everything trimmed by age
    assert recovery_problem(_since(5, epoch="e"), empty) is None
    assert recovery_problem(_since(4, epoch="e"), empty) == "offset_expired"
    fresh = Head("acme", "e", seq=0, first=None)
    assert recovery_problem(_since(0, epoch="e"), fresh) is None


@pytest.mark.parametrize("auth", [None, {}, {"token": "t"}, {"token": "t", "since": None}, "x"])
def test_no_since_is_none(auth: Any) -> None:
    assert since_of(auth) is None


@pytest.mark.parametrize(
    "since",
    [
        "acme:1",
        17,
        [],
        {},
        {"stream": "acme", "epoch": "e"},
        {"stream": "acme", "epoch": "e", "seq": -1},
        {"stream": "acme", "epoch": "e", "seq": MAX_SEQ + 1},
        {"stream": "acme", "epoch": "e", "seq": "7"},
        {"stream": "company:acme", "epoch": "e", "seq": 1},
        {"stream": "acme", "epoch": "e/../", "seq": 1},
        {"stream": "acme", "epoch": "e", "seq": 1, "extra": True},
    ],
)
def test_malformed_since_is_offset_invalid(since: Any) -> None:
    with pytest.raises(SinceError) as caught:
        since_of({"token": "t", "since": since})
    assert caught.value.code == "offset_invalid"
    assert "since" in caught.value.message


def test_a_valid_since() -> None:
    since = since_of({"token": "t", "since": {"stream": "acme", "epoch": "e-1_x", "seq": 9}})
    assert since == StreamOffset(stream="acme", epoch="e-1_x", seq=9)


def test_status_says_recovered_or_why_not() -> None:
    good = status_of(HEAD, None, replayed=6)
    assert good.to_wire() == {
        "stream": "acme",
        "recovered": True,
        "offset": {"stream": "acme", "epoch": "epoch-1", "seq": 10},
        "replayed": 6,
    }
    bad = status_of(HEAD, "offset_foreign").to_wire()
    assert bad["recovered"] is False and bad["code"] == "offset_foreign"
    assert "another company" in bad["message"]
