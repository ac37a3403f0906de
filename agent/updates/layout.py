"""The install layout: every version in its own folder, and an atomically switched pointer.

::

    <install_root>/
      versions/<version>/     one unpacked build each; its entry is chit-agent(.exe)
      current                 symlink to versions/<version> (POSIX); on Windows the file
                              current.txt holding the version instead (no symlink rights)
      update/pending.json     written just before switching: from, to, the confirm deadline
      update/outcome.json     what the supervisor did (a rollback), for the agent to report
      update/bad-versions.json  versions rolled back here, never installed again
      update/tuf/             the TUF client's trusted metadata; update/downloads/ its builds
      trusted-root.json       the TUF root the agent trusts first (shipped by the installer)

Switching is one ``os.replace`` (a rename), so a crash leaves the old pointer or the new one,
never none. Only the current and the previous versions are kept, and a verified archive
only until its version is confirmed.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from shared.updates import is_upgrade, parse_version

ENTRY_NAMES = ("chit-agent", "chit-agent.exe", "chit-agent.cmd")


class LayoutError(Exception):
    """The install root or a build is not what the layout needs."""


@dataclass(frozen=True)
class PendingUpdate:
    """An update switched to but not yet confirmed by a connection to the hub."""

    from_version: str
    to_version: str
    switched_at: float
    #: Wall-clock second by which the new version must have connected, else it is rolled back.
    deadline: float


@dataclass(frozen=True)
class Outcome:
    """A step the supervisor took that the agent reports when it next connects."""

    step: str
    version: str
    from_version: str | None
    detail: str
    at: float


class Layout:
    """One install root."""

    def __init__(self, root: Path, *, symlink: bool | None = None) -> None:
        self.root = root
        self.symlink = os.name != "nt" if symlink is None else symlink
        self.versions = root / "versions"
        self.update_dir = root / "update"
        self.tuf_dir = self.update_dir / "tuf"
        self.downloads = self.update_dir / "downloads"
        self.trusted_root = root / "trusted-root.json"

    # --- the pointer ------------------------------------------------------------------------

    @property
    def _pointer(self) -> Path:
        return self.root / ("current" if self.symlink else "current.txt")

    def current_version(self) -> str | None:
        """The version ``current`` points at, None before the first install."""
        try:
            if self.symlink:
                return Path(os.readlink(self._pointer)).name
            return self._pointer.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def switch(self, version: str) -> None:
        """Point ``current`` at an installed version, atomically."""
        if not self.installed(version):
            raise LayoutError(f"version {version} is not installed under {self.versions}")
        partial = self.root / f".current-{os.getpid()}.partial"
        partial.unlink(missing_ok=True)
        if self.symlink:
            partial.symlink_to(Path("versions") / version, target_is_directory=True)
        else:
            partial.write_text(version, encoding="utf-8")
        os.replace(partial, self._pointer)

    def entry(self, version: str | None = None) -> Path:
        """The program to start for a version (the current one by default)."""
        version = version or self.current_version()
        if version is None:
            raise LayoutError(f"nothing is installed under {self.root}")
        for name in ENTRY_NAMES:
            candidate = self.versions / version / name
            if candidate.is_file():
                return candidate
        raise LayoutError(f"version {version} has no chit-agent program")

    # --- versions ---------------------------------------------------------------------------

    def installed(self, version: str) -> bool:
        """Whether a version is unpacked and complete."""
        return (self.versions / version).is_dir()

    def install(self, archive: Path, version: str) -> Path:
        """Unpack a verified build beside the others; its folder appears complete or not at all."""
        final = self.versions / version
        partial = self.versions / f".{version}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        # Everyone may run the program (a desktop user's tray), whatever the service's umask
        # (the .deb's unit has 0027) and whether or not the archive has an entry for its top.
        partial.chmod(0o755)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                # "data": no absolute paths, no links out of the folder, no devices.
                tar.extractall(partial, filter="data")
            if not any((partial / name).is_file() for name in ENTRY_NAMES):
                raise LayoutError(f"the build of {version} has no chit-agent program at its top")
        except (tarfile.TarError, OSError, LayoutError):
            shutil.rmtree(partial, ignore_errors=True)
            raise
        if final.exists() and version != self.current_version():
            shutil.rmtree(final)
        if not final.exists():
            os.replace(partial, final)
        else:
            shutil.rmtree(partial, ignore_errors=True)
        return final

    def prune(self, keep: set[str]) -> None:
        """Delete installed versions other than ``keep`` (the current and previous ones)."""
        if not self.versions.is_dir():
            return
        for folder in self.versions.iterdir():
            if folder.name not in keep and parse_version(folder.name) is not None:
                shutil.rmtree(folder, ignore_errors=True)

    def clear_downloads(self) -> None:
        """Delete the verified archives (unpacked already; each is the size of a build)."""
        if self.downloads.is_dir():
            for archive in self.downloads.iterdir():
                if archive.is_file() or archive.is_symlink():
                    archive.unlink(missing_ok=True)

    # --- markers ----------------------------------------------------------------------------

    def pending(self) -> PendingUpdate | None:
        """The unconfirmed update, if any."""
        found = _read(self.update_dir / "pending.json")
        return PendingUpdate(**found) if found else None

    def set_pending(self, pending: PendingUpdate | None) -> None:
        """Write (or, with None, clear) the pending-update marker."""
        _write(self.update_dir / "pending.json", asdict(pending) if pending else None)

    def outcomes(self) -> list[Outcome]:
        """Steps the supervisor took that the agent has not reported yet."""
        found = _read(self.update_dir / "outcome.json")
        return [Outcome(**item) for item in found.get("outcomes", [])] if found else []

    def add_outcome(self, outcome: Outcome) -> None:
        """Keep a step for the agent to report."""
        kept = [asdict(o) for o in self.outcomes()][-19:]
        _write(self.update_dir / "outcome.json", {"outcomes": [*kept, asdict(outcome)]})

    def clear_outcomes(self) -> None:
        """The agent reported them."""
        _write(self.update_dir / "outcome.json", None)

    def bad_versions(self) -> set[str]:
        """Versions rolled back here: never installed again (a fixed build gets a new version)."""
        found = _read(self.update_dir / "bad-versions.json")
        return set(found.get("versions", [])) if found else set()

    def add_bad_version(self, version: str) -> None:
        """Remember a version that was rolled back."""
        versions = sorted(self.bad_versions() | {version})
        _write(self.update_dir / "bad-versions.json", {"versions": versions})


def rollback(layout: Layout, pending: PendingUpdate, reason: str) -> None:
    """Point ``current`` back at the version that ran before, and keep why for the hub."""
    if layout.installed(pending.from_version):
        layout.switch(pending.from_version)
    layout.set_pending(None)
    layout.add_bad_version(pending.to_version)
    layout.add_outcome(
        Outcome("rolled_back", pending.to_version, pending.from_version, reason, time.time())
    )


def adopt(layout: Layout, version: str, *, force: bool = False) -> str:
    """Make a version a package installed the current one, unless a newer one runs already.

    A package (the .deb's postinst) owns only its own ``versions/<version>/``; versions the
    agent installed itself are the agent's. So the package's version becomes current when
    nothing usable is current (first install, or the folder ``current`` named is gone) or
    when it is newer (PEP 440) than the current one; an agent that updated itself past the
    package keeps running its own version. ``force`` switches anyway (IT going back to the
    package's build by hand). A pending update whose previous version is gone gets the
    package's version to roll back to. Returns the version current afterwards. Run it as the
    service's user (the .deb's postinst does): the agent must own ``current`` to switch it
    again in the package's sticky install root.
    """
    if not layout.installed(version):
        raise LayoutError(f"version {version} is not installed under {layout.versions}")
    if parse_version(version) is None:
        raise LayoutError(f"{version!r} is not a PEP 440 version")
    current = layout.current_version()
    usable = (
        current is not None and layout.installed(current) and parse_version(current) is not None
    )
    if force or not usable or is_upgrade(current or "", version):
        layout.switch(version)
        return version
    pending = layout.pending()
    if pending is not None and not layout.installed(pending.from_version):
        layout.set_pending(replace(pending, from_version=version))
    assert current is not None
    return current


def _read(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _write(path: Path, data: dict[str, Any] | None) -> None:
    if data is None:
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data), encoding="utf-8")
    os.replace(partial, path)
