"""Fetch a build from the hub's TUF repository and verify it (python-tuf's ngclient).

The agent trusts one thing first: ``trusted-root.json``, the root metadata the installer put
beside it. From there ngclient walks root rotations, checks every role's signatures, versions
and expiry (so old metadata cannot be replayed), and checks the build's length and hashes
against the signed targets metadata while downloading. Anything that does not verify raises
:class:`UpdateRefused`; nothing unverified is ever handed to the installer.

Blocking (urllib3): the updater runs it in a thread. Each request is bounded by ``timeout``.
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

from tuf.api.exceptions import DownloadError, DownloadLengthMismatchError, RepositoryError
from tuf.ngclient import Updater, UpdaterConfig
from tuf.ngclient.urllib3_fetcher import Urllib3Fetcher

from agent import __version__
from agent.updates.layout import Layout
from shared.updates import target_name


class UpdateRefused(Exception):
    """A build that must not be installed: unsigned, tampered, expired or rolled back metadata."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


class UpdateUnavailable(Exception):
    """The repository could not be reached or read (try again later)."""


def this_platform() -> str:
    """This machine's build platform, e.g. ``linux-x86_64``, ``win32-amd64``, ``darwin-arm64``."""
    return f"{sys.platform}-{platform.machine().lower() or 'unknown'}"


def repository_url(hub_url: str) -> str:
    """Where the hub serves its TUF repository (the first hub of a comma-separated list)."""
    first = hub_url.split(",")[0].strip().rstrip("/")
    return f"{first}/agent-releases"


def fetch_build(
    layout: Layout, hub_url: str, version: str, *, platform_name: str, timeout: float
) -> Path:
    """Download and verify ``version``'s build; the path of the verified archive."""
    try:
        anchor = layout.trusted_root.read_bytes()
    except OSError:
        raise UpdateRefused(
            "no_trusted_root", f"no trusted TUF root at {layout.trusted_root}"
        ) from None
    layout.tuf_dir.mkdir(parents=True, exist_ok=True)
    layout.downloads.mkdir(parents=True, exist_ok=True)
    base = repository_url(hub_url)
    fetcher = Urllib3Fetcher(
        socket_timeout=max(1, int(timeout)), app_user_agent=f"chit-agent/{__version__}"
    )
    name = target_name(platform_name, version)
    try:
        updater = Updater(
            str(layout.tuf_dir),
            f"{base}/metadata/",
            str(layout.downloads),
            f"{base}/targets/",
            fetcher=fetcher,
            config=UpdaterConfig(app_user_agent=f"chit-agent/{__version__}"),
            bootstrap=anchor,
        )
        updater.refresh()
        info = updater.get_targetinfo(name)
        if info is None:
            raise UpdateRefused("not_signed", f"{name} is not a signed build of this repository")
        target = layout.downloads / Path(name).name
        return Path(updater.download_target(info, str(target)))
    except (RepositoryError, DownloadLengthMismatchError) as exc:
        raise UpdateRefused(
            "verification_failed", f"{name} did not verify: {type(exc).__name__}: {exc}"
        ) from None
    except (DownloadError, OSError) as exc:
        raise UpdateUnavailable(f"cannot fetch {name}: {exc}") from None
