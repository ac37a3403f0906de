"""The base model for every payload on the wire: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError
from pydantic.alias_generators import to_camel

#: Ids of companies, branches, agents, printers: short, printable, no separators that could
#: forge a room name (a colon) or a path (a slash).
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")]

#: Printer ids are built from the connection ("usb:04b8:0e15:SN123", "net:127.0.0.1:9100"),
#: so they may contain colons; they are never used to build a room name.
PrinterId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}$")]

#: Correlation ids tie a request to its result across hops (UUIDs in practice).
CorrelationId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{7,99}$")]

ShortText = Annotated[str, StringConstraints(max_length=200)]
LongText = Annotated[str, StringConstraints(max_length=2000)]


class WireModel(BaseModel):
    """A strict payload: unknown fields are errors, names are camelCase on the wire."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        str_strip_whitespace=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """Serialise to the JSON-ready dict sent on the wire (camelCase, no None fields)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class OpenWireModel(WireModel):
    """A payload owned by the platform (orders, stock): required fields are checked and
    extra fields pass through untouched, so the platform can add data without a hub release."""

    model_config = ConfigDict(extra="allow")


class ErrorInfo(WireModel):
    """A machine-readable code and a human-readable message."""

    code: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,63}$")]
    message: LongText
    field: ShortText | None = None


def error_dict(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    """The ``{"code", "message"[, "field"]}`` dict used by acks, connect errors and HTTP bodies."""
    return ErrorInfo(code=code, message=message, field=field).to_wire()


NonNegativeInt = Annotated[int, Field(ge=0)]


def first_error(exc: ValidationError) -> tuple[str | None, str]:
    """The dotted wire path (None for the whole object) and the message of a model's first
    validation error: what every refusal names, so a client knows which field to fix."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    return where, str(first["msg"])
