"""The .deb on a clean Debian 12 root with no Python: install, pair, print, upgrade, purge.

The root comes from debootstrap (scripts/debian-root.sh, cached); the package is built by
scripts/build-agent-package.sh from this session's frozen agent, twice: as built, and with its
version stamp bumped (a second build, for the upgrade). In the root, ``dpkg -i`` plus
``apt-get -f install`` installs it, with ``CHIT_HUB``/``CHIT_ENROLL`` in the environment so
that postinst writes the preseed /etc/chit-agent/enroll.toml; ``chit-agent.service``'s own
ExecStart, user, groups and EnvironmentFile run the headless core, which enrols itself from
that preseed (a build without ``enroll`` is paired by hand instead: ``chit-agent pair`` as
root, through /usr/bin/chit-agent), which prints a test page the hub asks for on
a simulated printer of this test (chroot shares loopback). No systemd runs in the root (the
maintainer scripts must cope, as in an image build); ``systemd-analyze verify`` checks the unit.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import time
import tomllib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from agent import VERSION_STAMP, __version__
from agent.simulators.network import SimulatedNetworkPrinter
from shared.tokens import Role
from tests.e2e.support import eventually
from tests.installers import debroot
from tests.installers.raster import drew_scripts_as_installed
from tests.support import HubHarness

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
ROOT = Path(__file__).resolve().parents[2]
UPGRADE = f"{__version__}.post1"


def _package(frozen: Path, out: Path) -> Path:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts/build-agent-package.sh"), "deb", "--frozen", str(frozen),
         "--out", str(out)],
        env={**os.environ, "CHIT_DEB_COMPRESSION": "gzip", "CHIT_DEB_LEVEL": "1"},
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def debs(frozen_agent: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The package of this session's build, and of a second build with a bumped version."""
    if (why := debroot.missing_tools()) is not None:
        pytest.skip(why)
    out = tmp_path_factory.mktemp("debs")
    first = _package(frozen_agent, out)
    second_build = out / "build2" / "chit-agent"
    shutil.copytree(frozen_agent, second_build, symlinks=True)
    (second_build / "_internal" / VERSION_STAMP).write_text(UPGRADE + "\n")
    second = _package(second_build, out)
    shutil.rmtree(second_build.parent)
    return first, second


@pytest.fixture
def debian(tmp_path: Path) -> Iterator[Path]:
    """A fresh copy of the clean Debian 12 root."""
    if (why := debroot.missing_tools()) is not None:
        pytest.skip(why)
    started = time.monotonic()
    pristine = debroot.pristine_root()
    root = debroot.copy_root(pristine, tmp_path / "root")
    print(f"\nDebian root ready in {time.monotonic() - started:.0f} s")
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def kitchen() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter(name="Kitchen") as printer:
        yield printer


