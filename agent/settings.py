"""Agent settings, kept in the user config directory (platformdirs).

``agent.json`` holds the hub URL, manual printers, subnets and intervals; the device token
lives beside it in ``token``, readable by its owner only. Environment variables
(``CHIT_AGENT_HUB_URL``, ``CHIT_AGENT_TOKEN``, ...) override the file for one run (services,
tests): they are never written into it, so a one-off override cannot become permanent.
"""

from __future__ import annotations

import json
import os
import socket
import uuid
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import platformdirs

from shared.printers import STATUS_CHANNELS, StatusChannel

APP = "chit-agent"
SETTINGS_FILE = "agent.json"
TOKEN_FILE = "token"
ENV_PREFIX = "CHIT_AGENT_"


def config_dir() -> Path:
    """Where settings and the device token live (overridable with CHIT_AGENT_CONFIG_DIR)."""
    override = os.environ.get("CHIT_AGENT_CONFIG_DIR")
    return Path(override) if override else Path(platformdirs.user_config_dir(APP, appauthor=False))


def data_dir() -> Path:
    """Where the spool and caches live (overridable with CHIT_AGENT_DATA_DIR)."""
    override = os.environ.get("CHIT_AGENT_DATA_DIR")
    return Path(override) if override else Path(platformdirs.user_data_dir(APP, appauthor=False))


def log_dir() -> Path:
    """Where rotating logs are written."""
    override = os.environ.get("CHIT_AGENT_LOG_DIR")
    return Path(override) if override else Path(platformdirs.user_log_dir(APP, appauthor=False))


@dataclass(frozen=True)
class AgentSettings:
    """What the agent needs to run."""

    agent_id: str = field(default_factory=lambda: f"agent-{uuid.uuid4().hex[:12]}")
    hub_url: str | None = None
    #: Printers entered by hand: "host" or "host:port".
    manual_printers: tuple[str, ...] = ()
    #: Subnets swept for port 9100 (CIDR), e.g. "192.168.1.0/24".
    subnets: tuple[str, ...] = ()
    sweep_port: int = 9100
    mdns: bool = True
    usb: bool = True
    #: List the OS print queues (CUPS, the Windows spooler) as printers.
    queues: bool = True
    #: Path choices for printers reachable two ways: "PRINTER_ID=direct" or "PRINTER_ID=queue".
    printer_paths: tuple[str, ...] = ()
    #: Status channels set by hand: "PRINTER_ID=escpos|star|queue|none" (others: detected).
    printer_channels: tuple[str, ...] = ()
    scan_interval: float = 60.0
    status_interval: float = 5.0
    heartbeat_interval: float = 15.0
    #: Seconds a single printer I/O may take before it counts as a timeout.
    io_timeout: float = 5.0
    start_at_login: bool = False
    #: The core's local control API: a Unix socket path, or a named pipe (``\\.\pipe\...``)
    #: on Windows; empty for the platform's default (agent.control.default_address).
    control_socket: str = ""
    #: The local group whose members may use the control API (its socket's group; on
    #: Windows the pipe's DACL names it, and the default means "Chit Agent Users").
    control_group: str = "chit-agent"
    #: Where versions are installed (docs/deployment.md "Updates"); empty: the supervisor's
    #: CHIT_AGENT_INSTALL_ROOT, and without it no self-updates (a pip or source install).
    install_root: str = ""
    #: Seconds between asking the hub which version this agent's ring wants.
    update_check_interval: float = 3600.0
    #: Seconds a new version has to connect to the hub before it is rolled back.
    update_confirm_seconds: float = 120.0
    hostname: str = field(default_factory=socket.gethostname)

    def with_changes(self, **changes: Any) -> AgentSettings:
        """A copy with some fields changed."""
        return replace(self, **changes)


_TUPLES = {"manual_printers", "subnets", "printer_paths", "printer_channels"}
_FLOATS = {
    "scan_interval",
    "status_interval",
    "heartbeat_interval",
    "io_timeout",
    "update_check_interval",
    "update_confirm_seconds",
}
_BOOLS = {"mdns", "usb", "queues", "start_at_login"}


class BadChannel(ValueError):
    """A status channel that is not one of :data:`shared.printers.STATUS_CHANNELS`."""


def status_channel(name: str) -> StatusChannel:
    """The channel called ``name`` (any case), or BadChannel saying which ones there are."""
    for channel in STATUS_CHANNELS:
        if channel == name.strip().lower():
            return channel
    raise BadChannel(f"{name!r} is not a status channel: use one of {', '.join(STATUS_CHANNELS)}")


def channel_overrides(entries: tuple[str, ...]) -> dict[str, StatusChannel]:
    """``printer_channels`` as {printer id: channel}; a malformed entry is skipped."""
    found: dict[str, StatusChannel] = {}
    for entry in entries:
        printer_id, sep, name = entry.rpartition("=")
        try:
            if sep and printer_id.strip():
                found[printer_id.strip()] = status_channel(name)
        except BadChannel:
            continue
    return found


