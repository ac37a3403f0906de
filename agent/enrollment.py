"""Enrol this till with an enrolment code: from a terminal, or by itself from a preseed file.

``chit-agent enroll --hub URL --code CODE`` trades a multi-use enrolment code (made by a
manager for a branch) for this till's own device token, like ``pair`` does with a one-time code.

For a roll-out, IT puts the hub and the code in a preseed file instead (the installer's
``HUB``/``ENROLL`` arguments write it)::

    # /etc/chit-agent/enroll.toml  (Windows: %ProgramData%\\Chit\\enroll.toml)
    hub = "https://hub.example"
    code = "ABCD-EFGH-JKMN-PQRS"

The service (``run --headless``) reads it at start when it has no device token yet and enrols,
retrying with backoff while the hub cannot be reached (the network may come up after the
service). A refused code is logged once and not retried; the file is then left alone, and an
agent that has a token never reads it again, so revoking a till cannot be undone by a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

from agent import settings as store
from agent.pairing import Paired, PairingFailed, redeem
from agent.settings import AgentSettings

log = logging.getLogger("chit.agent.enrollment")
ENROLL_PATH = "/api/v1/enrollment/redeem"
PRESEED_ENV = "CHIT_AGENT_PRESEED"
PRESEED_FILE = "enroll.toml"


class PreseedError(Exception):
    """The preseed file exists but cannot be used (the message says why)."""


@dataclass(frozen=True)
class Preseed:
    """What a preseed file says: where the hub is, and the code to enrol with."""

    hub_url: str
    code: str
    path: Path


def default_preseed_path(
    platform: str | None = None, environ: dict[str, str] | None = None
) -> Path:
    """Where the installer writes the preseed file on this OS."""
    env = os.environ if environ is None else environ
    if (platform or sys.platform).startswith("win"):
        root = env.get("ProgramData") or env.get("PROGRAMDATA") or r"C:\ProgramData"
        return Path(root) / "Chit" / PRESEED_FILE
    return Path("/etc/chit-agent") / PRESEED_FILE


def preseed_path(explicit: str | None = None) -> Path:
    """The preseed file to read: --preseed, else CHIT_AGENT_PRESEED, else the OS default."""
    chosen = explicit or os.environ.get(PRESEED_ENV)
    return Path(chosen) if chosen else default_preseed_path()


def read_preseed(path: Path) -> Preseed | None:
    """The preseed at ``path``; None when there is none, PreseedError when it is unusable."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise PreseedError(f"{path}: cannot read it: {exc}") from exc
    hub, code = data.get("hub"), data.get("code")
    if not isinstance(hub, str) or not hub.startswith(("http://", "https://")):
        raise PreseedError(f'{path}: needs hub = "https://..." (the hub\'s URL)')
    if not isinstance(code, str) or not code.strip():
        raise PreseedError(f'{path}: needs code = "..." (an enrolment code)')
    return Preseed(hub_url=hub.strip(), code=code.strip(), path=path)


async def enroll(settings: AgentSettings, hub_url: str, code: str) -> Paired:
    """Redeem ``code`` at the hub and keep the token and hub URL; PairingFailed otherwise."""
    enrolled = await redeem(hub_url, code, settings.agent_id, settings.hostname, path=ENROLL_PATH)
    store.write_token(enrolled.token)
    # The hub names the agent itself when its id is taken; keep the id the token is for.
    store.update({"hub_url": hub_url, "agent_id": enrolled.agent_id})
    return enrolled


async def enroll_from_preseed(
    settings: AgentSettings, seed: Preseed, stop: asyncio.Event, cap: float = 60.0
) -> AgentSettings:
    """Enrol with the preseed, retrying while the hub is unreachable; the settings to run with.

    Returns the settings unchanged (and logs why) when the code is refused or ``stop`` is set.
    """
    attempt = 0
    while not stop.is_set():
        try:
            enrolled = await enroll(settings, seed.hub_url, seed.code)
        except PairingFailed as exc:
            fields = {"hub": seed.hub_url, "preseed": str(seed.path), "error": str(exc)}
            if exc.refused:
                log.error("enrolment refused: ask for a new enrolment code", extra=fields)
                return settings.with_changes(hub_url=settings.hub_url or seed.hub_url)
            log.warning("enrolment: hub unreachable, retrying", extra=fields)
            attempt += 1
            delay = random.uniform(0.5, min(cap, 2.0**attempt))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
            continue
        log.info(
            "enrolled",
            extra={
                "agent_id": enrolled.agent_id,
                "branch_id": enrolled.branch_id,
                "hub": seed.hub_url,
            },
        )
        return settings.with_changes(hub_url=seed.hub_url, agent_id=enrolled.agent_id)
    return settings


async def preseeded(
    settings: AgentSettings, explicit: str | None, stop: asyncio.Event
) -> AgentSettings:
    """At service start: enrol from the preseed file when there is no device token yet."""
    if store.read_token():
        return settings
    path = preseed_path(explicit)
    try:
        seed = read_preseed(path)
    except PreseedError as exc:
        log.error("preseed file unusable", extra={"preseed": str(path), "error": str(exc)})
        return settings
    if seed is None:
        return settings
    log.info("no device token: enrolling from the preseed file", extra={"preseed": str(path)})
    return await enroll_from_preseed(settings, seed, stop)


def preseed_secrets(explicit: str | None = None) -> list[str]:
    """The enrolment code of a readable preseed file (diagnostics redact it), else nothing."""
    try:
        seed = read_preseed(preseed_path(explicit))
    except (PreseedError, OSError):
        return []
    return [seed.code, seed.code.replace("-", "")] if seed else []
