"""``chit-hub --demo``: the hub, an in-process agent and three simulated printers, ready to click.

The demo company ``demo`` has one branch ``demo-main``, three printers called Kitchen, Bar and
Front counter, and two logins whose passwords are reset and printed at every start (so the
command is safe to run again on the same data dir): the branch's manager, and the company's
admin, who also sees the Monitoring charts. The agent is paired on every start too (a fresh
credential), which also lifts a revocation made in the UI during an earlier run.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta

from agent.service import Agent
from agent.settings import AgentSettings
from agent.simulators.brain import SimState
from agent.simulators.fleet import SimulatorFleet
from hub.runner import RunningHub, start_hub
from hub.settings import Settings
from hub.startup import check_data_dir, database_errors, prepare_keys, stop_event
from hub.store import Database, agents, tenants, users
from shared.tokens import Role, mint

COMPANY = "demo"
BRANCH = "demo-main"
USERNAME = "demo-manager"
ADMIN_USERNAME = "demo-admin"
AGENT_ID = "demo-agent"
PRINTER_STATES = (SimState.OK, SimState.OK, SimState.PAPER_NEAR_END)
_DEVICE_TTL = int(timedelta(days=30).total_seconds())
_STOP_TIMEOUT = 10.0


@dataclass(frozen=True)
class DemoLogin:
    """A login the demo prints."""

    username: str
    password: str


async def _ensure_user(
    db: Database, username: str, role: users.UserRole, branch: str | None
) -> DemoLogin:
    """Create the user, or give the existing one a new password."""
    password = secrets.token_urlsafe(9)
    async with db.session() as s:
        existing = [u for u in await users.list_users(s, COMPANY) if u.username == username]
        if existing:
            await users.set_password(s, existing[0].id, password)
        else:
            await users.create_user(s, username, password, role, COMPANY, branch)
    return DemoLogin(username, password)


async def ensure_tenant(db: Database) -> None:
    """The demo company and its branch (the hub admits only provisioned branches)."""
    async with db.session() as s:
        await tenants.ensure_company(s, COMPANY, "Demo Restaurants")
        await tenants.ensure_branch(s, BRANCH, COMPANY, "Demo Main Street")


async def ensure_manager(db: Database) -> DemoLogin:
    """Create the demo tenant and the branch's manager; an existing one gets a new password."""
    await ensure_tenant(db)
    return await _ensure_user(db, USERNAME, "manager", BRANCH)


async def ensure_admin(db: Database) -> DemoLogin:
    """The company's admin (sees Monitoring); an existing one gets a new password."""
    await ensure_tenant(db)
    return await _ensure_user(db, ADMIN_USERNAME, "admin", None)


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
        # Named entries: the hub, the jobs table and the logs show "Kitchen", not an address.
        manual_printers=tuple(f"{p.name}={p.host}:{p.port}" for p in fleet.printers),
        mdns=False,
        usb=False,
        status_interval=2,
    )


@contextlib.asynccontextmanager
async def running_agent(settings: Settings, hub: RunningHub, token: str) -> AsyncIterator[Agent]:
    """Three simulated printers and an agent driving them, until the block ends."""
    async with SimulatorFleet(3, announce=False, states=PRINTER_STATES) as fleet:
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


def banner(url: str, manager: DemoLogin, admin: DemoLogin) -> str:
    """What the demo prints once it is ready: where to go and how to sign in."""
    return (
        "\n  Chit demo is running.\n"
        f"  Open      {url}/\n"
        f"  Manager   {manager.username} / {manager.password}   (branch {BRANCH})\n"
        f"  Admin     {admin.username} / {admin.password}   (company {COMPANY}, sees Monitoring)\n"
        "  Three simulated printers (Kitchen, Bar, Front counter) appear within a few\n"
        "  seconds; click Test on one. Stop with Ctrl+C.\n"
    )


async def run_demo(settings: Settings) -> None:
    """Serve the hub with the demo tenant, agent and printers until interrupted.

    Raises :class:`hub.startup.StartupError` when the hub cannot start (port, data, database).
    """
    check_data_dir(settings.data_dir)
    settings = prepare_keys(settings)
    assert settings.jwt_secret is not None
    stop = stop_event()
    with database_errors(settings):
        hub = await start_hub(settings)
    try:
        manager = await ensure_manager(hub.ctx.db)
        admin = await ensure_admin(hub.ctx.db)
        token = await pair_agent(hub.ctx.db, settings.jwt_secret)
        async with running_agent(settings, hub, token):
            print(banner(hub.url, manager, admin), flush=True)
            await stop.wait()
    finally:
        await hub.stop()
