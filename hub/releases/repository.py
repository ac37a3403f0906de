"""The TUF repository of agent builds, on disk: keys, metadata, targets, and how they change.

Theory of operation (python-tuf's Metadata API; the agent verifies with its ngclient):

- Four roles, each one ed25519 key, threshold 1. ``root`` (which keys may sign what) and
  ``targets`` (which builds exist, their lengths and hashes) are signed with keys the operator
  keeps offline (``chit-hub agent-release keys`` makes them on an offline machine). ``snapshot``
  and ``timestamp`` only vouch for freshness; their keys live in the hub's data dir
  (``online-keys/``) so the hub can re-sign them before they expire without the operator.
  A stolen hub can thus delay updates but cannot make an agent install a build the operator
  did not sign.
- Consistent snapshots: metadata is written as ``N.<role>.json`` (timestamp as
  ``timestamp.json``) and builds as ``<sha256>.<name>``, so a client that fetches while a
  build is being added never mixes two states.
- A build is the target ``<platform>/chit-agent-<version>.tar.gz`` (shared.updates).

Layout under the repository directory: ``metadata/``, ``targets/``, ``online-keys/``.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from shared.updates import parse_target_name, parse_version, target_name

OFFLINE_ROLES = (Root.type, Targets.type)
ONLINE_ROLES = (Snapshot.type, Timestamp.type)
#: How long each role's signature stays valid. Offline roles are re-signed by the operator
#: (a new build re-signs targets); online ones by the hub itself (see :func:`refresh`).
#: Precedents: PyPI's PEP 458 uses 1 day for timestamp and snapshot, a year for root.
LIFETIME = {
    Root.type: timedelta(days=365),
    Targets.type: timedelta(days=365),
    Snapshot.type: timedelta(days=7),
    Timestamp.type: timedelta(days=1),
}
_PRETTY = JSONSerializer(compact=False)


class ReleaseError(Exception):
    """The operator asked for something the repository refuses (a code and a message)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Build:
    """One signed build in the repository."""

    name: str
    platform: str
    version: str
    length: int
    sha256: str


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _write_private(path: Path, data: bytes) -> None:
    """Write a private key readable by its owner only; never over an existing one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def generate_keys(directory: Path, roles: tuple[str, ...] = OFFLINE_ROLES) -> dict[str, str]:
    """Make one ed25519 key per role as ``<role>.pem`` (mode 0600); their key ids by role."""
    directory.mkdir(parents=True, exist_ok=True)
    taken = [role for role in roles if (directory / f"{role}.pem").exists()]
    if taken:
        raise ReleaseError("key_exists", f"{directory} already holds a {taken[0]} key")
    ids = {}
    for role in roles:
        signer = CryptoSigner.generate_ed25519()
        _write_private(directory / f"{role}.pem", signer.private_bytes)
        ids[role] = signer.public_key.keyid
    return ids


def load_signer(path: Path) -> CryptoSigner:
    """A signer from a PEM private key file."""
    try:
        key = load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError) as exc:
        raise ReleaseError("bad_key", f"cannot read a private key from {path}: {exc}") from None
    return CryptoSigner(key)


class Repository:
    """One TUF repository directory."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.metadata_dir = directory / "metadata"
        self.targets_dir = directory / "targets"
        self.keys_dir = directory / "online-keys"

    @property
    def exists(self) -> bool:
        """Whether the repository was initialised."""
        return (self.metadata_dir / "timestamp.json").exists()

    # --- creating ---------------------------------------------------------------------------

    def init(self, root_signer: Signer, targets_signer: Signer) -> None:
        """Create the repository: online keys, and version 1 of every role, signed."""
        if self.exists:
            raise ReleaseError("repository_exists", f"{self.directory} is already a repository")
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        if not all((self.keys_dir / f"{role}.pem").exists() for role in ONLINE_ROLES):
            generate_keys(self.keys_dir, ONLINE_ROLES)
        root = Metadata(Root(expires=_now() + LIFETIME[Root.type], consistent_snapshot=True))
        root.signed.add_key(root_signer.public_key, Root.type)
        root.signed.add_key(targets_signer.public_key, Targets.type)
        for role in ONLINE_ROLES:
            root.signed.add_key(self._online(role).public_key, role)
        root.sign(root_signer)
        self._write(root, f"1.{Root.type}.json")
        shutil.copyfile(self.metadata_dir / f"1.{Root.type}.json", self.metadata_dir / "root.json")
        targets = Metadata(Targets(expires=_now() + LIFETIME[Targets.type]))
        self._sign_targets(targets, targets_signer)
        self._publish(targets.signed.version)

    def add_build(
        self, archive: Path, platform: str, version: str, targets_signer: Signer
    ) -> Build:
        """Add a build as a new signed target and publish new snapshot and timestamp."""
        name = target_name(platform, version)
        if parse_target_name(name) is None:
            raise ReleaseError("bad_version", f"{version!r} is no version (PEP 440, e.g. 1.4.2)")
        if not archive.is_file():
            raise ReleaseError("no_build", f"{archive} is not a file")
        targets = self.targets()
        if name in targets.signed.targets:
            raise ReleaseError("build_exists", f"{name} is already released; bump the version")
        info = TargetFile.from_file(name, str(archive))
        folder = self.targets_dir / platform
        folder.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(archive, folder / f"{info.hashes['sha256']}.chit-agent-{version}.tar.gz")
        targets.signed.targets[name] = info
        targets.signed.version += 1
        targets.signed.expires = _now() + LIFETIME[Targets.type]
        self._sign_targets(targets, targets_signer)
        self._publish(targets.signed.version)
        return _build(info)

    def renew(self, root_signer: Signer | None, targets_signer: Signer | None) -> None:
        """Extend the offline roles' expiry: a new root version and/or targets version, signed.

        Root must be renewed within its year (agents refuse an expired root), targets too when
        no build was added for that long; the operator does it with the offline keys.
        """
        if root_signer is not None:
            root = self._root()
            if root_signer.public_key.keyid not in root.signed.roles[Root.type].keyids:
                raise ReleaseError("wrong_key", "that key is not this repository's root key")
            root.signed.version += 1
            root.signed.expires = _now() + LIFETIME[Root.type]
            root.signatures.clear()
            root.sign(root_signer)
            self._write(root, f"{root.signed.version}.{Root.type}.json")
            self._write(root, "root.json")
        if targets_signer is not None:
            targets = self.targets()
            targets.signed.version += 1
            targets.signed.expires = _now() + LIFETIME[Targets.type]
            self._sign_targets(targets, targets_signer)
            self._publish(targets.signed.version)

    def refresh(self, margin: float = 0.5) -> bool:
        """Re-sign snapshot and timestamp when less than ``margin`` of a lifetime is left."""
        snapshot, timestamp = self._load(Snapshot), self._load(Timestamp)
        now = _now()
        due = any(
            meta.signed.expires - now < LIFETIME[meta.signed.type] * margin
            for meta in (snapshot, timestamp)
        )
        if due:
            self._publish(snapshot.signed.meta[f"{Targets.type}.json"].version)
        return due

    # --- reading ----------------------------------------------------------------------------

    def targets(self) -> Metadata[Targets]:
        """The targets metadata the current snapshot names."""
        snapshot = self._load(Snapshot)
        version = snapshot.signed.meta[f"{Targets.type}.json"].version
        return Metadata[Targets].from_file(str(self.metadata_dir / f"{version}.targets.json"))

    def builds(self) -> list[Build]:
        """Every signed build, by platform then version."""
        found = [_build(info) for info in self.targets().signed.targets.values()]
        return sorted(found, key=lambda b: (b.platform, parse_version(b.version) or 0))

    def versions(self) -> set[str]:
        """Every version that has a signed build (on any platform)."""
        return {build.version for build in self.builds()}

    def file(self, kind: str, name: str) -> Path | None:
        """A metadata or target file to serve, None for any name outside the repository."""
        base = {"metadata": self.metadata_dir, "targets": self.targets_dir}.get(kind)
        if base is None or not name or ".." in name.split("/") or name.startswith("/"):
            return None
        path = (base / name).resolve()
        if not path.is_relative_to(base.resolve()) or not path.is_file():
            return None
        return path

    # --- internals --------------------------------------------------------------------------

    def _online(self, role: str) -> CryptoSigner:
        return load_signer(self.keys_dir / f"{role}.pem")

    def _root(self) -> Metadata[Root]:
        return Metadata[Root].from_file(str(self.metadata_dir / "root.json"))

    def _sign_targets(self, targets: Metadata[Targets], signer: Signer) -> None:
        if signer.public_key.keyid not in self._root().signed.roles[Targets.type].keyids:
            raise ReleaseError("wrong_key", "that key is not this repository's targets key")
        targets.signatures.clear()
        targets.sign(signer)
        try:
            self._root().signed.verify_delegate(
                Targets.type, targets.signed_bytes, targets.signatures
            )
        except UnsignedMetadataError as exc:
            raise ReleaseError("wrong_key", str(exc)) from None
        self._write(targets, f"{targets.signed.version}.{Targets.type}.json")

    def _publish(self, targets_version: int) -> None:
        """New snapshot (naming ``targets_version``) and timestamp, signed with online keys."""
        snapshot_path = self.metadata_dir / "timestamp.json"
        if snapshot_path.exists():
            snapshot = self._load(Snapshot)
            snapshot.signed.version += 1
        else:
            snapshot = Metadata(Snapshot(expires=_now()))
        snapshot.signed.meta[f"{Targets.type}.json"] = MetaFile(targets_version)
        snapshot.signed.expires = _now() + LIFETIME[Snapshot.type]
        snapshot.sign(self._online(Snapshot.type))
        self._write(snapshot, f"{snapshot.signed.version}.{Snapshot.type}.json")
        timestamp = Metadata(Timestamp(expires=_now() + LIFETIME[Timestamp.type]))
        if snapshot_path.exists():
            timestamp.signed.version = self._load(Timestamp).signed.version + 1
        timestamp.signed.snapshot_meta = MetaFile(snapshot.signed.version)
        timestamp.sign(self._online(Timestamp.type))
        self._write(timestamp, "timestamp.json")  # last: it makes the new state visible

    def _load(self, kind: type[Snapshot] | type[Timestamp]) -> Metadata:  # type: ignore[type-arg]
        timestamp = Metadata[Timestamp].from_file(str(self.metadata_dir / "timestamp.json"))
        if kind is Timestamp:
            return timestamp
        version = timestamp.signed.snapshot_meta.version
        return Metadata[Snapshot].from_file(str(self.metadata_dir / f"{version}.snapshot.json"))

    def _write(self, metadata: Metadata, filename: str) -> None:  # type: ignore[type-arg]
        """Write atomically: a reader sees the old file or the new one, never half of one."""
        final = self.metadata_dir / filename
        partial = final.with_suffix(".partial")
        metadata.to_file(str(partial), _PRETTY)
        os.replace(partial, final)


def _build(info: TargetFile) -> Build:
    parsed = parse_target_name(info.path)
    assert parsed is not None
    return Build(info.path, parsed[0], parsed[1], info.length, info.hashes["sha256"])
