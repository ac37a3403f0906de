"""The agent's side of an update: offered, downloaded, verified, installed, confirmed.

An offer (the hub's ``agent:update``, the answer to the scheduled ``agent:update:check``, or
the check after every connect) names the version the agent's ring wants. The updater refuses
anything that is not strictly newer than the running version, downloads and verifies the
build in a thread (agent.updates.client), unpacks it beside the current one, then holds the
job runner (no new print starts; the ones under way finish), writes the pending-update
marker, switches ``current`` and asks the agent to restart with :data:`RESTART_EXIT_CODE`.
The new version confirms once it is registered with the hub; until then the supervisor
(agent.updates.supervisor) rolls it back when its deadline passes. Every step is reported.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from tarfile import TarError

from agent.jobs import JobRunner
from agent.updates.client import UpdateRefused, UpdateUnavailable, fetch_build, this_platform
from agent.updates.layout import Layout, LayoutError, PendingUpdate
from shared.events import AgentUpdateStatus
from shared.updates import UpdateStep, is_upgrade

log = logging.getLogger("chit.agent.updates")

#: The exit code that asks the service manager for a restart into the new version
#: (EX_TEMPFAIL of sysexits.h; systemd's Restart=always restarts on any exit).
RESTART_EXIT_CODE = 75
#: Longest wait for the prints under way before a switch is put off (seconds).
HOLD_TIMEOUT = 300.0

Report = Callable[[AgentUpdateStatus], Awaitable[None]]


class AgentUpdater:
    """Applies the versions the hub offers to one install layout."""

    def __init__(
        self,
        layout: Layout,
        hub_url: str,
        version: str,
        agent_id: Callable[[], str],
        report: Report,
        jobs: Callable[[], JobRunner | None],
        restart: Callable[[], Awaitable[None]],
        *,
        confirm_within: float = 120.0,
        hold_timeout: float = HOLD_TIMEOUT,
        timeout: float = 30.0,
        platform_name: str | None = None,
    ) -> None:
        self.layout, self.hub_url, self.version = layout, hub_url, version
        self._agent_id, self._report, self._jobs, self._restart = agent_id, report, jobs, restart
        self.confirm_within, self.hold_timeout, self.timeout = confirm_within, hold_timeout, timeout
        self.platform = platform_name or this_platform()
        self._lock = asyncio.Lock()
        #: Versions refused in this run: not downloaded again at every check.
        self.refused: set[str] = layout.bad_versions()

    async def offer(self, version: str) -> UpdateStep | None:
        """Apply ``version`` if it is newer and signed; the last step taken (None: nothing)."""
        async with self._lock:
            if version == self.version or version in self.refused:
                return None
            if not is_upgrade(self.version, version):
                self.refused.add(version)
                detail = f"{version} is not newer than the running {self.version}: no downgrades"
                return await self._step(UpdateStep.REFUSED, version, detail)
            return await self._apply(version)

    async def _apply(self, version: str) -> UpdateStep:
        await self._step(UpdateStep.DOWNLOADING, version)
        try:
            archive = await asyncio.to_thread(self._fetch, version)
            await asyncio.to_thread(self.layout.install, archive, version)
        except UpdateRefused as exc:
            self.refused.add(version)
            log.warning("update refused", extra={"version": version, "reason": exc.message})
            return await self._step(UpdateStep.REFUSED, version, f"{exc.code}: {exc.message}")
        except (UpdateUnavailable, LayoutError, TarError, OSError) as exc:
            return await self._step(UpdateStep.FAILED, version, str(exc)[:2000])
        await self._step(UpdateStep.VERIFIED, version)
        jobs = self._jobs()
        if jobs is not None and jobs.printing:
            await self._step(UpdateStep.WAITING_FOR_JOBS, version, f"{jobs.printing} printing")
        if jobs is not None and not await jobs.hold(self.hold_timeout):
            detail = f"prints did not finish within {self.hold_timeout:g} s; tried again later"
            return await self._step(UpdateStep.FAILED, version, detail)
        now = time.time()
        previous = self.layout.current_version() or self.version
        try:
            self.layout.set_pending(
                PendingUpdate(previous, version, now, now + self.confirm_within)
            )
            self.layout.switch(version)
        except (LayoutError, OSError) as exc:
            self.layout.set_pending(None)
            if jobs is not None:
                jobs.release()
            return await self._step(UpdateStep.FAILED, version, f"cannot switch: {exc}"[:2000])
        await self._step(UpdateStep.INSTALLED, version)
        log.info("update installed; restarting", extra={"version": version, "from": previous})
        await self._restart()
        return UpdateStep.INSTALLED

    def _fetch(self, version: str) -> Path:
        return fetch_build(
            self.layout,
            self.hub_url,
            version,
            platform_name=self.platform,
            timeout=self.timeout,
        )

    async def connected(self) -> None:
        """Registered with the hub: confirm a pending update of this version, report the rest."""
        for outcome in self.layout.outcomes():
            await self._step(
                UpdateStep(outcome.step), outcome.version, outcome.detail, outcome.from_version
            )
        self.layout.clear_outcomes()
        pending = self.layout.pending()
        if pending is not None and pending.to_version == self.version:
            self.layout.set_pending(None)
            self.layout.prune({self.version, pending.from_version})
            self.layout.clear_downloads()
            await self._step(UpdateStep.CONFIRMED, self.version, None, pending.from_version)

    async def _step(
        self,
        step: UpdateStep,
        version: str,
        detail: str | None = None,
        from_version: str | None = None,
    ) -> UpdateStep:
        status = AgentUpdateStatus(
            agent_id=self._agent_id(),
            step=step,
            version=version,
            from_version=from_version or self.version,
            detail=detail,
            at=datetime.now(UTC),
        )
        try:
            await self._report(status)
        except Exception:
            log.exception("reporting an update step failed", extra={"step": str(step)})
        return step


def layout_for(install_root: str, environ_root: str | None) -> Layout | None:
    """The layout this agent runs from, None when it was not installed in one."""
    root = install_root or environ_root
    if not root:
        return None
    layout = Layout(Path(root))
    return layout if layout.current_version() is not None else None