async def in_root(root: Path, *argv: str, **env: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(debroot.chroot, root, *argv, env=env)


async def run_service(root: Path) -> asyncio.subprocess.Process:
    """The unit's ExecStart as systemd would start it; mDNS off (no multicast off loopback)."""
    argv = debroot.service_argv(root)
    argv.insert(argv.index("-i") + 1, "CHIT_AGENT_MDNS=false")
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def stop_service(proc: asyncio.subprocess.Process) -> str:
    proc.send_signal(signal.SIGTERM)
    code = await asyncio.wait_for(proc.wait(), 30)
    assert proc.stderr is not None
    err = (await proc.stderr.read()).decode()
    assert code == 0, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    return err


def online(hub: HubHarness, agent_id: str) -> bool:
    record = hub.ctx.printing.registry.agent("acme", agent_id)
    return record is not None and record.online


async def print_test_page(hub: HubHarness, printer_id: str, correlation: str) -> None:
    status, body = await hub.post(
        f"/api/v1/printers/{printer_id}/test?correlationId={correlation}",
        {},
        token=hub.token(Role.MANAGER, "acme"),
    )
    assert status == 200, body
    assert body["result"]["success"] is True, body


def check_installed(root: Path) -> None:
    for path in ("opt/chit-agent/chit-agent", "usr/bin/chit-agent",
                 "lib/systemd/system/chit-agent.service", "lib/udev/rules.d/60-chit-agent.rules",
                 "etc/xdg/autostart/chit-agent.desktop"):  # fmt: skip
        assert (root / path).exists(), path
    groups = debroot.chroot(root, "id", "-nG", "chit-agent").stdout.split()
    assert "lp" in groups and "chit-agent" in groups
    wants = root / "etc/systemd/system/multi-user.target.wants/chit-agent.service"
    assert wants.is_symlink(), "postinst did not enable the service"
    for folder in ("var/lib/chit-agent", "var/log/chit-agent"):
        assert (root / folder).stat().st_uid == debroot.ids(root, "chit-agent", "lp")[0]


def check_preseed(root: Path, hub_url: str, code: str) -> None:
    preseed = root / "etc/chit-agent/enroll.toml"
    assert tomllib.loads(preseed.read_text()) == {"hub": hub_url, "code": code}
    assert preseed.stat().st_mode & 0o777 == 0o640
    assert preseed.stat().st_gid == debroot.ids(root, "chit-agent", "lp")[1]


def can_enroll(frozen: Path) -> bool:
    """Whether this build has ``chit-agent enroll`` (and so the service enrols from a preseed)."""
    done = subprocess.run(
        [str(frozen / "chit-agent"), "enroll", "--help"],
        capture_output=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    return done.returncode == 0


async def enrolment_code(hub: HubHarness) -> str:
    body = {"branchId": "b1", "maxUses": 2, "expiresIn": 3600}
    status, answer = await hub.post(
        "/api/v1/enrollment-codes", body, hub.token(Role.MANAGER, "acme")
    )
    assert status == 201, answer
    return str(answer["code"])


async def pair_as_root(root: Path, hub: HubHarness) -> str:
    """Pair the service's agent as IT would by hand (root, through /usr/bin/chit-agent)."""
    status, body = await hub.post(
        "/api/v1/pairing-codes", {"branchId": "b1"}, hub.token(Role.MANAGER, "acme")
    )
    assert status == 201, body
    paired = await in_root(root, "chit-agent", "pair", body["code"], "--hub", hub.url)
    return paired.stdout.split()[2]


def enrolled_agent_id(root: Path) -> str | None:
    """The agent id the service stored once it enrolled from the preseed."""
    if not (root / "var/lib/chit-agent/token").exists():
        return None
    return str(json.loads((root / "var/lib/chit-agent/agent.json").read_text())["agent_id"])


async def test_deb_installs_enrols_prints_upgrades_and_purges(
    frozen_agent: Path,
    debs: tuple[Path, Path],
    debian: Path,
    hub: HubHarness,
    kitchen: SimulatedNetworkPrinter,
) -> None:
    first, second = debs
    root = debian
    # With enrolment codes (chit-agent enroll), the service enrols by itself from the preseed
    # the package writes; without, the preseed is only checked and the agent is paired by hand.
    enrols = can_enroll(frozen_agent)
    hub_url, code = (
        (hub.url, await enrolment_code(hub)) if enrols else ("https://hub.example", "ABCD-2345")
    )
    started = time.monotonic()
    assert not list(root.glob("usr/bin/python*")), "the clean root has Python"
    before, before_accounts = debroot.tree(root), debroot.accounts(root)
    for deb in debs:
        shutil.copy(deb, root / "tmp" / deb.name)

    # Install (a preseeded enrolment from the environment, as apt passes it through).
    await in_root(root, "dpkg", "-i", f"/tmp/{first.name}", CHIT_HUB=hub_url, CHIT_ENROLL=code)
    await in_root(root, "apt-get", "-f", "install", "-y", "-q", "--no-install-recommends")
    assert not list(root.glob("usr/bin/python*")), "installing the agent brought Python"
    check_installed(root)
    check_preseed(root, hub_url, code)
    verified = await asyncio.to_thread(debroot.verify_unit, root)
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    assert (await in_root(root, "chit-agent", "--version")).stdout.strip() == (
        f"chit-agent {__version__}"
    )

    # Pair as IT would (root, through /usr/bin/chit-agent), add the printer, run the service.
    status, body = await hub.post(
        "/api/v1/pairing-codes", {"branchId": "b1"}, hub.token(Role.MANAGER, "acme")
    )
    assert status == 201, body
    paired = await in_root(root, "chit-agent", "pair", body["code"], "--hub", hub.url)
    agent_id = paired.stdout.split()[2]
    token = root / "var/lib/chit-agent/token"
    assert token.stat().st_uid == debroot.ids(root, "chit-agent", "lp")[0]
    assert token.stat().st_mode & 0o077 == 0, "the device token is readable by others"
    await in_root(
        root, "chit-agent", "config", "--add-printer", f"Kitchen=127.0.0.1:{kitchen.port}"
    )
    service = await run_service(root)
    try:
        await eventually(lambda: online(hub, agent_id), timeout=30)
        record = hub.ctx.printing.registry.agent("acme", agent_id)
        assert record is not None
        await eventually(lambda: kitchen.printer_id in record.printers, timeout=30)
        await print_test_page(hub, kitchen.printer_id, "corr-deb-00001")
    finally:
        journal = await stop_service(service)
    token = root / "var/lib/chit-agent/token"
    assert token.stat().st_uid == debroot.ids(root, "chit-agent", "lp")[0]
    assert token.stat().st_mode & 0o077 == 0, "the device token is readable by others"
    assert kitchen.count_jobs_containing("corr-deb-00001") == 1
    assert drew_scripts_as_installed(kitchen.printed, kitchen.printer_info())
    assert "test page printed" in journal
    # The root has no libusb: the agent's own (bundled) one must have loaded.
    assert not list(root.glob("usr/lib/*/libusb-1.0.so*")), "the clean root has libusb"
    assert "USB discovery is off" not in journal, journal[-2000:]
    assert "test page printed" in (root / "var/log/chit-agent/chit-agent.log").read_text()

    # Upgrade to the second build: same agent, same token, new version.
    await in_root(root, "dpkg", "-i", f"/tmp/{second.name}")
    assert (
        await in_root(root, "chit-agent", "--version")
    ).stdout.strip() == f"chit-agent {UPGRADE}"
    check_installed(root)
    check_preseed(root, hub_url, code)
    await eventually(lambda: not online(hub, agent_id), timeout=30)
    service = await run_service(root)
    try:
        await eventually(lambda: online(hub, agent_id), timeout=30)
        await eventually(lambda: kitchen.printer_id in record.printers, timeout=30)
        await print_test_page(hub, kitchen.printer_id, "corr-deb-00002")
    finally:
        await stop_service(service)
    assert kitchen.count_jobs_containing("corr-deb-00002") == 1

    # Remove keeps the settings and the token; purge leaves nothing behind.
    await in_root(root, "dpkg", "-r", "chit-agent")
    assert not (root / "opt/chit-agent").exists() and not (root / "usr/bin/chit-agent").exists()
    assert token.exists() and (root / "etc/chit-agent/enroll.toml").exists()
    await in_root(root, "dpkg", "-P", "chit-agent")
    left = sorted(debroot.tree(root) - before)
    assert left == [], f"purge left {left}"
    assert debroot.accounts(root) == before_accounts, "the chit-agent user or group is left"
    how = "enrolled from the preseed" if enrols else "paired by hand"
    print(f"\n.deb install ({how})/print/upgrade/purge in {time.monotonic() - started:.0f} s")
