"""The control protocol without a socket: lines in, requests and coded errors out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from agent.control.protocol import (
    ERRORS,
    MAX_LINE,
    ProtocolError,
    Request,
    Response,
    decode_request,
    decode_response,
    error_response,
)


def line(body: object) -> bytes:
    return json.dumps(body).encode() + b"\n"


def test_a_request_round_trips() -> None:
    request = Request(7, "test_print", {"printer": "Kitchen"})
    assert decode_request(request.encode()) == request
    assert request.encode().endswith(b"\n") and request.encode().count(b"\n") == 1


def test_params_default_to_an_empty_object() -> None:
    assert decode_request(line({"v": 1, "id": "a", "op": "status"})).params == {}


def test_responses_round_trip_with_results_and_errors() -> None:
    ok = decode_response(Response(3, result={"x": [1]}).encode())
    assert ok.ok and ok.id == 3 and ok.result == {"x": [1]}
    bad = error_response(ProtocolError("unknown_op", "no operation 'x'", 4), ops=["status"])
    decoded = decode_response(bad.encode())
    assert not decoded.ok and decoded.id == 4
    assert (decoded.error_code, decoded.details) == ("unknown_op", {"ops": ["status"]})


@pytest.mark.parametrize(
    ("raw", "code", "request_id"),
    [
        (b"not json\n", "bad_json", None),
        (b"\xff\xfe\n", "bad_json", None),
        (line([1, 2]), "bad_json", None),
        (line({"v": 1, "id": 1}), "bad_request", 1),
        (line({"v": 1, "id": 1, "op": ""}), "bad_request", 1),
        (line({"v": 1, "id": 1, "op": "status", "params": [1]}), "bad_request", 1),
        (line({"v": 1, "id": True, "op": "status"}), "bad_request", None),
        (line({"v": 1, "id": 2.5, "op": "status"}), "bad_request", None),
        (line({"v": 1, "id": "x" * 65, "op": "status"}), "bad_request", None),
        (line({"v": 1, "id": 2**60, "op": "status"}), "bad_request", None),
        (line({"v": 2, "id": "z", "op": "status"}), "unsupported_version", "z"),
        (line({"id": "z", "op": "status"}), "unsupported_version", "z"),
        (b"{" + b" " * MAX_LINE + b"}\n", "too_large", None),
    ],
)
def test_bad_requests_get_their_code(raw: bytes, code: str, request_id: object) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_request(raw)
    assert (caught.value.code, caught.value.request_id) == (code, request_id)
    assert code in ERRORS


def test_an_unknown_code_is_a_programming_error() -> None:
    with pytest.raises(AssertionError):
        ProtocolError("no_such_code", "x")


@given(st.binary(max_size=300))
def test_any_bytes_decode_or_get_a_code(raw: bytes) -> None:
    code = None
    try:
        decode_request(raw)
    except ProtocolError as exc:
        code = exc.code
    assert code is None or code in ERRORS


@given(
    st.dictionaries(
        st.sampled_from(["v", "id", "op", "params", "x"]),
        st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.lists(st.integers()),
    )
)
def test_any_object_decodes_or_gets_a_code(body: dict[str, object]) -> None:
    try:
        request = decode_request(line(body))
    except ProtocolError as exc:
        assert_known(exc)
    else:
        assert isinstance(request.op, str) and isinstance(request.params, dict)


def assert_known(exc: ProtocolError) -> None:
    assert exc.code in ERRORS, exc.code


def test_the_documented_error_codes_are_the_protocol_s() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "control-api.md").read_text()
    table = doc.split("### Error codes", 1)[1].split("\n\n", 2)[1]
    documented = [row.split("|")[1].strip().strip("`") for row in table.splitlines()[2:]]
    assert documented == list(ERRORS)
