"""hub.fanout's sink and outbox at their seam (the transport): one write per client per
loop tick, in order; a held outbox writes a burst once; a full buffer is reported once."""

from __future__ import annotations

import asyncio
from typing import Any

from engineio import packet as eio_packet

from hub.fanout import FanoutOptions, FrameSink, frame


class Transport:
    """What a sink uses of an asyncio transport, recording each write."""

    def __init__(self, buffered: int = 0) -> None:
        self.writes: list[bytes] = []
        self.buffered = buffered

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return self.buffered


class WebSocket:
    compress = 0
    headers: dict[str, str] = {}


def _sink(options: FanoutOptions, transport: Transport, sid: str = "s1") -> FrameSink:
    return FrameSink(options, sid, transport, WebSocket())  # type: ignore[arg-type]


def _message(text: str) -> Any:
    return eio_packet.Packet(eio_packet.MESSAGE, text)


async def _tick() -> None:
    for _ in range(3):
        await asyncio.sleep(0)


async def test_frames_of_one_tick_go_out_in_one_write_in_order() -> None:
    options = FanoutOptions()
    a, b = Transport(), Transport()
    sink_a, sink_b = _sink(options, a), _sink(options, b, "s2")
    for i in range(5):
        sink_a.push_packet(_message(f"m{i}"))
        sink_b.push_packet(_message(f"m{i}"))
    assert a.writes == [] and b.writes == []  # nothing before the end of the tick
    await _tick()
    expected = b"".join(frame(f"4m{i}".encode(), 0x81) for i in range(5))
    assert a.writes == [expected] and b.writes == [expected]
    sink_a.push_packet(_message("next"))
    await _tick()
    assert a.writes[1:] == [frame(b"4next", 0x81)]


async def test_a_held_outbox_writes_a_burst_once() -> None:
    options = FanoutOptions()
    transport = Transport()
    sink = _sink(options, transport)
    with options.outbox.held():
        for i in range(4):
            sink.push_packet(_message(f"m{i}"))
            await _tick()  # each event awaits its own database write
        assert transport.writes == []
    assert transport.writes == [b"".join(frame(f"4m{i}".encode(), 0x81) for i in range(4))]


async def test_a_held_outbox_still_writes_within_its_linger() -> None:
    options = FanoutOptions()
    options.outbox.linger = 0.05
    transport = Transport()
    sink = _sink(options, transport)
    with options.outbox.held():
        sink.push_packet(_message("m0"))
        await asyncio.sleep(0.2)
        assert transport.writes == [frame(b"4m0", 0x81)]


async def test_a_client_whose_buffer_passes_the_limit_is_reported_once() -> None:
    options = FanoutOptions()
    options.send_buffer_bytes = 1000
    reported: list[tuple[str, int]] = []
    options.on_overflow = lambda sid, size: reported.append((sid, size))
    transport = Transport(buffered=5000)
    sink = _sink(options, transport)
    sink.push_packet(_message("m0"))
    await _tick()
    assert reported == [("s1", 5000)]
    sink.push_packet(_message("m1"))  # dropped: the sink is closed
    await _tick()
    assert reported == [("s1", 5000)] and len(transport.writes) == 1
