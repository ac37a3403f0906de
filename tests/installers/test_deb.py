"""The .deb on a clean Debian 12 root with no Python: install, pair, print, self-update,
upgrade, roll back, purge.

The root comes from debootstrap (scripts/debian-root.sh, cached); the package is built by
scripts/build-agent-package.sh from this session's frozen agent, twice: as built, and with its
version stamp bumped (a second build, for the upgrade), both trusting the root metadata of a
TUF repository made with ``chit-hub agent-release keys`` and ``init``. The self-update is a
third copy of the build with a higher stamp (the frozen agent reads its version from
``_internal/chit-agent-version.txt``: a copy with another stamp is, to the agent, the hub and
the updater, another build; a second PyInstaller run would freeze the same code again for
another minute), archived by ``build-agent-package.sh tar``, signed with ``chit-hub agent-release add``
and promoted to the agent's ring; the packaged agent fetches and verifies it from the hub,
unpacks it into ``/opt/chit-agent/versions/``, switches ``current``, exits with 75 and, started
again by the test as systemd's ``Restart=always`` would, registers as the new version. The
package's upgrade that follows is older than the self-update: it installs beside it and leaves
``current`` alone. Last, a promoted build that never reaches the hub is switched to and
rolled back by the packaged supervisor. In the root, ``dpkg -i`` plus
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
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from agent import VERSION_STAMP, __version__
from agent.simulators.network import SimulatedNetworkPrinter
from agent.updates.client import this_platform
from shared.tokens import Role
from tests.e2e.support import eventually
from tests.installers import debroot
from tests.installers.raster import drew_scripts_as_installed
from tests.support import HubHarness

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]
ROOT = Path(__file__).resolve().parents[2]
UPGRADE = f"{__version__}.post1"
#: The version the packaged agent updates itself to: newer than both packages.
SELF_UPDATE = f"{__version__}.post5"
#: A build promoted after it that never reaches the hub: rolled back by the supervisor.
BROKEN = f"{__version__}.post6"
OPT = "opt/chit-agent"


def _chit_hub(*args: str | Path) -> str:
    """``chit-hub agent-release ...`` as an operator runs it."""
    done = subprocess.run(
        [str(ROOT / ".venv/bin/chit-hub"), "agent-release", *map(str, args)],
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _package(kind: str, frozen: Path, out: Path, *extra: str) -> Path:
    done = subprocess.run(
        ["bash", str(ROOT / "scripts/build-agent-package.sh"), kind, "--frozen", str(frozen),
         "--out", str(out), *extra],
        env={**os.environ, "CHIT_DEB_COMPRESSION": "gzip", "CHIT_DEB_LEVEL": "1",
             "CHIT_TAR_LEVEL": "1"},
        capture_output=True, text=True, timeout=600, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return Path(done.stdout.strip().splitlines()[-1])


def _restamped(frozen: Path, folder: Path, version: str) -> Path:
    """A copy of the frozen build (and its supervisor beside it) stamped with ``version``."""
    copy = folder / "chit-agent"
    shutil.copytree(frozen, copy, symlinks=True)
    shutil.copytree(frozen.parent / "chit-agent-supervisor", folder / "chit-agent-supervisor")
    (copy / "_internal" / VERSION_STAMP).write_text(version + "\n")
    return copy


@dataclass(frozen=True)
class Releases:
    """The operator's offline keys and a hub data dir holding the repository they made."""

    keys: Path
    data_dir: Path

    @property
    def trusted_root(self) -> Path:
        return self.data_dir / "agent-releases" / "metadata" / "root.json"


@pytest.fixture(scope="session")
def releases(tmp_path_factory: pytest.TempPathFactory) -> Releases:
    """A TUF repository made as docs/operations.md says, before any package is built."""
    made = Releases(tmp_path_factory.mktemp("keys") / "offline", tmp_path_factory.mktemp("hub"))
    _chit_hub("keys", "--out", made.keys)
    _chit_hub("init", "--data-dir", made.data_dir, "--root-key", made.keys / "root.pem",
              "--targets-key", made.keys / "targets.pem")  # fmt: skip
    return made


