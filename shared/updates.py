"""Agent updates, the parts both sides agree on: rings, steps, build names, version order.

An agent belongs to one ring (``canary``, ``early``, ``stable``); an operator promotes a
version to a ring and every agent on that ring moves to it. A build is a TUF target named
``<platform>/chit-agent-<version>.tar.gz``; the agent installs only a signed target whose
version is higher than the one it runs (PEP 440 order), so a hub cannot walk it back.
"""

from __future__ import annotations

import re
from enum import StrEnum

from packaging.version import InvalidVersion, Version


class Ring(StrEnum):
    """Update rings, earliest first."""

    CANARY = "canary"
    EARLY = "early"
    STABLE = "stable"


#: The ring of a company that chose none, and of its agents without their own.
DEFAULT_RING = Ring.STABLE


class UpdateStep(StrEnum):
    """What an agent reports while it updates (``agent:update:status``)."""

    #: A newer version is offered; the download starts.
    DOWNLOADING = "downloading"
    #: The build matched its signed metadata (length, hashes) and is unpacked beside the current.
    VERIFIED = "verified"
    #: Waiting for the prints under way to finish before switching.
    WAITING_FOR_JOBS = "waiting_for_jobs"
    #: ``current`` points at the new version; the agent restarts through its service manager.
    INSTALLED = "installed"
    #: The new version connected to the hub in time: the update is done.
    CONFIRMED = "confirmed"
    #: The new version did not connect in time; the previous one runs again.
    ROLLED_BACK = "rolled_back"
    #: Not installed: unsigned, tampered, a downgrade, or the download failed.
    REFUSED = "refused"
    FAILED = "failed"


#: Steps after which nothing more happens for that version.
FINAL_STEPS = frozenset(
    {UpdateStep.CONFIRMED, UpdateStep.ROLLED_BACK, UpdateStep.REFUSED, UpdateStep.FAILED}
)
_NAME = re.compile(r"^(?P<platform>[a-z0-9_-]+)/chit-agent-(?P<version>[0-9A-Za-z.+!-]+)\.tar\.gz$")


def parse_version(text: str) -> Version | None:
    """A PEP 440 version, or None when ``text`` is not one."""
    try:
        return Version(text)
    except InvalidVersion:
        return None


def is_upgrade(current: str, offered: str) -> bool:
    """Whether ``offered`` is strictly newer than ``current`` (False when either is no version)."""
    old, new = parse_version(current), parse_version(offered)
    return old is not None and new is not None and new > old


def target_name(platform: str, version: str) -> str:
    """The TUF target path of a build."""
    return f"{platform}/chit-agent-{version}.tar.gz"


def parse_target_name(name: str) -> tuple[str, str] | None:
    """(platform, version) of a build's target path, or None for any other path."""
    found = _NAME.match(name)
    if found is None or parse_version(found["version"]) is None:
        return None
    return found["platform"], found["version"]
