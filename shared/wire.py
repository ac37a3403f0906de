"""The base model for every payload on the wire: camelCase on the wire, snake_case in Python."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    StringConstraints,
    ValidationError,
)
from pydantic.alias_generators import to_camel
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, core_schema

#: Control characters no text field holds: C0 and DEL. Tab and newline are allowed back where
#: a field legitimately holds multi-line text.
CONTROLS = frozenset([*map(chr, range(0x20)), "\x7f"])


@functools.cache
def refused_class(allowed: str = "") -> str:
    """The body of a regex character class (Python and ECMA-262 alike) of refused controls."""
    refused = sorted(ord(c) for c in CONTROLS - set(allowed))
    runs: list[list[int]] = []
    for code in refused:
        if runs and runs[-1][-1] == code - 1:
            runs[-1].append(code)
        else:
            runs.append([code])
    return "".join(
        f"\\u{run[0]:04x}" + (f"-\\u{run[-1]:04x}" if len(run) > 1 else "") for run in runs
    )


@functools.cache
def _refused_pattern(allowed: str) -> re.Pattern[str]:
    return re.compile(f"[{refused_class(allowed)}]")


def first_control(value: str, allowed: str = "") -> tuple[int, str] | None:
    """The position and character of the first refused control in ``value``, if any."""
    found = _refused_pattern(allowed).search(value)
    return (found.start(), found.group()) if found else None


@dataclass(frozen=True)
class Printable:
    """Pydantic marker: the text may hold no control characters except those ``allowed``.

    They have no place in names and messages: they forge log lines, a receipt printer takes
    them as commands, and PostgreSQL cannot store NUL in a text column. Lone surrogates (not
    encodable as UTF-8) are already refused by pydantic's string validation. The JSON Schema
    carries the rule as a ``pattern``, so schema-driven clients and tests know it too.
    """

    allowed: str = ""

    def check(self, value: str) -> str:
        """``value`` unchanged, or ValueError naming the first refused character."""
        found = first_control(value, self.allowed)
        if found is not None:
            index, char = found
            raise ValueError(
                f"contains a control character (U+{ord(char):04X}) at position {index}"
            )
        return value

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        """Run :meth:`check` after the string's own validation."""
        return core_schema.no_info_after_validator_function(self.check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """Describe the rule as a pattern."""
        json_schema = handler(schema)
        json_schema["pattern"] = f"^[^{refused_class(self.allowed)}]*$"
        return json_schema


#: What a multi-line text field may hold besides printable characters.
MULTILINE = "\t\n"

#: Ids of companies, branches, agents, printers: short, printable, no separators that could
#: forge a room name (a colon) or a path (a slash).
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")]

#: Printer ids are built from the connection ("usb:04b8:0e15:SN123", "net:127.0.0.1:9100"),
#: so they may contain colons; they are never used to build a room name.
PrinterId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{0,199}$")]

#: Correlation ids tie a request to its result across hops (UUIDs in practice).
CorrelationId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:\-]{7,99}$")]

#: A name, label or status: one line, no control characters.
ShortText = Annotated[str, StringConstraints(max_length=200), Printable()]
#: A message or note: may span lines (tab and newline), no other controls.
LongText = Annotated[str, StringConstraints(max_length=2000), Printable(MULTILINE)]
#: A secret typed by a person (a password): any printable text, never empty, bounded.
Secret = Annotated[str, StringConstraints(min_length=1, max_length=1024), Printable(MULTILINE)]


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
    """The ``{"code", "message"[, "field"]}`` dict used by acks, connect errors and HTTP bodies.

    Messages and field names may quote what a client sent (a field path is made of the
    client's keys), so both are made printable and clipped first: a refusal never fails.
    """
    shown = None if field is None else printable(field, 200)
    return ErrorInfo(code=code, message=printable(message, 2000, MULTILINE), field=shown).to_wire()


def printable(text: str, limit: int, allowed: str = "") -> str:
    """``text`` with refused controls and lone surrogates escaped, clipped to ``limit``."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    text = _refused_pattern(allowed).sub(lambda m: f"\\x{ord(m.group()):02x}", text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


NonNegativeInt = Annotated[int, Field(ge=0)]


def first_error(exc: ValidationError) -> tuple[str | None, str]:
    """The dotted wire path (None for the whole object) and the message of a model's first
    validation error: what every refusal names, so a client knows which field to fix."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or None
    return where, str(first["msg"])
