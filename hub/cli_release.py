"""``chit-hub agent-release``: the TUF repository of agent builds, from the operator's side.

Keys first, on a machine that is kept offline (the root and targets keys never touch the hub)::

    chit-hub agent-release keys --out /media/usb/chit-keys      # root.pem, targets.pem
    chit-hub agent-release init --root-key /media/usb/chit-keys/root.pem \\
        --targets-key /media/usb/chit-keys/targets.pem --data-dir /var/lib/chit-hub
    chit-hub agent-release add dist/chit-agent-1.4.0-linux-x86_64.tar.gz \\
        --targets-key /media/usb/chit-keys/targets.pem --data-dir /var/lib/chit-hub

``init`` makes the online snapshot and timestamp keys in the hub's data dir (the hub re-signs
those two roles before they expire) and writes ``metadata/root.json``: ship that file with the
agent as ``trusted-root.json`` (docs/deployment.md "Updates"). Then promote a version ring by
ring from the web UI or ``PUT /api/v1/agent-releases/rings/{ring}``.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from hub.releases.repository import ReleaseError, Repository, generate_keys, load_signer
from hub.startup import settings_from

#: ``chit-agent-<version>-<platform>.tar.gz``, as scripts/build-agent.sh names its output.
ARCHIVE_NAME = re.compile(
    r"^chit-agent-(?P<version>[0-9][^-]*)-(?P<platform>[a-z0-9_]+-[a-z0-9_]+)\.tar\.gz$"
)


def add_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``agent-release keys|init|add|renew|list|refresh``."""
    parser = sub.add_parser("agent-release", help="signed agent builds (a TUF repository)")
    actions = parser.add_subparsers(dest="release_command", required=True)
    keys = actions.add_parser("keys", help="make the offline root and targets keys")
    keys.add_argument("--out", type=Path, required=True, help="a folder on offline storage")
    init = actions.add_parser("init", help="create the repository in the hub's data dir")
    _repo_flags(init)
    init.add_argument("--root-key", type=Path, required=True)
    init.add_argument("--targets-key", type=Path, required=True)
    add = actions.add_parser("add", help="sign and publish a build")
    _repo_flags(add)
    add.add_argument("archive", type=Path, help="dist/chit-agent-<version>-<platform>.tar.gz")
    add.add_argument("--targets-key", type=Path, required=True)
    add.add_argument("--version", help="default: from the archive's name")
    add.add_argument("--platform", help="e.g. linux-x86_64 (default: from the archive's name)")
    renew = actions.add_parser("renew", help="extend root and/or targets expiry (offline keys)")
    _repo_flags(renew)
    renew.add_argument("--root-key", type=Path)
    renew.add_argument("--targets-key", type=Path)
    _repo_flags(actions.add_parser("list", help="the signed builds"))
    _repo_flags(actions.add_parser("refresh", help="re-sign snapshot and timestamp if due"))


def _repo_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="TOML settings file")
    parser.add_argument("--data-dir", type=Path, help="where the hub keeps its state")


def repository_of(args: argparse.Namespace) -> Repository:
    """The repository in the data dir the flags name."""
    settings = settings_from({"data_dir": args.data_dir}, args.config)
    return Repository(settings.data_dir / "agent-releases")


def run(args: argparse.Namespace) -> int:
    """Entry point of ``chit-hub agent-release``."""
    try:
        return _run(args)
    except ReleaseError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    command = args.release_command
    if command == "keys":
        ids = generate_keys(args.out)
        for role, keyid in ids.items():
            print(f"{role}: {args.out / (role + '.pem')} (key id {keyid})")
        print("keep these offline; the hub needs neither of them to serve updates")
        return 0
    repo = repository_of(args)
    if command == "init":
        repo.init(load_signer(args.root_key), load_signer(args.targets_key))
        print(f"repository created in {repo.directory}")
        print(f"ship {repo.metadata_dir / 'root.json'} with the agent as trusted-root.json")
        return 0
    if not repo.exists:
        raise ReleaseError("no_repository", f"no repository in {repo.directory}: run init first")
    if command == "add":
        return _add(args, repo)
    if command == "renew":
        if not args.root_key and not args.targets_key:
            raise ReleaseError("no_key", "renew needs --root-key, --targets-key or both")
        repo.renew(
            load_signer(args.root_key) if args.root_key else None,
            load_signer(args.targets_key) if args.targets_key else None,
        )
        print("renewed for another year")
        return 0
    if command == "refresh":
        print("re-signed" if repo.refresh() else "nothing to re-sign yet")
        return 0
    for build in repo.builds():
        print(f"{build.version}\t{build.platform}\t{build.length}\t{build.sha256}")
    return 0


def _add(args: argparse.Namespace, repo: Repository) -> int:
    found = ARCHIVE_NAME.match(args.archive.name)
    version = args.version or (found["version"] if found else None)
    platform = args.platform or (found["platform"] if found else None)
    if not version or not platform:
        raise ReleaseError(
            "bad_name",
            f"cannot tell version and platform from {args.archive.name}: "
            "pass --version and --platform",
        )
    build = repo.add_build(args.archive, platform, version, load_signer(args.targets_key))
    print(f"added {build.name} ({build.length} bytes, sha256 {build.sha256})")
    return 0
