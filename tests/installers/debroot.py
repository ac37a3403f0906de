"""A clean Debian 12 root to install the .deb into, and what was added to it.

scripts/debian-root.sh makes (once, cached in ~/.cache/chit/) a minbase root; each test works
on a copy. Commands run in it with chroot, which shares this machine's loopback, so the
frozen agent inside reaches a hub and a simulated printer started by the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
#: dpkg's and apt's own records, which installing and purging any package changes, and the
#: backups the shadow tools keep of the account files (``/etc/shadow-``) at every change.
BOOKKEEPING = (
    "etc/passwd-",
    "etc/group-",
    "etc/shadow-",
    "etc/gshadow-",
    "var/lib/dpkg/",
    "var/lib/apt/",
    "var/cache/",
    "var/log/apt/",
    "var/log/dpkg.log",
    "var/log/alternatives.log",
    "var/cache/debconf/",
)
ACCOUNTS = ("etc/passwd", "etc/group", "etc/shadow", "etc/gshadow")


def missing_tools() -> str | None:
    """Why the package test cannot run here, or None."""
    if os.geteuid() != 0:
        return "needs root (chroot, dpkg in a root)"
    for tool in ("debootstrap", "dpkg-deb", "chroot", "unshare", "systemd-analyze"):
        if shutil.which(tool, path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin") is None:
            return f"no {tool} (scripts/setup-system.sh installs it)"
    return None


def pristine_root() -> Path:
    """The cached clean root, made when missing."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "debian-root.sh")],
        capture_output=True,
        text=True,
        timeout=1500,
        stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return Path(done.stdout.strip().splitlines()[-1])


def copy_root(pristine: Path, target: Path) -> Path:
    """A working copy of the clean root."""
    subprocess.run(["cp", "-a", f"{pristine}/.", str(target)], check=True, timeout=300)
    return target


def chroot(
    root: Path,
    *argv: str,
    env: Mapping[str, str] | None = None,
    timeout: float = 180,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` inside ``root`` as root, with a plain environment."""
    base = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}
    done = subprocess.run(
        ["chroot", str(root), *argv],
        env={**base, "DEBIAN_FRONTEND": "noninteractive", **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )
    if check:
        assert done.returncode == 0, f"{argv}: {done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    return done


def tree(root: Path, tops: Sequence[str] = ("opt", "etc", "var")) -> set[str]:
    """Every path under ``tops`` of ``root``, relative to it, dpkg's and apt's records aside."""
    found: set[str] = set()
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(root / top):
            for name in [*dirnames, *filenames]:
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                if not rel.startswith(BOOKKEEPING):
                    found.add(rel)
    return found


def accounts(root: Path) -> dict[str, str]:
    """The account files' contents."""
    return {name: (root / name).read_text() for name in ACCOUNTS}


def unit_settings(unit: str) -> dict[str, list[str]]:
    """The [Service] settings of a systemd unit, each key with its values in order."""
    settings: dict[str, list[str]] = {}
    section = ""
    for raw in unit.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
        elif section == "Service" and "=" in line:
            key, _, value = line.partition("=")
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def env_file(text: str) -> dict[str, str]:
    """A systemd EnvironmentFile's assignments."""
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


def ids(root: Path, user: str, group: str) -> tuple[int, int, int]:
    """The uid and gid of ``user`` and the gid of ``group`` inside ``root``."""
    passwd = {f[0]: f for f in (ln.split(":") for ln in accounts(root)["etc/passwd"].splitlines())}
    groups = {f[0]: f for f in (ln.split(":") for ln in accounts(root)["etc/group"].splitlines())}
    return int(passwd[user][2]), int(passwd[user][3]), int(groups[group][2])


def service_argv(root: Path) -> list[str]:
    """chit-agent.service's ExecStart, run in ``root`` as systemd would: its User and Group,
    its SupplementaryGroups, only its EnvironmentFile's variables."""
    unit = unit_settings((root / "lib/systemd/system/chit-agent.service").read_text())
    [user], [group], [extra] = unit["User"], unit["Group"], unit["SupplementaryGroups"]
    uid, gid, _ = ids(root, user, group)
    extra_gid = ids(root, user, extra)[2]
    [env_path] = unit["EnvironmentFile"]
    env = env_file((root / env_path.lstrip("/")).read_text())
    [exec_start] = unit["ExecStart"]
    return [
        "chroot",
        f"--userspec={uid}:{gid}",
        f"--groups={extra_gid}",
        str(root),
        "/usr/bin/env",
        "-i",
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        *(f"{k}={v}" for k, v in env.items()),
        *exec_start.split(),
    ]


def verify_unit(root: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify`` of the installed unit, with the root's /opt bind-mounted over
    this machine's in a private mount namespace (so ExecStart's binary is found)."""
    script = (
        f"mount --bind {root}/opt /opt && "
        f"systemd-analyze verify {root}/lib/systemd/system/chit-agent.service"
    )
    return subprocess.run(
        ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
