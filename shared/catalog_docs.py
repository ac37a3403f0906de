"""Render the event catalog as Markdown (docs/events.md) and AsyncAPI 3.0 (docs/asyncapi.yaml).

Pure functions returning text or data; ``scripts/render_docs.py`` writes the files and a test
fails when the committed files differ from what this renders.
"""

from __future__ import annotations

import copy
import re
from typing import Any

from pydantic.json_schema import models_json_schema

from shared import PROTOCOL_VERSION
from shared.events import CATALOG, EventSpec, events_of
from shared.namespaces import ALLOWED_ROLES, Namespace
from shared.publish import PublishRequest
from shared.streams import OFFSET_FIELD, STATUS_EVENT, is_streamed
from shared.wire import WireModel

SCHEMA_REF = "#/components/schemas/{model}"
ROOMS_NOTE = "Rooms: company:{id}, branch:{id}."
STREAM_NOTE = (
    f"Streamed events carry the hub's `{OFFSET_FIELD}` (StreamOffset) in their payload; a client"
    f" sends its last one back as `auth.since` on reconnect and gets `{STATUS_EVENT}`."
)
STREAMED_PREFIX = "Streamed"


def _streamed(spec: EventSpec) -> bool:
    return spec.to_clients and is_streamed(spec.namespace, spec.name)


def _with_offset(schema: dict[str, Any]) -> dict[str, Any]:
    """A payload schema as a streamed event travels: its fields plus the hub's ``_offset``."""
    schema = copy.deepcopy(schema)  # a copy, so the YAML has no anchors between the two
    properties = {
        **schema.get("properties", {}),
        OFFSET_FIELD: {
            "$ref": SCHEMA_REF.format(model="StreamOffset"),
            "description": "Added by the hub: the event's place in its company's stream.",
        },
    }
    title = f"{schema.get('title', '')} (streamed)".strip()
    required = [*schema.get("required", []), OFFSET_FIELD]
    return {**schema, "title": title, "properties": properties, "required": required}


def _streamed_schemas(names: dict[type[WireModel], str], schemas: dict[str, Any]) -> None:
    """Add ``Streamed<Model>`` for the model of every streamed event."""
    for spec in CATALOG:
        if _streamed(spec):
            name = names[spec.model]
            schemas[STREAMED_PREFIX + name] = _with_offset(schemas[name])


def _payload_name(spec: EventSpec, names: dict[type[WireModel], str]) -> str:
    name = names[spec.model]
    return STREAMED_PREFIX + name if _streamed(spec) else name


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
        "x-streamed": _streamed(spec),
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
    _streamed_schemas(names, schemas)
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for namespace in Namespace:
        refs = {}
        for spec in events_of(namespace):
            messages[_key(spec)] = _message(spec, _payload_name(spec, names))
            refs[_key(spec)] = {"$ref": f"#/components/messages/{_key(spec)}"}
            operations.update(_operations(spec))
        roles = ", ".join(sorted(ALLOWED_ROLES[namespace]))
        channels[_channel(namespace)] = {
            "address": str(namespace),
            "title": f"Socket.IO namespace {namespace}",
            "description": f"Roles allowed to connect: {roles}. {ROOMS_NOTE} {STREAM_NOTE}",
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
        f"- Streamed (carries `{OFFSET_FIELD}`, replayed on reconnect): "
        + ("yes" if _streamed(spec) else "no"),
        f"- Payload: `{schema_name}`",
        "",
        "| field | type | required |",
        "|---|---|---|",
    ]
    lines += _field_rows(schemas[schema_name])
    if _streamed(spec):
        lines.append(f"| `{OFFSET_FIELD}` | StreamOffset | yes (added by the hub) |")
    return [*lines, ""]


STREAMS_SECTION = [
    "## Streams and offsets",
    "",
    "Each company has one ordered stream of the events marked *Streamed* below. The hub adds",
    f"`{OFFSET_FIELD}` to such an event's payload, next to the payload's own fields:",
    "",
    "```json",
    '{"orderId": "o1", "status": "new", "correlationId": "…",',
    f' "{OFFSET_FIELD}": {{"stream": "acme", "epoch": "Yq3xv1aGkR0e", "seq": 42}}}}',
    "```",
    "",
    "- `stream` is the company id; `seq` counts the company's events from 1 (a branch-scoped",
    "  client sees only its branch's and company-wide events, so its seqs have gaps); `epoch`",
    "  changes when the stream's history is lost, and seqs start again in the new epoch.",
    f"- No payload model has a field named `{OFFSET_FIELD}`; the publish API refuses one.",
    "- On reconnect a client sends its last offset: Socket.IO `auth: {token, since: {stream,",
    "  epoch, seq}}`. Every web client gets `stream:status` once connected (after any replay):",
    "  `recovered: true` when every event after `since` it may see was replayed, in order;",
    "  else `recovered: false` with a `code` (`offset_missing`, `offset_invalid`,",
    "  `offset_foreign`, `offset_epoch`, `offset_expired`, `offset_unknown`): reload over REST.",
    "  `offset` is the stream's current offset: keep it as the next `since`.",
    "- Then live events follow, with no gap and no duplicate between replay and live.",
    "",
]


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
        *STREAMS_SECTION,
    ]
    for namespace in Namespace:
        roles = ", ".join(f"`{r}`" for r in sorted(ALLOWED_ROLES[namespace]))
        lines += [f"## `{namespace}`", "", f"Roles that may connect: {roles}.", ""]
        for spec in events_of(namespace):
            lines += _event_section(spec, names[spec.model], schemas)
    schemas = {k: v for k, v in schemas.items() if not k.startswith(STREAMED_PREFIX)}
    lines += ["## Shared types", ""]
    used = set(names.values())
    for name in sorted(set(schemas) - used):
        lines += [f"### `{name}`", "", "| field | type | required |", "|---|---|---|"]
        lines += [*_field_rows(schemas[name]), ""]
    return "\n".join(lines).rstrip() + "\n"
