"""``chit-hub --demo``: the hub, an in-process agent and three simulated printers, ready to click.

The demo company ``demo`` has one branch ``demo-main`` and a manager login whose password is
reset and printed at every start, so the command is safe to run again on the same data dir.
The agent is paired on every start too (a fresh credential), which also lifts a revocation
made in the UI during an earlier run.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import signal
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from agent.service import Agent
from agent.settings import AgentSettings
from agent.simulators.brain import SimState
from agent.simulators.fleet import SimulatorFleet
from hub.runner import RunningHub, start_hub
from hub.settings import Settings, ensure_secret
from hub.store import Database, agents, tenants, users
from shared.tokens import Role, mint

COMPANY = "demo"
BRANCH = "demo-main"
USERNAME = "demo-manager"
AGENT_ID = "demo-agent"
PRINTER_STATES = (SimState.OK, SimState.OK, SimState.PAPER_NEAR_END)
_DEVICE_TTL = int(timedelta(days=30).total_seconds())
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class DemoLogin:
    """The manager account the demo prints."""

    username: str
    password: str


async def ensure_manager(db: Database) -> DemoLogin:
    """Create the demo company, branch and manager; an existing manager gets a new password."""
    password = secrets.token_urlsafe(9)
    async with db.session() as s:
        await tenants.ensure_company(s, COMPANY, "Demo Restaurants")
        await tenants.ensure_branch(s, BRANCH, COMPANY, "Demo Main Street")
        existing = [u for u in await users.list_users(s, COMPANY) if u.username == USERNAME]
        if existing:
            await users.set_password(s, existing[0].id, password)
        else:
            await users.create_user(s, USERNAME, password, "manager", COMPANY, BRANCH)
    return DemoLogin(USERNAME, password)


async def pair_agent(db: Database, secret: str) -> str:
    """Record the demo agent with a fresh credential and return its device token."""
    credential = uuid.uuid4().hex
    async with db.session() as s:
        await agents.upsert_agent(s, AGENT_ID, COMPANY, BRANCH, credential, hostname="demo-till")
    return mint(
        secret,
        sub=AGENT_ID,
        role=Role.DESKTOP_APP,
        company_id=COMPANY,
        branch_id=BRANCH,
        agent_id=AGENT_ID,
        ttl_seconds=_DEVICE_TTL,
        extra={"jti": credential},
    )


def agent_settings(hub_url: str, fleet: SimulatorFleet) -> AgentSettings:
    """The in-process agent: the fleet's printers by address, no LAN discovery."""
    return AgentSettings(
        agent_id=AGENT_ID,
        hostname="demo-till",
        hub_url=hub_url,
        manual_printers=tuple(f"{p.host}:{p.port}" for p in fleet.printers),
        mdns=False,
        usb=False,
        status_interval=2,
    )


@contextlib.asynccontextmanager
async def running_agent(settings: Settings, hub: RunningHub, token: str) -> AsyncIterator[Agent]:
    """Three simulated printers and an agent driving them, until the block ends."""
    async with SimulatorFleet(
        3, announce=False, name_prefix="Demo printer", states=PRINTER_STATES
    ) as fleet:
        agent = Agent(
            agent_settings(hub.url, fleet),
            lambda: token,
            spool_path=settings.data_dir / "demo-agent-spool.db",
        )
        task = asyncio.create_task(agent.run())
        try:
            yield agent
        finally:
            await agent.stop()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_STOP_TIMEOUT):
                    await task


def _banner(url: str, login: DemoLogin) -> str:
    return (
        "\n  Chit demo is running.\n"
        f"  Open      {url}/\n"
        f"  Username  {login.username}\n"
        f"  Password  {login.password}\n"
        "  Three simulated printers appear within a few seconds; click Test on one.\n"
        "  Stop with Ctrl+C.\n"
    )


def _stop_event() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    return stop


async def run_demo(settings: Settings) -> None:
    """Serve the hub with the demo tenant, agent and printers until interrupted."""
    settings = ensure_secret(settings)
    assert settings.jwt_secret is not None
    stop = _stop_event()
    hub = await start_hub(settings)
    try:
        login = await ensure_manager(hub.ctx.db)
        token = await pair_agent(hub.ctx.db, settings.jwt_secret)
        async with running_agent(settings, hub, token):
            print(_banner(hub.url, login), flush=True)
            await stop.wait()
    finally:
        await hub.stop()
