"""hub.ws_frames reads what a real websocket client writes, and refuses what RFC 6455 forbids.

The frames come from wsproto's client connection (python-hyper's sans-IO implementation, a
peer we did not write): masked, fragmented where asked, pings between fragments, split into
arbitrary reads.
"""

from __future__ import annotations

import os
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st
from wsproto import ConnectionType
from wsproto.connection import Connection
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage

from hub.ws_frames import (
    BINARY,
    CLOSE,
    PING,
    TEXT,
    ClientFrames,
    FrameError,
    close_frame,
    close_reason,
    unmask,
)

Message = tuple[int, str | bytes]


def client() -> Connection:
    """wsproto's client side of an already opened websocket."""
    return Connection(ConnectionType.CLIENT)


def encode(messages: list[Message], pieces: list[int], ping_between: bool) -> bytes:
    """Each message as wsproto sends it, in ``pieces[i]`` fragments (a ping among them)."""
    conn, out = client(), b""
    for (opcode, payload), parts in zip(messages, pieces, strict=True):
        size = max(1, -(-len(payload) // parts)) if payload else 1
        chunks = [payload[i : i + size] for i in range(0, len(payload), size)] or [payload]
        for i, chunk in enumerate(chunks):
            last = i == len(chunks) - 1
            event = (
                TextMessage(str(chunk), message_finished=last)
                if opcode == TEXT
                else BytesMessage(bytes(chunk), message_finished=last)
            )
            out += conn.send(event)
            if ping_between and not last:
                out += conn.send(Ping(b"between"))
    return out


def feed_in_splits(data: bytes, cuts: list[int], max_message: int = 0) -> list[Message]:
    frames, out, start = ClientFrames(max_message), [], 0
    for cut in [*sorted({c % (len(data) + 1) for c in cuts}), len(data)]:
        out += frames.feed(data[start:cut])
        start = cut
    return out


messages = st.lists(
    st.one_of(
        st.tuples(st.just(TEXT), st.text(max_size=300)),
        st.tuples(st.just(BINARY), st.binary(max_size=300)),
        st.tuples(st.just(TEXT), st.text(min_size=126, max_size=70_000, alphabet="ab€")),
    ),
    min_size=1,
    max_size=6,
)


@given(
    messages,
    st.lists(st.integers(1, 4), min_size=6, max_size=6),
    st.lists(st.integers(0, 300_000), max_size=12),
    st.booleans(),
)
def test_messages_come_out_whole_and_in_order_however_the_reads_split(
    sent: list[Message], pieces: list[int], cuts: list[int], ping_between: bool
) -> None:
    data = encode(sent, pieces[: len(sent)], ping_between)
    received = feed_in_splits(data, cuts)
    assert [m for m in received if m[0] != PING] == sent
    pings = [m for m in received if m[0] == PING]
    assert all(body == b"between" for _, body in pings)


def test_a_close_from_the_client_gives_its_code_and_reason() -> None:
    data = client().send(CloseConnection(code=4001, reason="bye ✓"))
    [(opcode, payload)] = ClientFrames(0).feed(data)
    assert opcode == CLOSE and isinstance(payload, bytes)
    assert close_reason(payload) == (4001, "bye ✓")
    assert close_reason(b"") == (1000, "")


def _frame(first: int, payload: bytes, masked: bool = True, length: int | None = None) -> bytes:
    size = len(payload) if length is None else length
    mask = os.urandom(4)
    if size < 126:
        head = struct.pack("!BB", first, (0x80 if masked else 0) | size)
    else:
        head = struct.pack("!BBH", first, (0x80 if masked else 0) | 126, size)
    return head + (mask + unmask(payload, mask) if masked else payload)


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (_frame(0x81, b"hi", masked=False), 1002),  # a client must mask
        (_frame(0xC1, b"hi"), 1002),  # RSV1 without a negotiated extension
        (_frame(0x83, b"hi"), 1002),  # opcode 3 is reserved
        (_frame(0x80, b"hi"), 1002),  # a continuation with no message under way
        (_frame(0x01, b"a") + _frame(0x81, b"b"), 1002),  # a new message inside a fragmented one
        (_frame(0x09, b"ping"), 1002),  # a fragmented control frame
        (_frame(0x89, b"x" * 126), 1002),  # a control frame over 125 bytes
        (_frame(0x81, b"\xff\xfe"), 1007),  # text that is not UTF-8
        (_frame(0x81, b"x" * 200), 1009),  # over the size limit
        (_frame(0x01, b"x" * 60) + _frame(0x80, b"x" * 60), 1009),  # fragments add up
    ],
)
def test_what_the_protocol_forbids_is_refused_with_its_close_code(data: bytes, code: int) -> None:
    with pytest.raises(FrameError) as refused:
        ClientFrames(100).feed(data)
    assert refused.value.code == code


@pytest.mark.parametrize("body", [b"\x03", struct.pack("!H", 1005), struct.pack("!H", 999)])
def test_a_close_frame_that_may_not_be_sent_is_a_protocol_error(body: bytes) -> None:
    with pytest.raises(FrameError) as refused:
        close_reason(body)
    assert refused.value.code == 1002


def test_the_server_close_frame_is_what_a_client_reads() -> None:
    conn = client()
    conn.receive_data(close_frame(1001, "going away"))
    [event] = list(conn.events())
    assert isinstance(event, CloseConnection)
    assert (event.code, event.reason) == (1001, "going away")


def test_a_frame_is_held_until_it_is_complete() -> None:
    frames = ClientFrames(0)
    data = client().send(TextMessage("x" * 1000))
    assert frames.feed(data[:3]) == []
    assert frames.feed(data[3:-1]) == []
    assert frames.feed(data[-1:]) == [(TEXT, "x" * 1000)]
