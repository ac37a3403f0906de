"""Hub settings: flags, then environment (CHIT_HUB_*), then a TOML file, then defaults.

Precedence is applied field by field, so a flag overrides only what it names.
"""

from __future__ import annotations

import json
import os
import secrets
import tomllib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import platformdirs

from shared.tokens import DEFAULT_LEEWAY_SECONDS, claim_map_of, role_map_of

ENV_PREFIX = "CHIT_HUB_"
Number = TypeVar("Number", int, float)
DEFAULT_PORT = 3001


def default_data_dir() -> Path:
    """The per-user data directory (the hub keeps its secret and database there)."""
    return Path(platformdirs.user_data_dir("chit-hub", appauthor=False))


@dataclass(frozen=True)
class Settings:
    """Everything the hub needs to start."""

    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    data_dir: Path = field(default_factory=default_data_dir)
    #: HS256 secret; generated and kept in data_dir when not configured.
    jwt_secret: str | None = None
    #: PEM files of public keys accepted for RS256/ES256 platform tokens.
    public_key_files: tuple[Path, ...] = ()
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    #: Clock skew allowed on a token's exp, nbf and iat (seconds).
    jwt_leeway_seconds: int = DEFAULT_LEEWAY_SECONDS
    #: The platform's JWKS (RFC 7517): keys picked by kid, refetched on an unknown kid.
    jwks_url: str | None = None
    #: Least time between two fetches of the JWKS caused by unknown kids (seconds).
    jwks_refetch_seconds: float = 30.0
    #: How often the JWKS is fetched anyway, so removed keys stop working (seconds).
    jwks_refresh_seconds: float = 600.0
    #: How long one JWKS fetch may take (seconds).
    jwks_timeout_seconds: float = 5.0
    #: Platform role name -> Chit role, for platform-signed tokens (empty: Chit's names).
    role_map: Mapping[str, str] = field(default_factory=dict)
    #: Chit claim (sub, role, companyId, branchId) -> the platform's claim name.
    claim_map: Mapping[str, str] = field(default_factory=dict)
    instance_id: str = field(default_factory=lambda: f"hub-{uuid.uuid4().hex[:8]}")
    log_json: bool = False
    log_level: str = "INFO"
    #: Largest HTTP request body accepted (bytes); larger bodies are refused, not buffered.
    max_body_bytes: int = 1024 * 1024
    #: Largest event payload accepted from the publish API (bytes of JSON).
    max_payload_bytes: int = 256 * 1024
    #: Largest Socket.IO message accepted from a client (bytes).
    max_socket_message_bytes: int = 1024 * 1024
    #: Seconds a client has to send a request's headers, and then its body (hub.limits).
    header_timeout: float = 15.0
    body_timeout: float = 15.0
    #: Seconds a Socket.IO session has to connect (and authenticate on) a namespace.
    handshake_timeout: float = 10.0
    #: Open connections per client address (behind a trusted proxy: per forwarded address).
    max_connections_per_address: int = 256
    #: Bytes of output queued for one Socket.IO client before it is disconnected.
    max_send_buffer_bytes: int = 1024 * 1024
    #: permessage-deflate for websocket clients that offer it. Off by default: each
    #: compressing connection holds a zlib compressor (~90 KB; README "Connections").
    websocket_compression: bool = False
    #: With compression on, messages under this many bytes are sent uncompressed.
    websocket_compression_threshold: int = 1024
    cors_origins: tuple[str, ...] = ()
    #: Addresses of reverse proxies (nginx) whose X-Forwarded-For names the real client, so
    #: rate limits count clients, not the proxy.
    trusted_proxies: tuple[str, ...] = ()
    database_url: str | None = None
    redis_url: str | None = None
    #: Prefix of every Redis key and channel, so several clusters can share one Redis.
    cluster_prefix: str = "chit"
    #: Seconds an instance's published counts stay valid (it refreshes them every third).
    cluster_stats_ttl: float = 6.0
    #: Largest message allowed on the cluster channel (bytes).
    cluster_max_message_bytes: int = 1024 * 1024
    #: Connects admitted at once; beyond it a connect is deferred with ``busy``/``retryAfter``.
    admission_limit: int = 256
    #: Pooled database connections per instance, and the extra ones allowed under load.
    db_pool_size: int = 10
    db_max_overflow: int = 20
    #: Seconds a request waits for a pooled database connection before it fails.
    db_pool_timeout: float = 10.0
    #: Seconds between two bulk writes of agents' presence, hellos and inventories.
    agent_flush_interval: float = 0.2
    #: How long the hub waits for an agent's printer:test:result.
    printer_test_timeout: float = 20.0
    #: Seconds without news of a pending print job before it is sent to its agent again.
    job_redelivery_interval: float = 10.0
    #: Alert thresholds (defaults from the platform report).
    alert_namespace_connections: int = 1000
    alert_agent_offline_seconds: float = 300.0
    alert_reconnects_per_minute: int = 10
    alert_instance_imbalance: float = 0.30
    #: How often alerts are evaluated (seconds).
    alert_interval: float = 5.0
    #: Company event streams: offsets on streamed events, replay on reconnect, eventId
    #: idempotency, the outbox while Redis is away (docs/operations.md "Streams and replay").
    stream_enabled: bool = True
    #: Events kept per company stream (Redis trims approximately: a little more may stay).
    stream_max_events: int = 10_000
    #: Seconds an event (and a publisher's eventId) is kept in its stream.
    stream_max_age_seconds: float = 86_400.0
    #: The cluster outbox file (default: outbox.db in data_dir).
    stream_outbox_path: Path | None = None
    #: Kitchen tickets: seconds a station's primary printer may be down (paper out, cover
    #: open, no reply) with tickets waiting before they go to its backup printer.
    ticket_reroute_seconds: float = 20.0
    #: Seconds after its order arrived that a ticket not yet printed raises ``ticket_late``.
    ticket_late_seconds: float = 30.0

    def with_secret(self, secret: str) -> Settings:
        """A copy with the given signing secret."""
        return replace(self, jwt_secret=secret)


