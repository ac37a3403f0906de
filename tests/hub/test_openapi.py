"""The served OpenAPI document describes exactly the routes the hub serves, and is valid."""

from __future__ import annotations

from openapi_spec_validator import validate

from tests.support import HubHarness


def _served_routes(hub: HubHarness) -> set[tuple[str, str]]:
    app = hub.running.runner.app
    found = set()
    for route in app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if (
            path
            and (path.startswith("/api/") or path in ("/healthz", "/readyz", "/metrics"))
            and route.method not in ("HEAD", "*")
        ):
            found.add((route.method.lower(), path))
    return found


async def test_document_matches_the_routes(hub: HubHarness) -> None:
    status, doc = await hub.get("/api/v1/openapi.json")
    assert status == 200
    described = {(method, path) for path, ops in doc["paths"].items() for method in ops}
    assert described == _served_routes(hub)


async def test_document_is_valid_openapi(hub: HubHarness) -> None:
    _, doc = await hub.get("/api/v1/openapi.json")
    validate(doc)
