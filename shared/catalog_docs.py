"""Render the event catalog as Markdown (docs/events.md) and AsyncAPI 3.0 (docs/asyncapi.yaml).

Pure functions returning text or data; ``scripts/render_docs.py`` writes the files and a test
fails when the committed files differ from what this renders.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema

from shared import PROTOCOL_VERSION
from shared.events import CATALOG, EventSpec, events_of
from shared.namespaces import ALLOWED_ROLES, Namespace
from shared.publish import PublishRequest
from shared.wire import WireModel

SCHEMA_REF = "#/components/schemas/{model}"
ROOMS_NOTE = "Rooms: company:{id}, branch:{id}."


def _schemas() -> tuple[dict[type[WireModel], str], dict[str, Any]]:
    models: list[type[WireModel]] = list(dict.fromkeys([s.model for s in CATALOG]))
    models.append(PublishRequest)
    keyed, top = models_json_schema(
        [(m, "validation") for m in models], ref_template=SCHEMA_REF, by_alias=True
    )
    names = {m: keyed[(m, "validation")]["$ref"].rsplit("/", 1)[1] for m in models}
    return names, dict(top.get("$defs", {}))


def _key(spec: EventSpec) -> str:
    return re.sub(r"[^\w.\-]", "_", f"{spec.namespace.strip('/')}.{spec.name}")


def _channel(namespace: Namespace) -> str:
    return namespace.strip("/")


def _message(spec: EventSpec, schema_name: str) -> dict[str, Any]:
    return {
        "name": spec.name,
        "title": spec.name,
        "summary": spec.summary,
        "payload": {"$ref": SCHEMA_REF.format(model=schema_name)},
        "x-critical": spec.critical,
        "x-senders": sorted(str(r) for r in spec.senders),
        "x-publishable": spec.publishable,
    }


def _operations(spec: EventSpec) -> dict[str, Any]:
    ref = {"$ref": f"#/channels/{_channel(spec.namespace)}"}
    message = {"$ref": f"#/channels/{_channel(spec.namespace)}/messages/{_key(spec)}"}
    ops: dict[str, Any] = {}
    if spec.to_clients:
        ops[f"{_key(spec)}.send"] = {
            "action": "send",
            "channel": ref,
            "messages": [message],
            "summary": f"Hub emits {spec.name}.",
        }
    if spec.from_clients:
        ops[f"{_key(spec)}.receive"] = {
            "action": "receive",
            "channel": ref,
            "messages": [message],
            "summary": f"Hub accepts {spec.name} from {', '.join(sorted(spec.senders))}.",
        }
    return ops


def asyncapi_document(version: str) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every namespace and event."""
    names, schemas = _schemas()
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for namespace in Namespace:
        refs = {}
        for spec in events_of(namespace):
            messages[_key(spec)] = _message(spec, names[spec.model])
            refs[_key(spec)] = {"$ref": f"#/components/messages/{_key(spec)}"}
            operations.update(_operations(spec))
        roles = ", ".join(sorted(ALLOWED_ROLES[namespace]))
        channels[_channel(namespace)] = {
            "address": str(namespace),
            "title": f"Socket.IO namespace {namespace}",
            "description": f"Roles allowed to connect: {roles}. " + ROOMS_NOTE,
            "messages": refs,
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Chit hub",
            "version": version,
            "description": "Socket.IO namespaces of the Chit hub. Generated from shared/events.py"
            f" (protocol {PROTOCOL_VERSION}); do not edit by hand.",
        },
        "defaultContentType": "application/json",
        "servers": {
            "hub": {
                "host": "localhost:3001",
                "protocol": "ws",
                "description": "Socket.IO over WebSocket; JWT in auth.token",
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": schemas},
    }


def _type_of(prop: dict[str, Any]) -> str:
    if "$ref" in prop:
        return str(prop["$ref"]).rsplit("/", 1)[1]
    if "anyOf" in prop:
        return " or ".join(_type_of(p) for p in prop["anyOf"])
    if "enum" in prop:
        return " \\| ".join(f"`{v}`" for v in prop["enum"])
    if "const" in prop:
        return f"`{prop['const']}`"
    if prop.get("type") == "array":
        return f"list of {_type_of(prop.get('items', {}))}"
    kind = str(prop.get("type", "any"))
    return f"{kind} ({prop['format']})" if "format" in prop else kind


def _field_rows(schema: dict[str, Any]) -> list[str]:
    required = set(schema.get("required", []))
    rows = []
    for name, prop in schema.get("properties", {}).items():
        need = "yes" if name in required else "no"
        rows.append(f"| `{name}` | {_type_of(prop)} | {need} |")
    return rows


def _direction(spec: EventSpec) -> str:
    parts = []
    if spec.from_clients:
        parts.append(f"client → hub ({', '.join(sorted(spec.senders))})")
    if spec.to_clients:
        parts.append("hub → clients")
    if spec.publishable:
        parts.append("publishable via POST /api/v1/events")
    return "; ".join(parts)


def _event_section(spec: EventSpec, schema_name: str, schemas: dict[str, Any]) -> list[str]:
    lines = [
        f"### `{spec.name}`",
        "",
        spec.summary,
        "",
        f"- Direction: {_direction(spec)}",
        f"- Critical (carries `correlationId`): {'yes' if spec.critical else 'no'}",
        f"- Payload: `{schema_name}`",
        "",
        "| field | type | required |",
        "|---|---|---|",
    ]
    lines += _field_rows(schemas[schema_name])
    return [*lines, ""]


def events_markdown(version: str) -> str:
    """docs/events.md: every namespace, its roles, and each event with its payload fields."""
    names, schemas = _schemas()
    lines = [
        "# Chit event catalog",
        "",
        f"Generated from `shared/events.py` (hub {version}, protocol {PROTOCOL_VERSION})."
        " Do not edit: run `python scripts/render_docs.py`.",
        "",
        "Rooms: `company:{companyId}` and `branch:{branchId}` (colon separator). Clients "
        "join them on connect from their token's claims; no client event joins a room.",
        "",
    ]
    for namespace in Namespace:
        roles = ", ".join(f"`{r}`" for r in sorted(ALLOWED_ROLES[namespace]))
        lines += [f"## `{namespace}`", "", f"Roles that may connect: {roles}.", ""]
        for spec in events_of(namespace):
            lines += _event_section(spec, names[spec.model], schemas)
    lines += ["## Shared types", ""]
    used = set(names.values())
    for name in sorted(set(schemas) - used):
        lines += [f"### `{name}`", "", "| field | type | required |", "|---|---|---|"]
        lines += [*_field_rows(schemas[name]), ""]
    return "\n".join(lines).rstrip() + "\n"