_CONVERTERS: dict[str, Any] = {
    "port": int,
    "data_dir": Path,
    "public_key_files": lambda v: tuple(Path(p) for p in _as_list(v)),
    "log_json": lambda v: v if isinstance(v, bool) else str(v).lower() in ("1", "true", "yes"),
    "max_body_bytes": int,
    "max_payload_bytes": int,
    "max_socket_message_bytes": int,
    "header_timeout": float,
    "body_timeout": float,
    "handshake_timeout": float,
    "max_connections_per_address": int,
    "max_send_buffer_bytes": int,
    "websocket_compression": lambda v: _flag(v),
    "websocket_compression_threshold": lambda v: _at_least(
        "websocket_compression_threshold", int(v), 0
    ),
    "cors_origins": lambda v: tuple(_as_list(v)),
    "trusted_proxies": lambda v: tuple(_as_list(v)),
    "printer_test_timeout": float,
    "admission_limit": lambda v: _at_least("admission_limit", int(v), 1),
    "db_pool_size": lambda v: _at_least("db_pool_size", int(v), 1),
    "db_max_overflow": lambda v: _at_least("db_max_overflow", int(v), 0),
    "db_pool_timeout": lambda v: _at_least("db_pool_timeout", float(v), 0.1),
    "agent_flush_interval": lambda v: _at_least("agent_flush_interval", float(v), 0.01),
    "job_redelivery_interval": float,
    "alert_namespace_connections": int,
    "alert_agent_offline_seconds": float,
    "alert_reconnects_per_minute": int,
    "alert_instance_imbalance": float,
    "alert_interval": float,
    "ticket_reroute_seconds": lambda v: _at_least("ticket_reroute_seconds", float(v), 0.1),
    "ticket_late_seconds": lambda v: _at_least("ticket_late_seconds", float(v), 0.1),
    "cluster_stats_ttl": float,
    "cluster_max_message_bytes": int,
    "stream_enabled": lambda v: _flag(v),
    "stream_max_events": lambda v: _at_least("stream_max_events", int(v), 1),
    "stream_max_age_seconds": lambda v: _at_least("stream_max_age_seconds", float(v), 1),
    "stream_outbox_path": Path,
    "jwt_leeway_seconds": lambda v: _at_least("jwt_leeway_seconds", int(v), 0),
    "jwks_url": lambda v: _http_url("jwks_url", str(v)),
    "jwks_refetch_seconds": lambda v: _at_least("jwks_refetch_seconds", float(v), 0),
    "jwks_refresh_seconds": lambda v: _at_least("jwks_refresh_seconds", float(v), 1),
    "jwks_timeout_seconds": lambda v: _at_least("jwks_timeout_seconds", float(v), 0.1),
    "role_map": lambda v: role_map_of(_table("role_map", v)),
    "claim_map": lambda v: claim_map_of(_table("claim_map", v)),
}


