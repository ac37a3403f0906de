"""An agent counts itself registered only once the hub acked its hello and inventory.

Seen in a reconnect storm: the hub failed an agent's hello (pool exhausted) and the agent,
which sent it once, believed itself connected while the hub had no record of it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from agent.link import LinkState
from agent.simulators.network import SimulatedNetworkPrinter
from hub.auth import AuthRefused
from tests.e2e.support import device_token, eventually, fast_settings, manual, running_agent
from tests.support import HubHarness


@pytest.fixture
async def printer() -> AsyncIterator[SimulatedNetworkPrinter]:
    async with SimulatedNetworkPrinter(name="Kitchen") as sim:
        yield sim


async def test_hello_and_inventory_are_retried_until_acked(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    failures = {"hello": 3, "inventory": 2}
    printing = hub.ctx.printing
    real_hello, real_inventory = printing.hello, printing.inventory

    async def flaky_hello(*args: Any) -> None:
        if failures["hello"]:
            failures["hello"] -= 1
            raise ConnectionError("QueuePool limit of size 5 overflow 10 reached")
        await real_hello(*args)

    async def flaky_inventory(*args: Any) -> None:
        if failures["inventory"]:
            failures["inventory"] -= 1
            raise ConnectionError("database is locked")
        await real_inventory(*args)

    printing.hello, printing.inventory = flaky_hello, flaky_inventory  # type: ignore[method-assign]
    states: list[LinkState] = []
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)) as agent:
        assert agent.link is not None
        agent.link.listen(lambda state, _detail: states.append(state))
        await eventually(lambda: agent.link is not None and agent.link.registered, timeout=20)
        record = printing.registry.agent("acme", "agent-e2e")
        assert record is not None and record.info is not None
        assert printer.printer_id in record.printers
    assert failures == {"hello": 0, "inventory": 0}
    assert LinkState.REGISTERING in states or states[:1] == [LinkState.CONNECTED]


async def test_a_busy_hub_defers_the_connect_and_the_agent_comes_back(
    hub: HubHarness, printer: SimulatedNetworkPrinter
) -> None:
    gateway = hub.ctx.sio.namespace_handlers["/printing-ws"]
    refusals = {"left": 2}
    real_admit = gateway.admit

    async def busy_admit(claims: Any) -> None:
        if refusals["left"]:
            refusals["left"] -= 1
            raise AuthRefused("busy", "the hub is busy; retry shortly", retry_after=0.3)
        await real_admit(claims)

    gateway.admit = busy_admit
    seen: list[tuple[LinkState, str | None]] = []
    settings = fast_settings(hub_url=hub.url, manual_printers=(manual(printer),))
    async with running_agent(settings, device_token(hub)) as agent:
        assert agent.link is not None
        agent.link.listen(lambda state, detail: seen.append((state, detail)))
        await eventually(lambda: agent.link is not None and agent.link.registered, timeout=20)
    assert refusals["left"] == 0
    # Deferred, not refused: the agent waits as told and never shows "refused".
    assert any(detail and "hub busy" in detail for _, detail in seen), seen
    assert LinkState.REFUSED not in [state for state, _ in seen]
