"""Reading the frames a websocket client sends (RFC 6455 section 5), sans-IO.

Why our own and not aiohttp's reader: hub.ws_link serves an idle websocket with no task and
no per-connection reader objects (issue 14: memory per idle connection). aiohttp's reader is
built to feed a queue read by a task per connection; this parser is a bytearray and four
integers, fed from ``data_received``, and hands back whole messages. It accepts exactly what a
server without extensions must: masked frames, no RSV bits, control frames of at most 125
bytes that are never fragmented, continuation frames only inside a fragmented message, text
that is valid UTF-8. Anything else is a :class:`FrameError` carrying the close code to send.
tests/hub/test_ws_frames.py feeds it frames built by aiohttp's client-side writer (a peer we
did not write), split at every byte.
"""

from __future__ import annotations

import struct

CONTINUATION, TEXT, BINARY, CLOSE, PING, PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA
CONTROL = (CLOSE, PING, PONG)

#: Close codes (RFC 6455 section 7.4.1).
NORMAL, GOING_AWAY, PROTOCOL_ERROR, INVALID_DATA, TOO_BIG = 1000, 1001, 1002, 1007, 1009

#: Codes a peer may put in a close frame (RFC 6455 section 7.4, IANA's registry), besides
#: the 3000-4999 range for libraries and applications.
_SENDABLE = frozenset((1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014))

_U16 = struct.Struct("!H").unpack_from
_U64 = struct.Struct("!Q").unpack_from


class FrameError(Exception):
    """The client broke the protocol: close the connection with ``code``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def unmask(data: bytes | bytearray, mask: bytes | bytearray) -> bytes:
    """XOR ``data`` with the 4-byte ``mask`` repeated (one big-integer XOR, not a byte loop)."""
    size = len(data)
    if not size:
        return b""
    key = (bytes(mask) * ((size + 3) // 4))[:size]
    mixed = int.from_bytes(data, "little") ^ int.from_bytes(key, "little")
    return mixed.to_bytes(size, "little")


class ClientFrames:
    """Frames in, messages out: ``feed`` returns ``(opcode, payload)`` per whole message.

    Text messages come back as ``str``, binary ones as ``bytes``; control frames (close, ping,
    pong) come back as they arrive, between the fragments of a message if the client sends
    them there. ``max_message`` bounds a message (all its fragments), 0 for no bound.
    """

    __slots__ = ("_buffer", "_max", "_opcode", "_parts", "_size")

    def __init__(self, max_message: int) -> None:
        self._buffer = bytearray()
        self._max = max_message
        self._opcode = 0  # of the fragmented message under way, 0 when none
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, data: bytes) -> list[tuple[int, str | bytes]]:
        """Parse what arrived; raises FrameError when the client broke the protocol."""
        buffer = self._buffer
        buffer += data
        out: list[tuple[int, str | bytes]] = []
        start = 0
        end = len(buffer)
        while end - start >= 2:
            first, second = buffer[start], buffer[start + 1]
            length, head = second & 0x7F, 2
            if length == 126:
                if end - start < 4:
                    break
                length, head = _U16(buffer, start + 2)[0], 4
            elif length == 127:
                if end - start < 10:
                    break
                length, head = _U64(buffer, start + 2)[0], 10
            self._check_header(first, second, length)
            total = head + 4 + length
            if end - start < total:
                break
            mask = buffer[start + head : start + head + 4]
            payload = unmask(buffer[start + head + 4 : start + total], mask)
            start += total
            message = self._take(first, payload)
            if message is not None:
                out.append(message)
        if start:
            del buffer[:start]
        return out

    def _check_header(self, first: int, second: int, length: int) -> None:
        opcode = first & 0x0F
        if first & 0x70:
            raise FrameError(PROTOCOL_ERROR, "reserved bits set without an extension")
        if not second & 0x80:
            raise FrameError(PROTOCOL_ERROR, "a client frame must be masked")
        if opcode in CONTROL:
            if not first & 0x80 or length > 125:
                raise FrameError(PROTOCOL_ERROR, "a control frame must be whole and short")
            return
        if opcode not in (CONTINUATION, TEXT, BINARY):
            raise FrameError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
        if opcode == CONTINUATION and not self._opcode:
            raise FrameError(PROTOCOL_ERROR, "a continuation frame outside a message")
        if opcode != CONTINUATION and self._opcode:
            raise FrameError(PROTOCOL_ERROR, "a new message inside a fragmented one")
        if self._max and self._size + length > self._max:
            raise FrameError(TOO_BIG, f"message over {self._max} bytes")

    def _take(self, first: int, payload: bytes) -> tuple[int, str | bytes] | None:
        opcode = first & 0x0F
        if opcode in CONTROL:
            return opcode, payload
        if not first & 0x80:  # a fragment: the message goes on
            self._opcode = self._opcode or opcode
            self._parts.append(payload)
            self._size += len(payload)
            return None
        if self._opcode:
            opcode = self._opcode
            payload = b"".join((*self._parts, payload))
            self._opcode, self._parts, self._size = 0, [], 0
        if opcode == BINARY:
            return opcode, payload
        try:
            return opcode, payload.decode("utf-8")
        except UnicodeDecodeError:
            raise FrameError(INVALID_DATA, "a text message that is not UTF-8") from None


def close_reason(payload: bytes) -> tuple[int, str]:
    """The status code and reason of a client's close frame (1005-less: 1000 when empty)."""
    if not payload:
        return NORMAL, ""
    if len(payload) < 2:
        raise FrameError(PROTOCOL_ERROR, "a close frame with a one-byte body")
    code = _U16(payload)[0]
    if code not in _SENDABLE and not 3000 <= code <= 4999:
        raise FrameError(PROTOCOL_ERROR, f"close code {code} may not be sent")
    try:
        return code, payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise FrameError(INVALID_DATA, "a close reason that is not UTF-8") from None


def close_frame(code: int, reason: str = "") -> bytes:
    """A server's (unmasked) close frame."""
    body = code.to_bytes(2, "big") + reason.encode()[:123]
    return bytes((0x88, len(body))) + body