def _flag(value: Any) -> bool:
    return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")


def _table(name: str, value: Any) -> Mapping[str, Any]:
    """A TOML table, or (from the environment) a JSON object string, of strings."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise ValueError(f'{name}: expected a JSON object like {{"a": "b"}}') from None
    if not isinstance(value, Mapping) or not all(isinstance(v, str) for v in value.values()):
        raise ValueError(f"{name}: expected a table of names (strings)")
    return value


def _at_least(name: str, value: Number, least: float) -> Number:
    if value < least:
        raise ValueError(f"{name}: must be at least {least}, not {value}")
    return value


def _http_url(name: str, value: str) -> str:
    if urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).netloc:
        raise ValueError(f"{name}: expected an http(s):// URL, not {value!r}")
    return value


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [part.strip() for part in str(value).split(",") if part.strip()]


_NUMBERS = {int: "a whole number", float: "a number"}


def _convert(name: str, value: Any) -> Any:
    converter = _CONVERTERS.get(name)
    if converter is None:
        return value
    try:
        return converter(value)
    except ValueError:
        if converter not in _NUMBERS:
            raise
        raise ValueError(f"setting {name}: expected {_NUMBERS[converter]}, not {value!r}") from None


def _from_env(environ: dict[str, str]) -> dict[str, Any]:
    names = {f.name for f in fields(Settings)}
    found = {
        k[len(ENV_PREFIX) :].lower(): v for k, v in environ.items() if k.startswith(ENV_PREFIX)
    }
    return {k: v for k, v in found.items() if k in names}


def _from_toml(path: Path | None) -> dict[str, Any]:
    if path is None or not path.exists():
        return {}
    with path.open("rb") as handle:
        data = tomllib.load(handle)
    section = data.get("hub", data)
    names = {f.name for f in fields(Settings)}
    unknown = set(section) - names
    if unknown:
        raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
    return dict(section)


def load_settings(
    flags: dict[str, Any] | None = None,
    environ: dict[str, str] | None = None,
    config_file: Path | None = None,
) -> Settings:
    """Merge flags > environment > TOML file > defaults into Settings."""
    env = dict(os.environ if environ is None else environ)
    config_path = config_file
    if config_path is None and env.get("CHIT_HUB_CONFIG"):
        config_path = Path(env["CHIT_HUB_CONFIG"])
    merged: dict[str, Any] = {}
    for layer in (_from_toml(config_path), _from_env(env), dict(flags or {})):
        merged.update({k: v for k, v in layer.items() if v is not None and k != "config"})
    return Settings(**{k: _convert(k, v) for k, v in merged.items()})


SECRET_FILE = "jwt-secret"


def ensure_secret(settings: Settings) -> Settings:
    """Return settings with a signing secret: configured, or generated once and kept owner-only."""
    if settings.jwt_secret:
        return settings
    path = settings.data_dir / SECRET_FILE
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    os.chmod(path, 0o600)
    return settings.with_secret(path.read_text().strip())
