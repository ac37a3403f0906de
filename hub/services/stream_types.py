"""What the stream service and its backends exchange: drafts in, entries out.

A :class:`Draft` is an event on its way into a company's stream; an :class:`Entry` is the same
event with its place (its offset). A backend (the database for one hub, Redis for a cluster)
appends drafts, says where a stream is, reads entries back in order, and hands every appended
entry, in order, to one live sink on each instance.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from shared.namespaces import Namespace
from shared.streams import Head, StreamOffset, with_offset


class StreamUnavailable(Exception):
    """The stream can neither take nor give events right now (its store is unreachable)."""


@dataclass(frozen=True)
class Draft:
    """An event to append: where it goes, what it says, and how a retry is recognised."""

    company_id: str
    branch_id: str | None
    namespace: Namespace
    event: str
    payload: dict[str, Any]
    #: The publisher's id: a second publish within the retention gets the first answer.
    event_id: str | None = None
    #: The publish API's answer without the offset (kept with the event id for retries).
    answer: dict[str, Any] = field(default_factory=dict)
    #: The hub's own id of this append, so the outbox's retries never append it twice.
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex)

    def to_json(self) -> str:
        """The draft as JSON (the outbox keeps it so)."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Draft:
        """A draft read back from :meth:`to_json`."""
        data = json.loads(text)
        data["namespace"] = Namespace(data["namespace"])
        return cls(**data)


@dataclass(frozen=True)
class Entry:
    """An event in a company's stream, with its offset."""

    company_id: str
    branch_id: str | None
    namespace: Namespace
    event: str
    payload: dict[str, Any]
    offset: StreamOffset

    @property
    def seq(self) -> int:
        """Its place in the company's stream (within its epoch)."""
        return self.offset.seq

    def wire(self) -> dict[str, Any]:
        """The payload as clients receive it (with ``_offset``)."""
        return with_offset(self.payload, self.offset)


@dataclass(frozen=True)
class Appended:
    """The outcome of an append: a new entry, a duplicate's first answer, or queued for later."""

    entry: Entry | None = None
    #: For a duplicate: the answer the first publish got (with its offset, if it had one).
    first_answer: dict[str, Any] | None = None
    #: In the outbox, not in the stream yet (it gets its offset when the outbox is flushed).
    queued: bool = False

    @property
    def duplicate(self) -> bool:
        """Whether the draft had been published before (nothing new was appended)."""
        return self.first_answer is not None


def answer_with(draft: Draft, offset: StreamOffset | None) -> dict[str, Any]:
    """The draft's answer with its offset (None: not in the stream yet, queued)."""
    return {**draft.answer, "offset": None if offset is None else offset.to_wire()}


Sink = Callable[[Entry], Awaitable[None]]


class StreamBackend(Protocol):
    """Where streams live: the database (one hub) or Redis (a cluster)."""

    def validate(self, draft: Draft) -> None:
        """Raise PayloadError for a draft this backend would refuse (before anything is kept)."""
        ...

    async def append(self, draft: Draft) -> Appended:
        """Append a draft (or find it appended already); raise StreamUnavailable."""
        ...

    async def append_many(self, drafts: Sequence[Draft]) -> list[Appended | StreamUnavailable]:
        """Append validated drafts in order: each one's outcome (StreamUnavailable: not kept)."""
        ...

    async def head(self, company_id: str) -> Head:
        """The stream's epoch, last seq and oldest kept seq; raise StreamUnavailable."""
        ...

    async def read(self, company_id: str, after: int, limit: int) -> list[Entry]:
        """Up to ``limit`` entries after seq ``after``, in order; raise StreamUnavailable."""
        ...

    async def start(self, sink: Sink) -> None:
        """Begin handing every appended entry to ``sink``, in stream order."""
        ...

    async def stop(self) -> None:
        """Stop the live feed and release connections."""
        ...

    async def trim(self) -> None:
        """Drop what is past the retention (called periodically)."""
        ...
