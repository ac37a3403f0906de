"""Check a real answer against the served OpenAPI document: status listed, body valid."""

from __future__ import annotations

from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

BASE = "urn:chit:openapi"


class DocumentChecker:
    """Validates (method, path template, status, body) against one OpenAPI document."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource.from_contents(document, default_specification=DRAFT202012)
        self._registry: Registry[Any] = Registry().with_resource(BASE, resource)

    def response(self, method: str, path: str, status: int) -> dict[str, Any]:
        """The documented response, or AssertionError when the status is not documented."""
        operation = self.document["paths"][path][method.lower()]
        documented = operation["responses"]
        assert str(status) in documented, (
            f"{method.upper()} {path} answered {status}; documented: {sorted(documented)}"
        )
        return dict(documented[str(status)])

    def check(self, method: str, path: str, status: int, body: Any, media: str) -> None:
        """Assert that the answer is one the document describes."""
        response = self.response(method, path, status)
        content = response.get("content", {})
        assert media in content, f"{method.upper()} {path} {status}: {media} not in {content}"
        schema = content[media]["schema"]
        if "$ref" in schema:
            schema = {"$ref": BASE + schema["$ref"]}
        validator = Draft202012Validator(schema, registry=self._registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))
        assert not errors, f"{method.upper()} {path} {status}: {errors[0].message} at " + (
            "/".join(map(str, errors[0].absolute_path)) or "the root"
        )
