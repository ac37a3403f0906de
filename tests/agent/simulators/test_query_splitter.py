"""The simulator's real-time query splitter: its fast path (print data copied up to the next
DLE) takes out exactly what the byte-by-byte reading did, however the stream is split."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from agent.simulators.brain import QuerySplitter, _partial_realtime
from shared.escpos.status import StatusKind

DLE, EOT, DC4 = 0x10, 0x04, 0x14


class ByteByByte:
    """The splitter as it was: every byte looked at in turn (the reference)."""

    def __init__(self) -> None:
        self.tail = b""
        self.pulses: list[tuple[int, int]] = []

    def feed(self, data: bytes) -> tuple[bytes, list[StatusKind]]:
        buf, self.tail = self.tail + data, b""
        out, queries, i = bytearray(), [], 0
        while i < len(buf):
            if buf[i] == DLE and _partial_realtime(buf[i:]):
                self.tail = buf[i:]
                break
            if (
                buf[i : i + 3] == bytes((DLE, DC4, 1))
                and len(buf) - i >= 5
                and buf[i + 3] in (0, 1)
            ):
                self.pulses.append((2 if buf[i + 3] == 0 else 5, buf[i + 4] * 100))
                i += 5
                continue
            if buf[i] == DLE and buf[i + 1] == EOT and 1 <= buf[i + 2] <= 4:
                queries.append(StatusKind(buf[i + 2]))
                i += 3
                continue
            out.append(buf[i])
            i += 1
        return bytes(out), queries


#: Bytes that make real-time commands likely, among any others.
_BYTE = st.sampled_from([DLE, EOT, DC4, 0, 1, 2, 3, 4, 5, 0x1B, 0x41]) | st.integers(0, 255)
_CHUNKS = st.lists(
    st.binary(min_size=0, max_size=40) | st.lists(_BYTE, max_size=12).map(bytes), max_size=12
)


@given(_CHUNKS)
def test_the_fast_path_reads_every_stream_as_byte_by_byte_did(chunks: list[bytes]) -> None:
    fast, slow = QuerySplitter(), ByteByByte()
    for chunk in chunks:
        assert fast.feed(chunk) == slow.feed(chunk)
    assert fast.pulses == slow.pulses


def test_queries_and_pulses_between_print_data() -> None:
    splitter = QuerySplitter()
    data, queries = splitter.feed(b"abc\x10\x04\x01def\x10\x14\x01\x00\x05gh\x10")
    assert (data, queries) == (b"abcdefgh", [StatusKind(1)])
    assert splitter.pulses == [(2, 500)]
    assert splitter.feed(b"\x04\x04xyz") == (b"xyz", [StatusKind(4)])  # the split query
