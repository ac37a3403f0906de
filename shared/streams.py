"""Company streams on the wire: offsets, the ``since`` a client sends back, recovery answers.

Theory of operation. Every streamed event (``STREAMED``) of a company is appended to that
company's stream before any client sees it, and reaches clients with the reserved payload
field ``_offset`` = ``{"stream": companyId, "epoch": "...", "seq": n}``. ``seq`` counts the
company's events from 1 and never repeats within an epoch; the epoch is a random token
minted when the stream's history begins (a new database, a Redis that lost its data), so an
offset from lost history can never be mistaken for a current one.

A client that reconnects sends its last offset as ``auth.since``. The hub answers every web
client, right after connect (and after the replay, if any), with ``stream:status``:
``recovered: true`` when every event after ``since`` that the client may see was replayed in
order, else ``recovered: false`` with a code saying why, and in both cases the stream's current
offset. :func:`recovery_problem` is that decision, as a table of pure checks.

Nothing here performs I/O; the hub's services do (hub/services/streams.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, ValidationError

from shared.namespaces import Namespace
from shared.wire import Identifier, LongText, NonNegativeInt, WireModel, first_error

#: The payload field the hub adds to every streamed event. Payload models never define a
#: field of this name (camelCase names cannot start with "_"), and the publish API refuses a
#: payload that brings its own, so the field always means what the hub put there.
OFFSET_FIELD = "_offset"
#: The event the hub sends a web client after connect: recovered or not, and the offset.
STATUS_EVENT = "stream:status"
#: Largest sequence number (JavaScript's Number.MAX_SAFE_INTEGER: browsers compare it exactly).
MAX_SEQ = 2**53 - 1

Epoch = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_\-]{1,64}$")]
Seq = Annotated[int, Field(ge=0, le=MAX_SEQ, strict=True)]

#: Why a reconnecting client was not recovered (``stream:status.code``).
RecoveryCode = Literal[
    "offset_missing",  # no ``since`` sent: a first connect
    "offset_invalid",  # ``since`` is not an offset object
    "offset_foreign",  # ``since`` names another company's stream
    "offset_epoch",  # ``since`` is from history this stream no longer has (a new epoch)
    "offset_expired",  # the events after ``since`` are older than the retention
    "offset_unknown",  # ``since`` is ahead of the stream: never issued by it
]

MESSAGES: Mapping[str, str] = {
    "offset_missing": "no since offset was sent; load the current state over REST",
    "offset_invalid": "since must be an object {stream, epoch, seq}; reload over REST",
    "offset_foreign": "since names another company's stream; nothing was replayed",
    "offset_epoch": "the stream's history was lost since this offset (new epoch); reload",
    "offset_expired": "events after this offset are past the retention; reload over REST",
    "offset_unknown": "this offset was never issued by the stream; reload over REST",
}

P, ORD, A = Namespace.PRINTING, Namespace.ORDERS, Namespace.AVAILABILITY

#: The hub-to-client events kept in the company stream and replayed on reconnect: every
#: platform event of /orders and /availability, and the printing events a manager's screen
#: must not miss. Presence (agent:status, printer:discovered/removed) is state, reloaded over
#: REST, and the per-connection auth:* events belong to one socket, not to the company.
STREAMED: frozenset[tuple[Namespace, str]] = frozenset(
    {
        (ORD, "newOrder"),
        (ORD, "orderStatusUpdate"),
        (ORD, "orderCancelled"),
        (ORD, "driverUpdate"),
        (A, "availabilityUpdate"),
        (A, "bulkAvailabilityUpdate"),
        (A, "stockAlert"),
        (A, "newAlert"),
        (P, "printJobUpdate"),
        (P, "printerStatusUpdate"),
        (P, "printer:test:result"),
    }
)


def is_streamed(namespace: Namespace | str, name: str) -> bool:
    """Whether an event of a namespace is appended to its company's stream."""
    try:
        return (Namespace(namespace), name) in STREAMED
    except ValueError:
        return False


class StreamOffset(WireModel):
    """A place in one company's stream: the ``_offset`` of an event, and a client's ``since``."""

    stream: Identifier
    epoch: Epoch
    seq: Seq


class StreamStatus(WireModel):
    """Hub to a web client after connect: whether it was recovered, and where the stream is."""

    stream: Identifier
    recovered: bool
    offset: StreamOffset
    replayed: NonNegativeInt = 0
    code: RecoveryCode | None = None
    message: LongText | None = None


class SinceError(Exception):
    """A ``since`` the hub cannot use; ``code`` is a :data:`RecoveryCode`."""

    def __init__(self, code: RecoveryCode, detail: str | None = None) -> None:
        super().__init__(detail or MESSAGES[code])
        self.code: RecoveryCode = code
        self.message = detail or MESSAGES[code]


def since_of(auth: Any) -> StreamOffset | None:
    """The ``since`` of a connect's auth object: None when absent, SinceError when malformed."""
    if not isinstance(auth, Mapping) or auth.get("since") is None:
        return None
    try:
        return StreamOffset.model_validate(auth["since"])
    except ValidationError as exc:
        where, message = first_error(exc)
        detail = f"since.{where}: {message}" if where else f"since: {message}"
        raise SinceError("offset_invalid", f"{MESSAGES['offset_invalid']} ({detail})") from None


def with_offset(payload: Mapping[str, Any], offset: StreamOffset) -> dict[str, Any]:
    """The payload as a client receives it: its own fields and the hub's ``_offset``."""
    return {**payload, OFFSET_FIELD: offset.to_wire()}


@dataclass(frozen=True)
class Head:
    """Where a company's stream is: its epoch, its last seq, its oldest retained seq."""

    stream: str
    epoch: str
    seq: int
    #: The oldest seq still kept (None: nothing kept, everything trimmed or nothing yet).
    first: int | None

    @property
    def offset(self) -> StreamOffset:
        """The offset of the newest event (seq 0 before the first)."""
        return StreamOffset(stream=self.stream, epoch=self.epoch, seq=self.seq)


def recovery_problem(since: StreamOffset, head: Head) -> RecoveryCode | None:
    """Why the events after ``since`` cannot be replayed from ``head``'s stream; None if they can.

    Checked in this order, the first that applies wins: another company's stream, another
    epoch, an offset the stream never reached, events already trimmed away.
    """
    if since.stream != head.stream:
        return "offset_foreign"
    if since.epoch != head.epoch:
        return "offset_epoch"
    if since.seq > head.seq:
        return "offset_unknown"
    if since.seq == head.seq:
        return None
    kept_from = head.first if head.first is not None else head.seq + 1
    return "offset_expired" if since.seq + 1 < kept_from else None


def status_of(
    head: Head, code: RecoveryCode | None, replayed: int = 0, message: str | None = None
) -> StreamStatus:
    """The ``stream:status`` for a client: recovered unless ``code`` says why not."""
    return StreamStatus(
        stream=head.stream,
        recovered=code is None,
        offset=head.offset,
        replayed=replayed,
        code=code,
        message=None if code is None else (message or MESSAGES[code]),
    )
