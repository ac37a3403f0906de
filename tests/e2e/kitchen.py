"""A kitchen for the ticket tests: simulated printers, stations and rules, order payloads.

Four simulated printers (grill, cold, bar and a backup), stations Grill (with the backup),
Cold and Bar, rules by category. What each printer printed is the measure of every test.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from agent.simulators.network import SimulatedNetworkPrinter
from shared.tokens import Role
from tests.e2e.support import eventually, hub_agent
from tests.support import HubHarness

PRINTERS = ("grill", "cold", "bar", "backup")
CATEGORIES = {"grill": "burgers", "cold": "salads", "bar": "drinks"}


@dataclass
class Kitchen:
    """The simulated printers by role (grill, cold, bar, backup)."""

    printers: dict[str, SimulatedNetworkPrinter]

    def __getitem__(self, name: str) -> SimulatedNetworkPrinter:
        return self.printers[name]

    def tickets(self, name: str) -> list[bytes]:
        """Every job the printer printed (each ends with a cut)."""
        return self.printers[name].brain.jobs

    def counts(self) -> dict[str, int]:
        """How many jobs each printer printed."""
        return {name: len(self.tickets(name)) for name in PRINTERS}


@contextlib.asynccontextmanager
async def kitchen_printers() -> AsyncIterator[Kitchen]:
    """The four printers, started on loopback."""
    printers = {name: SimulatedNetworkPrinter(name=f"{name} printer") for name in PRINTERS}
    for printer in printers.values():
        await printer.start()
    try:
        yield Kitchen(printers)
    finally:
        for printer in printers.values():
            await printer.stop()


def manual_printers(kitchen: Kitchen) -> tuple[str, ...]:
    """The agent's manual printer entries."""
    return tuple(f"{p.host}:{p.port}" for p in kitchen.printers.values())


async def wait_printers(hub: HubHarness, kitchen: Kitchen) -> None:
    """Until the hub knows the agent online with all four printers, each ready."""

    def ready() -> bool:
        record = hub_agent(hub)
        if record is None:
            return False
        ids = [p.printer_id for p in kitchen.printers.values()]
        infos = [record.printers.get(pid) for pid in ids]
        return all(i is not None and i.status is not None and i.status.ready for i in infos)

    await eventually(ready, timeout=20)


async def set_up_stations(
    hub: HubHarness, kitchen: Kitchen, branch: str = "b1", backup: bool = True
) -> None:
    """Stations Grill (backup: the backup printer), Cold, Bar; rules by category."""
    token = hub.token(Role.MANAGER, "acme")
    for name in ("grill", "cold", "bar"):
        station: dict[str, Any] = {
            "stationId": name,
            "name": name.capitalize(),
            "primaryPrinterId": kitchen[name].printer_id,
        }
        if name == "grill" and backup:
            station["backupPrinterId"] = kitchen["backup"].printer_id
        status, body = await hub.post(f"/api/v1/branches/{branch}/stations", station, token)
        assert status == 201, body
    rules = {
        "rules": [
            {"match": "category", "value": category, "stationIds": [station]}
            for station, category in CATEGORIES.items()
        ]
    }
    status, body = await put(hub, f"/api/v1/branches/{branch}/rules", rules, token)
    assert status == 200, body


async def put(hub: HubHarness, path: str, body: Any, token: str) -> tuple[int, Any]:
    """PUT JSON (the harness has POST and GET only)."""
    import aiohttp

    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http,
        http.put(hub.url + path, json=body, headers={"Authorization": f"Bearer {token}"}) as resp,
    ):
        return resp.status, await resp.json()


def line(line_id: str, name: str, category: str, quantity: int = 1, **extra: Any) -> dict[str, Any]:
    """An order line."""
    return {"lineId": line_id, "name": name, "category": category, "quantity": quantity, **extra}


def order(order_id: str, version: int, lines: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A newOrder payload (a fixed correlation id per order and version, as a retry sends)."""
    return {
        "correlationId": f"corr-{order_id}-v{version}",
        "orderId": order_id,
        "status": "new",
        "orderVersion": version,
        "orderNumber": f"N{order_id[-3:]}",
        "orderType": "dine-in",
        "table": "12",
        "guestCount": 4,
        "lines": lines,
        **extra,
    }


FULL_ORDER = [
    line("l1", "Cheeseburger", "burgers", 2, modifiers=["no onion"]),
    line("l2", "Caesar Salad", "salads", 1, notes="dressing aside"),
    line("l3", "Lemonade", "drinks", 3),
]


async def publish(hub: HubHarness, event: str, payload: dict[str, Any]) -> dict[str, Any]:
    """Publish an order event to branch b1; the 202 body."""
    status, body = await hub.publish(event, payload, branch="b1")
    assert status == 202, body
    return dict(body)


async def ticket_states(hub: HubHarness, order_id: str) -> list[str]:
    """The states of an order's tickets, in the log's order."""
    status, body = await hub.get(f"/api/v1/orders/{order_id}/tickets", hub.token())
    assert status == 200, body
    return [t["state"] for t in body["tickets"]]


async def all_printed(hub: HubHarness, order_id: str, count: int, timeout: float = 20) -> None:
    """Until the order has ``count`` tickets, every one printed."""
    async with asyncio.timeout(timeout):
        while (states := await ticket_states(hub, order_id)) != ["printed"] * count:
            assert not {"failed", "expired", "unconfirmed"} & set(states), states
            await asyncio.sleep(0.1)