@pytest.fixture(scope="session")
def debs(
    frozen_agent: Path, releases: Releases, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    """The package of this session's build, and of a second build with a bumped version."""
    if (why := debroot.missing_tools()) is not None:
        pytest.skip(why)
    out = tmp_path_factory.mktemp("debs")
    trust = ("--trusted-root", str(releases.trusted_root))
    first = _package("deb", frozen_agent, out, *trust)
    second_build = _restamped(frozen_agent, out / "build2", UPGRADE)
    second = _package("deb", second_build, out, *trust)
    shutil.rmtree(second_build.parent)
    return first, second


@pytest.fixture(scope="session")
def self_update(frozen_agent: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The build the packaged agent updates itself to, as ``chit-hub agent-release add`` takes it."""
    out = tmp_path_factory.mktemp("update")
    build = _restamped(frozen_agent, out / "build", SELF_UPDATE)
    archive = _package("tar", build, out)
    shutil.rmtree(build.parent)
    assert archive.name == f"chit-agent-{SELF_UPDATE}-{this_platform()}.tar.gz"
    return archive


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


async def run_service(root: Path, **env: str) -> asyncio.subprocess.Process:
    """The unit's ExecStart as systemd would start it; mDNS off (no multicast off loopback)."""
    argv = debroot.service_argv(root)
    at = argv.index("-i") + 1
    argv[at:at] = ["CHIT_AGENT_MDNS=false", *(f"{k}={v}" for k, v in env.items())]
    return await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def run_until_restart(root: Path, timeout: float, **env: str) -> str:
    """Run the service until it asks to be started again (exit 75: it switched versions)."""
    proc = await run_service(root, **env)
    try:
        code = await asyncio.wait_for(proc.wait(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.stderr is not None
    err = (await proc.stderr.read()).decode()
    assert code == 75, f"exit {code}: {err[-3000:]}"
    return err


async def update_steps(hub: HubHarness, agent_id: str) -> list[tuple[str, str]]:
    """(step, version) of the agent's update reports, oldest first."""
    status, body = await hub.get(
        f"/api/v1/agents/{agent_id}/updates", hub.token(Role.MANAGER, "acme")
    )
    assert status == 200, body
    return [(s["step"], s["version"]) for s in reversed(body["steps"])]


async def publish_and_promote(
    hub: HubHarness, releases: Releases, archive: Path, version: str
) -> None:
    """The operator's steps: the repository on the hub, the build signed, the ring promoted."""
    if not (hub.data_dir / "agent-releases").exists():
        shutil.copytree(releases.data_dir / "agent-releases", hub.data_dir / "agent-releases")
    _chit_hub("add", archive, "--targets-key", releases.keys / "targets.pem",
              "--data-dir", hub.data_dir)  # fmt: skip
    headers = {"Authorization": f"Bearer {hub.token(Role.OPERATOR, None)}"}
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http,
        http.put(
            f"{hub.url}/api/v1/agent-releases/rings/stable",
            json={"version": version},
            headers=headers,
        ) as resp,
    ):
        assert resp.status == 200, await resp.text()


def never_connects(folder: Path, version: str) -> Path:
    """A signed-looking build whose ``chit-agent`` starts and never reaches the hub."""
    build = folder / "chit-agent"
    (build / "_internal").mkdir(parents=True)
    (build / "_internal" / VERSION_STAMP).write_text(version + "\n")
    (build / "chit-agent").write_text(
        "#!/bin/sh\necho 'this build never connects' >&2\nexec sleep 600\n"
    )
    (build / "chit-agent").chmod(0o755)
    return _package("tar", build, folder)


async def until_step(hub: HubHarness, agent_id: str, step: str, version: str) -> None:
    async with asyncio.timeout(60):
        while (step, version) not in await update_steps(hub, agent_id):
            await asyncio.sleep(0.5)


def current(root: Path) -> str:
    """Where /opt/chit-agent/current points (relative, as the layout writes it)."""
    return os.readlink(root / OPT / "current")


def agent_version(hub: HubHarness, agent_id: str) -> str | None:
    record = hub.ctx.printing.registry.agent("acme", agent_id)
    return record.info.version if record is not None and record.info is not None else None


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


def check_installed(root: Path, version: str) -> None:
    for path in (f"{OPT}/versions/{version}/chit-agent", f"{OPT}/bin/chit-agent-supervisor",
                 "usr/bin/chit-agent", "lib/systemd/system/chit-agent.service",
                 "lib/udev/rules.d/60-chit-agent.rules", "etc/xdg/autostart/chit-agent.desktop"):  # fmt: skip
        assert (root / path).exists(), path
    # The service starts the supervisor, which lives outside versions/ (never updated).
    unit = debroot.unit_settings((root / "lib/systemd/system/chit-agent.service").read_text())
    assert unit["ExecStart"][0].split()[:3] == [
        f"/{OPT}/bin/chit-agent-supervisor",
        "--install-root",
        f"/{OPT}",
    ]
    uid, gid, _ = debroot.ids(root, "chit-agent", "lp")
    # The agent adds entries to the root and versions/ (sticky: it renames only its own),
    # owns update/ and current; the package's files stay root's.
    for folder in (OPT, f"{OPT}/versions"):
        found = (root / folder).stat()
        assert (found.st_uid, found.st_gid, found.st_mode & 0o7777) == (0, gid, 0o1775), folder
    assert (root / OPT / "update").stat().st_uid == uid
    assert (root / OPT / "current").lstat().st_uid == uid
    for owned_by_root in ("bin", "bin/chit-agent-supervisor", "trusted-root.json", "system.env",
                          f"versions/{version}"):  # fmt: skip
        assert (root / OPT / owned_by_root).stat().st_uid == 0, owned_by_root
    groups = debroot.chroot(root, "id", "-nG", "chit-agent").stdout.split()
    assert "lp" in groups and "chit-agent" in groups
    wants = root / "etc/systemd/system/multi-user.target.wants/chit-agent.service"
    assert wants.is_symlink(), "postinst did not enable the service"
    for folder in ("var/lib/chit-agent", "var/log/chit-agent"):
        assert (root / folder).stat().st_uid == uid


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


async def test_deb_installs_prints_updates_itself_upgrades_and_purges(
    frozen_agent: Path,
    debs: tuple[Path, Path],
    releases: Releases,
    self_update: Path,
    debian: Path,
    hub: HubHarness,
    kitchen: SimulatedNetworkPrinter,
    tmp_path: Path,
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
    check_installed(root, __version__)
    assert current(root) == f"versions/{__version__}"
    assert (root / OPT / "trusted-root.json").read_bytes() == releases.trusted_root.read_bytes()
    check_preseed(root, hub_url, code)
    verified = await asyncio.to_thread(debroot.verify_unit, root)
    assert verified.returncode == 0 and not verified.stderr.strip(), verified.stderr
    assert (await in_root(root, "chit-agent", "--version")).stdout.strip() == (
        f"chit-agent {__version__}"
    )

    # Add the printer as IT would (root, through /usr/bin/chit-agent), then run the service
    # (its supervisor), which enrols itself from the preseed; or pair it by hand first.
    await in_root(
        root, "chit-agent", "config", "--add-printer", f"Kitchen=127.0.0.1:{kitchen.port}"
    )
    paired = None if enrols else await pair_as_root(root, hub)
    service = await run_service(root)
    try:

        def enrolled_and_online() -> str | None:
            found = paired or enrolled_agent_id(root)
            return found if found and online(hub, found) else None

        agent_id: str = await eventually(enrolled_and_online, timeout=60)
        record = hub.ctx.printing.registry.agent("acme", agent_id)
        assert record is not None
        await eventually(lambda: kitchen.printer_id in record.printers, timeout=30)
        assert agent_version(hub, agent_id) == __version__
        await print_test_page(hub, kitchen.printer_id, "corr-deb-00001")
    finally:
        journal = await stop_service(service)
    token = root / "var/lib/chit-agent/token"
    assert token.stat().st_uid == debroot.ids(root, "chit-agent", "lp")[0]
    assert token.stat().st_mode & 0o077 == 0, "the device token is readable by others"
    assert kitchen.count_jobs_containing("corr-deb-00001") == 1
    assert drew_scripts_as_installed(kitchen.printed, kitchen.printer_info())
    assert "test page printed" in journal
    assert "self-updates are off" not in journal
    # The root has no libusb: the agent's own (bundled) one must have loaded.
    assert not list(root.glob("usr/lib/*/libusb-1.0.so*")), "the clean root has libusb"
    assert "USB discovery is off" not in journal, journal[-2000:]
    assert "test page printed" in (root / "var/log/chit-agent/chit-agent.log").read_text()

    # A self-update: signed and promoted on the hub, fetched, verified and switched to by the
    # packaged agent, which exits 75; started again (Restart=always), it runs and confirms it.
    await publish_and_promote(hub, releases, self_update, SELF_UPDATE)
    await eventually(lambda: not online(hub, agent_id), timeout=30)
    updating = time.monotonic()
    await run_until_restart(root, timeout=240)
    assert current(root) == f"versions/{SELF_UPDATE}"
    assert (root / OPT / "versions" / SELF_UPDATE).stat().st_uid == debroot.ids(
        root, "chit-agent", "lp"
    )[0]
    assert (await in_root(root, "chit-agent", "--version")).stdout.strip() == (
        f"chit-agent {SELF_UPDATE}"
    )
    # Any user's tray runs it too (the service's umask is 0027).
    as_user = await in_root(root, "runuser", "-u", "nobody", "--", "chit-agent", "--version")
    assert as_user.stdout.strip() == f"chit-agent {SELF_UPDATE}"
    await eventually(lambda: not online(hub, agent_id), timeout=30)
    service = await run_service(root)
    try:
        await eventually(lambda: agent_version(hub, agent_id) == SELF_UPDATE, timeout=60)
        await eventually(lambda: kitchen.printer_id in record.printers, timeout=30)
        await print_test_page(hub, kitchen.printer_id, "corr-deb-00002")
        await until_step(hub, agent_id, "confirmed", SELF_UPDATE)
    finally:
        await stop_service(service)
    updated_in = time.monotonic() - updating
    steps = [step for step, version in await update_steps(hub, agent_id) if version == SELF_UPDATE]
    assert steps == ["downloading", "verified", "installed", "confirmed"], steps
    assert not (root / OPT / "update/pending.json").exists()
    assert not any((root / OPT / "update/downloads").iterdir()), "the archive was kept"
    assert kitchen.count_jobs_containing("corr-deb-00002") == 1

    # Upgrade to the second package, older than the agent's own update: dpkg replaces its own
    # version folder (the first package's goes), and current stays on the newer self-update.
    await in_root(root, "dpkg", "-i", f"/tmp/{second.name}")
    check_installed(root, UPGRADE)
    assert current(root) == f"versions/{SELF_UPDATE}"
    assert sorted(p.name for p in (root / OPT / "versions").iterdir()) == sorted(
        [UPGRADE, SELF_UPDATE]
    )
    assert (
        await in_root(root, "chit-agent", "--version")
    ).stdout.strip() == f"chit-agent {SELF_UPDATE}"
    check_preseed(root, hub_url, code)
    await eventually(lambda: not online(hub, agent_id), timeout=30)
    service = await run_service(root)
    try:
        await eventually(lambda: online(hub, agent_id), timeout=30)
        assert agent_version(hub, agent_id) == SELF_UPDATE
        await eventually(lambda: kitchen.printer_id in record.printers, timeout=30)
        await print_test_page(hub, kitchen.printer_id, "corr-deb-00003")
    finally:
        await stop_service(service)
    assert kitchen.count_jobs_containing("corr-deb-00003") == 1

    # A build that never reaches the hub: installed and switched to by the packaged agent
    # (which gives it 10 s), then stopped and rolled back by the supervisor as the service's
    # user; the previous version starts again and reports it.
    await publish_and_promote(hub, releases, never_connects(tmp_path / "bad", BROKEN), BROKEN)
    await run_until_restart(root, 120, CHIT_AGENT_UPDATE_CONFIRM_SECONDS="10")
    assert current(root) == f"versions/{BROKEN}"
    rolled = await run_until_restart(root, 60)
    assert "rolled back" in rolled and "this build never connects" in rolled, rolled[-2000:]
    assert current(root) == f"versions/{SELF_UPDATE}"
    bad = json.loads((root / OPT / "update/bad-versions.json").read_text())
    assert bad == {"versions": [BROKEN]}
    service = await run_service(root)
    try:
        await until_step(hub, agent_id, "rolled_back", BROKEN)
        assert agent_version(hub, agent_id) == SELF_UPDATE
    finally:
        await stop_service(service)

    # Remove takes the agent's own versions too but keeps the settings and the token; purge
    # leaves nothing behind.
    assert {p.name for p in (root / OPT / "versions").iterdir()} == {UPGRADE, SELF_UPDATE, BROKEN}
    await in_root(root, "dpkg", "-r", "chit-agent")
    assert not (root / OPT).exists() and not (root / "usr/bin/chit-agent").exists()
    assert token.exists() and (root / "etc/chit-agent/enroll.toml").exists()
    await in_root(root, "dpkg", "-P", "chit-agent")
    left = sorted(debroot.tree(root) - before)
    assert left == [], f"purge left {left}"
    assert debroot.accounts(root) == before_accounts, "the chit-agent user or group is left"
    how = "enrolled from the preseed" if enrols else "paired by hand"
    print(
        f"\n.deb install ({how})/print/self-update ({updated_in:.0f} s)/upgrade/rollback/purge in "
        f"{time.monotonic() - started:.0f} s"
    )
