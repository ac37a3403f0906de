"""schemathesis against the hub's served OpenAPI document, on a live hub over loopback.

Every operation gets schema-valid and schema-violating requests (with a token that gets past
authentication: a service token for publishing, an admin's for the connection pool, a
manager's for the rest), and every answer goes through schemathesis's checks: no server
error, a documented status, content type, headers and body, and invalid input refused.

One check is off: ``positive_data_acceptance`` expects any schema-valid request to succeed,
but some refusals of valid-looking input are the API's business (a random pairing code is
wrong; a job needs exactly one of ``raw`` and ``document``, which JSON Schema as generated
from the models does not say).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import Phase, assume, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.core.failures import FailureGroup

from shared.tokens import Role
from tests.hub.fuzz.conftest import FUZZ, ErrorLog
from tests.support import HubHarness

CONFIG = {"checks": {"positive_data_acceptance": {"enabled": False}}}


def _token_for(path: str, tokens: dict[Role, str]) -> str:
    if path.startswith("/api/v1/events"):
        return tokens[Role.SERVICE]
    if path == "/api/v1/connections":
        return tokens[Role.ADMIN]
    return tokens[Role.MANAGER]


def _fuzz_operation(
    operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]
) -> None:
    session = requests.Session()

    @settings(FUZZ, max_examples=max(10, FUZZ.max_examples // 3), phases=[Phase.generate])
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case: Any) -> None:
        # requests drops a query parameter with an empty name or a None value (or a list of
        # nothing but None), so the hub never sees it and cannot refuse it.
        query = case.query or {}
        assume(all(key != "" for key in query))
        assume(all(v is not None and v != [] and v != [None] for v in query.values()))
        case.call_and_validate(base_url=base_url, session=session, headers=headers, timeout=15)

    with contextlib.suppress(Unsatisfiable):  # nothing to make invalid (no parameters, no body)
        run()


def run_schemathesis(base_url: str, tokens: dict[Role, str]) -> list[str]:
    """Fuzz every operation in both modes; one line per operation and mode that failed."""
    config = schemathesis.Config.from_dict(CONFIG)
    schema = schemathesis.openapi.from_url(base_url + "/api/v1/openapi.json", config=config)
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        headers = {"Authorization": f"Bearer {_token_for(operation.path, tokens)}"}
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz_operation(operation, mode, base_url, headers)
            except (Exception, FailureGroup) as exc:
                failures.append(f"{operation.method.upper()} {operation.path} ({mode}): {exc}")
    return failures


@pytest.mark.slow
async def test_schemathesis_finds_nothing(any_hub: HubHarness, error_log: ErrorLog) -> None:
    tokens = {
        Role.MANAGER: any_hub.token(Role.MANAGER, "acme"),
        Role.ADMIN: any_hub.token(Role.ADMIN, "acme"),
        Role.SERVICE: any_hub.token(Role.SERVICE, None),
    }
    failures = await asyncio.to_thread(run_schemathesis, any_hub.url, tokens)
    assert failures == [], "\n\n".join(failures)
    status, body = await any_hub.get("/healthz")
    assert (status, body["status"]) == (200, "ok")
    assert error_log.summary() == []
