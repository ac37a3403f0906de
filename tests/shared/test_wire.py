"""The contract's text types refuse control characters; refusals themselves never fail."""

from __future__ import annotations

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from shared.documents import ReceiptDocument
from shared.events import AgentHello
from shared.wire import (
    MULTILINE,
    CorrelationId,
    Identifier,
    LongText,
    PrinterId,
    Secret,
    ShortText,
    error_dict,
    refused_class,
)

SINGLE = TypeAdapter(ShortText)
MULTI = TypeAdapter(LongText)
CONTROLS = [chr(c) for c in range(0x20)] + ["\x7f"]


@pytest.mark.parametrize("char", CONTROLS)
def test_short_text_refuses_every_control(char: str) -> None:
    with pytest.raises(ValidationError, match="control character"):
        SINGLE.validate_python(f"a{char}b")


@pytest.mark.parametrize("char", CONTROLS)
def test_long_text_keeps_only_tab_and_newline(char: str) -> None:
    if char in MULTILINE:
        assert MULTI.validate_python(f"a{char}b") == f"a{char}b"
    else:
        with pytest.raises(ValidationError, match="control character"):
            MULTI.validate_python(f"a{char}b")


@pytest.mark.parametrize("kind", [ShortText, LongText, Secret, Identifier, PrinterId])
def test_lone_surrogates_are_refused(kind: object) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(kind).validate_python("ab\ud800cd")


@pytest.mark.parametrize("kind", [Identifier, PrinterId, CorrelationId])
@pytest.mark.parametrize("value", ["abcdefgh\n", "abcd\x00efgh", "abcdefgh\x7f"])
def test_ids_refuse_controls_even_at_the_end(kind: object, value: str) -> None:
    with pytest.raises(ValidationError):
        TypeAdapter(kind).validate_python(value)


def test_printable_text_passes_unchanged() -> None:
    text = "Café Ünïcode ✓ 漢字 \u0085 tail"
    assert SINGLE.validate_python(text) == text


def test_json_schema_pattern_agrees_with_the_validator() -> None:
    pattern = re.compile(TypeAdapter(ShortText).json_schema()["pattern"])
    for char in CONTROLS:
        assert not pattern.fullmatch(f"a{char}")
    assert pattern.match("plain text")
    assert refused_class(MULTILINE) == "\\u0000-\\u0008\\u000b-\\u001f\\u007f"


def test_models_use_the_text_types() -> None:
    with pytest.raises(ValidationError) as info:
        AgentHello.model_validate(
            {"agentId": "a1", "hostname": "h", "os": "linux\x00", "version": "1"}
        )
    assert info.value.errors()[0]["loc"] == ("os",)
    with pytest.raises(ValidationError):
        ReceiptDocument.model_validate({"lines": [{"text": "total\x1b@"}]})


def test_error_dict_never_fails_on_what_a_client_sent() -> None:
    body = error_dict("invalid_payload", "x" * 5000 + "\x00\ud800", "k\x00" * 300)
    assert len(body["message"]) == 2000
    assert len(body["field"]) == 200
    assert "\x00" not in body["field"]
    assert error_dict("bad_x", "a\x00\ud800")["message"] == "a\\x00\\ud800"
