"""The agent's updater against a real hub serving a real TUF repository (no mocked checks).

Builds are tiny archives (tests/updates_support.py); every signature and hash is python-tuf's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent.updates.client import this_platform
from agent.updates.layout import Layout
from agent.updates.updater import AgentUpdater
from hub.releases.repository import Repository
from shared.events import AgentUpdateStatus
from shared.updates import UpdateStep, target_name
from tests.support import HubHarness
from tests.updates_support import make_build, make_layout, make_repository, release

PLATFORM = this_platform()


class Fleet:
    """A hub with a repository of builds 0.9.0, 1.0.0 and 1.1.0, and a till on 1.0.0."""

    def __init__(self, hub: HubHarness, tmp: Path) -> None:
        self.hub, self.keys = hub, tmp / "offline-keys"
        self.repo: Repository = make_repository(hub.data_dir, self.keys)
        self.builds = {v: make_build(tmp / "dist", v) for v in ("0.9.0", "1.0.0", "1.1.0")}
        for version, archive in self.builds.items():
            release(self.repo, self.keys, archive, PLATFORM, version)
        self.layout: Layout = make_layout(tmp / "opt", self.repo, self.builds["1.0.0"], "1.0.0")
        self.steps: list[AgentUpdateStatus] = []
        self.restarts = 0

    def updater(self, version: str = "1.0.0") -> AgentUpdater:
        async def report(status: AgentUpdateStatus) -> None:
            self.steps.append(status)

        async def restart() -> None:
            self.restarts += 1

        return AgentUpdater(
            self.layout,
            self.hub.url,
            version,
            lambda: "till-1",
            report,
            lambda: None,
            restart,
            confirm_within=120,
            timeout=5,
        )

    def step_names(self) -> list[str]:
        return [str(s.step) for s in self.steps]

    def stored_build(self, version: str) -> Path:
        build = next(b for b in self.repo.builds() if b.version == version)
        return self.repo.targets_dir / PLATFORM / f"{build.sha256}.chit-agent-{version}.tar.gz"


@pytest.fixture
def fleet(hub: HubHarness, tmp_path: Path) -> Fleet:
    return Fleet(hub, tmp_path)


async def test_a_signed_newer_build_is_installed_beside_the_current_and_confirmed(
    fleet: Fleet,
) -> None:
    assert await fleet.updater().offer("1.1.0") is UpdateStep.INSTALLED
    assert fleet.step_names() == ["downloading", "verified", "installed"]
    assert fleet.layout.current_version() == "1.1.0"
    assert (fleet.layout.versions / "1.0.0" / "chit-agent").is_file()  # kept for a rollback
    assert (fleet.layout.versions / "1.1.0" / "VERSION").read_text() == "1.1.0"
    pending = fleet.layout.pending()
    assert pending is not None and (pending.from_version, pending.to_version) == ("1.0.0", "1.1.0")
    assert fleet.restarts == 1
    assert any(fleet.layout.downloads.iterdir())  # kept while the switch may still be undone
    # The new version starts, registers with the hub and confirms.
    await fleet.updater("1.1.0").connected()
    assert fleet.steps[-1].step is UpdateStep.CONFIRMED
    assert fleet.steps[-1].from_version == "1.0.0"
    assert fleet.layout.pending() is None
    assert not any(fleet.layout.downloads.iterdir())  # the archive goes once confirmed


@pytest.mark.parametrize("tamper", ["same_length", "longer"])
async def test_a_tampered_build_is_refused_and_nothing_changes(fleet: Fleet, tamper: str) -> None:
    stored = fleet.stored_build("1.1.0")
    data = stored.read_bytes()
    forged = data[:-4] + b"EVIL" if tamper == "same_length" else data + b"EVIL"
    stored.write_bytes(forged)
    assert await fleet.updater().offer("1.1.0") is UpdateStep.REFUSED
    assert fleet.step_names() == ["downloading", "refused"]
    assert "verification_failed" in (fleet.steps[-1].detail or "")
    assert fleet.layout.current_version() == "1.0.0"
    assert not fleet.layout.installed("1.1.0")
    assert fleet.layout.pending() is None and fleet.restarts == 0


async def test_targets_metadata_edited_without_its_key_is_refused(fleet: Fleet) -> None:
    version = fleet.repo.targets().signed.version
    path = fleet.repo.metadata_dir / f"{version}.targets.json"
    document = json.loads(path.read_text())
    name = target_name(PLATFORM, "1.1.0")
    # Point the signed entry at a forged build: the signature no longer matches.
    forged = fleet.stored_build("1.1.0")
    forged.write_bytes(forged.read_bytes() + b"EVIL")
    document["signed"]["targets"][name]["length"] += 4
    path.write_text(json.dumps(document))
    assert await fleet.updater().offer("1.1.0") is UpdateStep.REFUSED
    assert fleet.layout.current_version() == "1.0.0" and not fleet.layout.installed("1.1.0")


async def test_an_unsigned_build_is_refused(fleet: Fleet) -> None:
    unsigned = make_build(fleet.layout.root.parent / "dist", "1.2.0")
    folder = fleet.repo.targets_dir / PLATFORM
    (folder / "chit-agent-1.2.0.tar.gz").write_bytes(unsigned.read_bytes())
    assert await fleet.updater().offer("1.2.0") is UpdateStep.REFUSED
    assert "not_signed" in (fleet.steps[-1].detail or "")
    assert not fleet.layout.installed("1.2.0")


async def test_a_downgrade_is_refused_without_downloading(fleet: Fleet) -> None:
    updater = fleet.updater()
    assert await updater.offer("0.9.0") is UpdateStep.REFUSED
    assert fleet.step_names() == ["refused"]
    assert "no downgrades" in (fleet.steps[0].detail or "")
    assert not fleet.layout.downloads.exists() or not any(fleet.layout.downloads.iterdir())
    assert fleet.layout.current_version() == "1.0.0"
    assert await updater.offer("0.9.0") is None  # refused once, not reported at every check
    assert await updater.offer("1.0.0") is None  # the running version: nothing to do


async def test_a_rolled_back_version_is_not_installed_again(fleet: Fleet) -> None:
    fleet.layout.add_bad_version("1.1.0")
    assert await fleet.updater().offer("1.1.0") is None
    assert fleet.steps == [] and fleet.layout.current_version() == "1.0.0"


async def test_expired_timestamp_is_refused_until_the_hub_re_signs_it(fleet: Fleet) -> None:
    from datetime import UTC, datetime, timedelta

    from tuf.api.metadata import Metadata, Timestamp

    path = fleet.repo.metadata_dir / "timestamp.json"
    stale = Metadata[Timestamp].from_file(str(path))
    stale.signed.expires = datetime.now(UTC) - timedelta(hours=1)
    stale.signed.version += 1
    stale.signatures.clear()
    stale.sign(fleet.repo._online("timestamp"))
    stale.to_file(str(path))
    assert await fleet.updater().offer("1.1.0") is UpdateStep.REFUSED
    assert fleet.repo.refresh() is True  # what the hub's hourly task does
    assert await fleet.updater().offer("1.1.0") is UpdateStep.INSTALLED


async def test_renewed_root_and_targets_are_followed_by_an_agent_on_the_old_root(
    fleet: Fleet,
) -> None:
    from hub import cli

    data = str(fleet.hub.data_dir)
    renew = ["agent-release", "renew", "--data-dir", data]
    keys = [
        "--root-key",
        str(fleet.keys / "root.pem"),
        "--targets-key",
        str(fleet.keys / "targets.pem"),
    ]
    assert cli.main([*renew, *keys]) == 0
    assert (fleet.repo.metadata_dir / "2.root.json").is_file()
    # The till still trusts version 1 of root: it walks to version 2 and verifies the rest.
    assert await fleet.updater().offer("1.1.0") is UpdateStep.INSTALLED
    trusted = json.loads((fleet.layout.tuf_dir / "root.json").read_text())
    assert trusted["signed"]["version"] == 2
    assert cli.main([*renew, "--root-key", str(fleet.keys / "targets.pem")]) == 2  # wrong key


async def test_without_a_trusted_root_updates_are_off_and_say_so(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A package built without --trusted-root: the agent runs, logs why, installs nothing."""
    import logging

    from agent.service import Agent
    from tests.e2e.support import fast_settings

    layout = Layout(tmp_path / "opt")
    layout.install(make_build(tmp_path / "dist", "1.0.0"), "1.0.0")
    layout.switch("1.0.0")
    settings = fast_settings(hub_url="http://127.0.0.1:9", install_root=str(layout.root))
    with caplog.at_level(logging.WARNING, logger="chit.agent"):
        agent = Agent(settings, lambda: None, spool_path=tmp_path / "spool.db")
    assert any("self-updates are off" in r.getMessage() for r in caplog.records)
    assert agent.updater is not None
    steps: list[AgentUpdateStatus] = []

    async def report(status: AgentUpdateStatus) -> None:
        steps.append(status)

    updater = AgentUpdater(
        layout, settings.hub_url, "1.0.0", lambda: "till-1", report, lambda: None, report_restart
    )
    assert await updater.offer("1.1.0") is UpdateStep.REFUSED
    assert [str(s.step) for s in steps] == ["downloading", "refused"]
    assert "no_trusted_root" in (steps[-1].detail or "")
    assert layout.current_version() == "1.0.0" and not layout.installed("1.1.0")
    assert await updater.offer("1.1.0") is None  # refused once, not at every check


async def report_restart() -> None:
    raise AssertionError("nothing may restart without a trusted root")
