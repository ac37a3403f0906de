"""Run a real agent (in the test's loop) against a real hub and simulated printers."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from agent.service import Agent
from agent.settings import AgentSettings
from agent.simulators.network import SimulatedNetworkPrinter
from hub.services.registry import AgentRecord
from shared.tokens import Role
from tests.support import HubHarness


def fast_settings(**changes: Any) -> AgentSettings:
    """Agent settings with short intervals and no LAN-wide discovery."""
    base = AgentSettings(
        agent_id="agent-e2e",
        hostname="till-1",
        mdns=False,
        usb=False,
        queues=False,
        scan_interval=1.0,
        status_interval=0.3,
        heartbeat_interval=1.0,
        io_timeout=2.0,
    )
    return base.with_changes(**changes)


def device_token(
    hub: HubHarness, agent_id: str = "agent-e2e", company: str = "acme", branch: str = "b1"
) -> str:
    """A desktop_app token for the agent."""
    return hub.token(Role.DESKTOP_APP, company, branch, sub=agent_id)


@contextlib.asynccontextmanager
async def running_agent(
    settings: AgentSettings, token: str | Callable[[], str | None], **kwargs: Any
) -> AsyncIterator[Agent]:
    """An Agent whose run() loop is going; stopped afterwards."""
    provider = token if callable(token) else (lambda: token)
    agent = Agent(settings, provider, **kwargs)
    if agent.link is not None:
        agent.link._base, agent.link._cap = 0.2, 1.0
    task = asyncio.create_task(agent.run())
    try:
        yield agent
    finally:
        await agent.stop()
        async with asyncio.timeout(10):
            await task


async def eventually(check: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Poll ``check`` until it returns something truthy."""
    async with asyncio.timeout(timeout):
        while not (value := check()):
            await asyncio.sleep(0.05)
    return value


def hub_agent(
    hub: HubHarness, agent_id: str = "agent-e2e", company: str = "acme"
) -> AgentRecord | None:
    """The hub's record of an agent, once online."""
    record = hub.ctx.printing.registry.agent(company, agent_id)
    return record if record is not None and record.online else None


def manual(printer: SimulatedNetworkPrinter) -> str:
    """The manual entry for a simulated printer."""
    return f"{printer.host}:{printer.port}"