def with_channel(
    entries: tuple[str, ...], printer_id: str, channel: StatusChannel | None
) -> tuple[str, ...]:
    """``printer_channels`` with one printer's entry replaced (None: removed, detect again)."""
    kept = tuple(e for e in entries if e.rpartition("=")[0].strip() != printer_id)
    return kept if channel is None else (*kept, f"{printer_id}={channel}")


def store_channel(
    printer_id: str, channel: StatusChannel | None, directory: Path | None = None
) -> tuple[str, ...]:
    """Keep one printer's status channel in agent.json (None: forget it); the stored entries.

    Starts from what the file holds, so an environment override is never written into it.
    """
    entries = with_channel(load_stored(directory).printer_channels, printer_id, channel)
    update({"printer_channels": entries}, directory)
    return entries


def _coerce(name: str, value: Any) -> Any:
    if name in _TUPLES:
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        return tuple(str(v).strip() for v in items if str(v).strip())
    if name in _FLOATS:
        return float(value)
    if name in _BOOLS:
        return value if isinstance(value, bool) else str(value).lower() in ("1", "true", "yes")
    if name == "sweep_port":
        return int(value)
    return value


def _stored(path: Path) -> dict[str, Any]:
    """The fields kept in agent.json (unknown keys ignored)."""
    stored: dict[str, Any] = json.loads(path.read_text()) if path.exists() else {}
    names = {f.name for f in fields(AgentSettings)}
    return {k: v for k, v in stored.items() if k in names}


def stored_channels(directory: Path | None = None) -> tuple[str, ...] | None:
    """``printer_channels`` as agent.json holds it now (None: no file, or the environment
    overrides it): a running agent picks up ``chit-agent printers channel`` from here."""
    if ENV_PREFIX + "PRINTER_CHANNELS" in os.environ:
        return None
    path = (directory or config_dir()) / SETTINGS_FILE
    try:
        stored = _stored(path)
    except (OSError, ValueError):
        return None
    if not path.exists():
        return None
    result: tuple[str, ...] = _coerce("printer_channels", stored.get("printer_channels", ()))
    return result


def env_overrides(environ: dict[str, str] | None = None) -> dict[str, Any]:
    """The settings CHIT_AGENT_* variables override for this run (never written to the file)."""
    env = os.environ if environ is None else environ
    names = {f.name for f in fields(AgentSettings)}
    found = {k[len(ENV_PREFIX) :].lower(): v for k, v in env.items() if k.startswith(ENV_PREFIX)}
    return {k: _coerce(k, v) for k, v in found.items() if k in names}


def load_stored(directory: Path | None = None) -> AgentSettings:
    """Settings from agent.json alone; the agent id is created (and saved) once."""
    directory = directory or config_dir()
    values = _stored(directory / SETTINGS_FILE)
    settings = AgentSettings(**{k: _coerce(k, v) for k, v in values.items()})
    if "agent_id" not in values:
        save(settings, directory)
    return settings


def load(directory: Path | None = None, environ: dict[str, str] | None = None) -> AgentSettings:
    """Settings for this run: agent.json, then CHIT_AGENT_* variables over it."""
    return load_stored(directory).with_changes(**env_overrides(environ))


def update(changes: dict[str, Any], directory: Path | None = None) -> AgentSettings:
    """Change settings in agent.json (environment overrides stay out); the stored result."""
    settings = load_stored(directory).with_changes(**changes)
    save(settings, directory)
    return settings


def save(settings: AgentSettings, directory: Path | None = None) -> Path:
    """Write agent.json (owner-only directory)."""
    directory = directory or config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = {
        k: list(v) if isinstance(v, tuple) else v
        for k, v in asdict(settings).items()
        if k != "hostname"
    }
    path = directory / SETTINGS_FILE
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2))
    tmp.replace(path)
    return path


def read_token(directory: Path | None = None, environ: dict[str, str] | None = None) -> str | None:
    """The device token: CHIT_AGENT_TOKEN, else the owner-only token file."""
    env = os.environ if environ is None else environ
    if env.get("CHIT_AGENT_TOKEN"):
        return env["CHIT_AGENT_TOKEN"].strip()
    path = (directory or config_dir()) / TOKEN_FILE
    return path.read_text().strip() if path.exists() else None


def write_token(token: str, directory: Path | None = None) -> Path:
    """Store the device token readable by its owner only."""
    directory = directory or config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / TOKEN_FILE
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token)
    os.chmod(path, 0o600)
    return path


def forget_token(directory: Path | None = None) -> None:
    """Remove the stored device token (after revocation or unpairing)."""
    path = (directory or config_dir()) / TOKEN_FILE
    path.unlink(missing_ok=True)
