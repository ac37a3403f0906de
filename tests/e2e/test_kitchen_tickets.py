"""Orders become kitchen tickets: a real hub, a real agent, simulated printers counted.

Each test publishes orders through ``POST /api/v1/events`` as the platform does and then
counts what every simulated printer actually printed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from agent.simulators.brain import SimState
from shared.tokens import Role
from tests.e2e.kitchen import (
    FULL_ORDER,
    Kitchen,
    all_printed,
    kitchen_printers,
    line,
    manual_printers,
    order,
    publish,
    put,
    set_up_stations,
    wait_printers,
)
from tests.e2e.support import device_token, eventually, fast_settings, hub_agent, running_agent
from tests.support import HubHarness

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def kitchen() -> AsyncIterator[Kitchen]:
    async with kitchen_printers() as printers:
        yield printers


@pytest.fixture
async def staffed(hub: HubHarness, kitchen: Kitchen, tmp_path: Path) -> AsyncIterator[Kitchen]:
    """The kitchen with its agent running and stations set up."""
    settings = fast_settings(hub_url=hub.url, manual_printers=manual_printers(kitchen))
    async with running_agent(settings, device_token(hub), spool_path=tmp_path / "spool.db"):
        await wait_printers(hub, kitchen)
        await set_up_stations(hub, kitchen)
        yield kitchen


async def test_each_station_prints_exactly_its_lines_once_even_when_published_twice(
    hub: HubHarness, staffed: Kitchen
) -> None:
    first = await publish(hub, "newOrder", order("o-101", 1, FULL_ORDER))
    assert first["tickets"]["outcome"] == "queued"
    assert sorted(t["stationId"] for t in first["tickets"]["tickets"]) == ["bar", "cold", "grill"]
    again = await publish(hub, "newOrder", order("o-101", 1, FULL_ORDER))
    assert again["tickets"]["outcome"] == "duplicate_version"
    await all_printed(hub, "o-101", 3)
    await asyncio.sleep(1.0)  # a second print of anything would land now
    assert staffed.counts() == {"grill": 1, "cold": 1, "bar": 1, "backup": 0}
    [grill], [cold], [bar] = (staffed.tickets(n) for n in ("grill", "cold", "bar"))
    assert b"2 x Cheeseburger" in grill and b"no onion" in grill
    assert b"Salad" not in grill and b"Lemonade" not in grill
    assert b"1 x Caesar Salad" in cold and b"dressing aside" in cold
    assert b"Cheeseburger" not in cold and b"Lemonade" not in cold
    assert b"3 x Lemonade" in bar and b"Cheeseburger" not in bar and b"Salad" not in bar
    for ticket in (grill, cold, bar):
        assert b"#N101" in ticket and b"Table 12" in ticket


async def test_a_new_version_prints_one_delta_and_a_cancel_voids_every_station_that_printed(
    hub: HubHarness, staffed: Kitchen
) -> None:
    await publish(hub, "newOrder", order("o-202", 1, FULL_ORDER))
    await all_printed(hub, "o-202", 3)
    v2 = [*FULL_ORDER, line("l4", "Veggie Burger", "burgers", 1)]
    body = await publish(hub, "orderStatusUpdate", {**order("o-202", 2, v2), "status": "open"})
    assert [(t["stationId"], t["kind"]) for t in body["tickets"]["tickets"]] == [
        ("grill", "update")
    ]
    await all_printed(hub, "o-202", 4)
    await asyncio.sleep(0.5)
    assert staffed.counts() == {"grill": 2, "cold": 1, "bar": 1, "backup": 0}
    delta = staffed.tickets("grill")[1]
    assert b"1 x Veggie Burger" in delta and b"UPDATE" in delta
    assert b"Cheeseburger" not in delta  # only what changed

    cancel = {"correlationId": "corr-o-202-cancel", "orderId": "o-202", "reason": "guest left"}
    body = await publish(hub, "orderCancelled", cancel)
    assert sorted(t["stationId"] for t in body["tickets"]["tickets"]) == ["bar", "cold", "grill"]
    assert (await publish(hub, "orderCancelled", cancel))["tickets"]["outcome"] == (
        "duplicate_cancel"
    )
    await all_printed(hub, "o-202", 7)
    await asyncio.sleep(0.5)
    assert staffed.counts() == {"grill": 3, "cold": 2, "bar": 2, "backup": 0}
    grill_void = staffed.tickets("grill")[2]
    assert b"VOID - ORDER CANCELLED" in grill_void
    assert b"VOID 2 x Cheeseburger" in grill_void and b"VOID 1 x Veggie Burger" in grill_void
    assert b"VOID 1 x Caesar Salad" in staffed.tickets("cold")[1]
    assert b"VOID 3 x Lemonade" in staffed.tickets("bar")[1]


async def test_a_cancel_voids_only_the_stations_that_printed(
    hub: HubHarness, staffed: Kitchen
) -> None:
    await publish(hub, "newOrder", order("o-303", 1, [line("l1", "Ribs", "burgers", 1)]))
    await all_printed(hub, "o-303", 1)
    body = await publish(hub, "orderCancelled", {"correlationId": "corr-303-x", "orderId": "o-303"})
    assert [t["stationId"] for t in body["tickets"]["tickets"]] == ["grill"]
    await all_printed(hub, "o-303", 2)
    await asyncio.sleep(0.5)
    assert staffed.counts() == {"grill": 2, "cold": 0, "bar": 0, "backup": 0}


async def test_quantity_changes_and_removed_lines_print_on_their_station_only(
    hub: HubHarness, staffed: Kitchen
) -> None:
    await publish(hub, "newOrder", order("o-404", 1, FULL_ORDER))
    await all_printed(hub, "o-404", 3)
    v2 = [line("l1", "Cheeseburger", "burgers", 3, modifiers=["no onion"]), FULL_ORDER[2]]
    body = await publish(hub, "orderStatusUpdate", {**order("o-404", 2, v2), "status": "open"})
    assert sorted(t["stationId"] for t in body["tickets"]["tickets"]) == ["cold", "grill"]
    await all_printed(hub, "o-404", 5)
    await asyncio.sleep(0.5)
    assert staffed.counts() == {"grill": 2, "cold": 2, "bar": 1, "backup": 0}
    assert b"QTY 2 -> 3  Cheeseburger" in staffed.tickets("grill")[1]
    assert b"VOID 1 x Caesar Salad" in staffed.tickets("cold")[1]


async def _log(hub: HubHarness, order_id: str) -> dict[str, Any]:
    status, body = await hub.get(f"/api/v1/orders/{order_id}/tickets", hub.token())
    assert status == 200, body
    return dict(body)


async def test_bad_orders_get_a_clear_error_or_a_documented_outcome_and_nothing_prints_twice(
    hub: HubHarness, staffed: Kitchen
) -> None:
    async def refused(payload: dict[str, Any], code: str, field: str | None = None) -> None:
        status, body = await hub.publish("newOrder", payload, branch="b1")
        assert (status, body["code"]) == ((413 if code == "payload_too_large" else 422), code)
        if field is not None:
            assert body["field"] == field, body

    await refused(order("o-901", 1, []), "invalid_payload", "payload.lines")
    too_many = [line(f"l{n}", "Fries", "burgers") for n in range(10_000)]
    await refused(order("o-902", 1, too_many), "payload_too_large")
    await refused(order("o-902", 1, too_many[:201]), "invalid_payload", "payload.lines")
    await refused(
        order("o-903", 1, [line("l1", "Fries", "burgers", -2)]),
        "invalid_payload",
        "payload.lines.0.quantity",
    )
    await refused(
        order("o-903", 1, [line("l1", "Fries", "burgers", 0)]),
        "invalid_payload",
        "payload.lines.0.quantity",
    )
    unversioned = {k: v for k, v in order("o-904", 1, FULL_ORDER).items() if k != "orderVersion"}
    await refused(unversioned, "invalid_payload", "payload.lines")
    twice = [line("l1", "Fries", "burgers"), line("l1", "Cola", "drinks")]
    await refused(order("o-905", 1, twice), "invalid_payload", "payload.lines")

    nowhere = await publish(hub, "newOrder", order("o-906", 1, [line("l1", "Nigiri", "sushi")]))
    assert nowhere["tickets"]["outcome"] == "nothing_to_print"
    notes = (await _log(hub, "o-906"))["notes"]
    assert [n["code"] for n in notes] == ["unrouted", "nothing_routed"]
    assert "'sushi'" in notes[0]["message"] and "no default station" in notes[0]["message"]

    await publish(hub, "newOrder", order("o-907", 2, FULL_ORDER))
    await all_printed(hub, "o-907", 3)
    stale = await publish(hub, "newOrder", order("o-907", 1, FULL_ORDER[:1]))
    assert stale["tickets"]["outcome"] == "stale_version"
    assert (await _log(hub, "o-907"))["notes"][-1]["code"] == "stale_version"
    relayed = await publish(
        hub, "newOrder", {"correlationId": "corr-o-908", "orderId": "o-908", "status": "new"}
    )
    assert relayed["tickets"] is None  # no lines: relayed to the rooms, nothing to print

    await asyncio.sleep(1.0)
    assert staffed.counts() == {"grill": 1, "cold": 1, "bar": 1, "backup": 0}


async def test_unknown_categories_go_to_the_default_station(
    hub: HubHarness, staffed: Kitchen
) -> None:
    token = hub.token(Role.MANAGER, "acme")
    rules = {
        "defaultStationId": "cold",
        "rules": [{"match": "category", "value": "burgers", "stationIds": ["grill"]}],
    }
    assert (await put(hub, "/api/v1/branches/b1/rules", rules, token))[0] == 200
    body = await publish(hub, "newOrder", order("o-911", 1, [line("l1", "Nigiri", "sushi", 2)]))
    assert [t["stationId"] for t in body["tickets"]["tickets"]] == ["cold"]
    await all_printed(hub, "o-911", 1)
    assert staffed.counts() == {"grill": 0, "cold": 1, "bar": 0, "backup": 0}
    assert b"2 x Nigiri" in staffed.tickets("cold")[0]


@pytest.fixture
async def quick_hub(tmp_path: Path) -> AsyncIterator[HubHarness]:
    """A hub that reroutes after 1.5 s and evaluates alerts five times a second."""
    harness = await HubHarness.start(
        tmp_path / "hub", ticket_reroute_seconds=REROUTE, alert_interval=0.2
    )
    try:
        yield harness
    finally:
        await harness.stop()


REROUTE = 1.5


async def _staff(hub: HubHarness, kitchen: Kitchen, tmp_path: Path, **kw: Any) -> Any:
    settings = fast_settings(hub_url=hub.url, manual_printers=manual_printers(kitchen))
    return running_agent(settings, device_token(hub), spool_path=tmp_path / "spool.db", **kw)


async def _grill_state(hub: HubHarness, kitchen: Kitchen, state: str) -> None:
    record = hub_agent(hub)
    assert record is not None
    await eventually(
        lambda: (
            (info := record.printers.get(kitchen["grill"].printer_id)) is not None
            and info.status is not None
            and info.status.state == state
        )
    )


async def test_a_grill_out_of_paper_sends_its_waiting_tickets_to_the_backup_and_gets_new_ones_back(
    quick_hub: HubHarness, kitchen: Kitchen, tmp_path: Path
) -> None:
    hub = quick_hub
    watcher = await hub.connect(hub.token(Role.STAFF, "acme", "b1"), ["/printing-ws"])
    async with await _staff(hub, kitchen, tmp_path):
        await wait_printers(hub, kitchen)
        await set_up_stations(hub, kitchen)
        kitchen["grill"].set_state(SimState.PAPER_OUT)
        await _grill_state(hub, kitchen, "paper_out")
        down_at = time.monotonic()
        for n in (1, 2):
            await publish(
                hub, "newOrder", order(f"o-50{n}", 1, [line("l1", f"Burger {n}", "burgers")])
            )
        await asyncio.sleep(REROUTE / 2)
        assert kitchen.counts()["backup"] == 0  # not before the delay
        async with asyncio.timeout(REROUTE + 5):
            while kitchen.counts()["backup"] < 2:
                await asyncio.sleep(0.05)
        assert time.monotonic() - down_at < REROUTE + 3
        for n, ticket in zip((1, 2), kitchen.tickets("backup"), strict=True):
            assert b"REROUTED from Grill" in ticket and f"Burger {n}".encode() in ticket
            assert ticket.index(b"REROUTED") < ticket.index(b"GRILL")
        await all_printed(hub, "o-501", 1)
        [ticket] = (await _log(hub, "o-501"))["tickets"]
        assert ticket["reroutedFrom"] == kitchen["grill"].printer_id
        assert ticket["printerId"] == kitchen["backup"].printer_id
        assert any("rerouted from Grill" in (h["detail"] or "") for h in ticket["history"])
        alerts = await watcher.wait_for("/printing-ws", "newAlert")
        down = [a for a in alerts if a["kind"] == "station_printer_down"]
        assert down and down[0]["state"] == "raised" and down[0]["branchId"] == "b1"
        assert "Grill" in down[0]["message"] and "paper out" in down[0]["message"]

        kitchen["grill"].set_state(SimState.OK)
        await _grill_state(hub, kitchen, "online")
        await publish(hub, "newOrder", order("o-503", 1, [line("l1", "Burger 3", "burgers")]))
        await all_printed(hub, "o-503", 1)
        await asyncio.sleep(0.5)
        assert kitchen.counts() == {"grill": 1, "cold": 0, "bar": 0, "backup": 2}
        assert b"Burger 3" in kitchen.tickets("grill")[0]
        assert b"REROUTED" not in kitchen.tickets("grill")[0]
        assert b"Burger 1" not in kitchen["grill"].brain.raw  # never even sent to the grill
        cleared = await eventually(
            lambda: [
                a
                for a in watcher.events("/printing-ws", "newAlert")
                if a["kind"] == "station_printer_down" and a["state"] == "cleared"
            ]
        )
        assert cleared[0]["alertId"] == down[0]["alertId"]


async def test_without_a_backup_tickets_wait_raise_an_alert_and_print_once_the_paper_is_back(
    quick_hub: HubHarness, kitchen: Kitchen, tmp_path: Path
) -> None:
    hub = quick_hub
    async with await _staff(hub, kitchen, tmp_path):
        await wait_printers(hub, kitchen)
        await set_up_stations(hub, kitchen, backup=False)
        kitchen["grill"].set_state(SimState.COVER_OPEN)
        await _grill_state(hub, kitchen, "cover_open")
        await publish(hub, "newOrder", order("o-511", 1, [line("l1", "Burger", "burgers")]))
        manager = hub.token(Role.MANAGER, "acme")

        async def active() -> list[dict[str, Any]]:
            _, body = await hub.get("/api/v1/alerts", manager)
            return [a for a in body["active"] if a["kind"] == "station_printer_down"]

        async with asyncio.timeout(REROUTE + 5):
            while not (raised := await active()):
                await asyncio.sleep(0.1)
        assert "no backup printer" in raised[0]["message"]
        assert kitchen.counts()["backup"] == 0
        kitchen["grill"].set_state(SimState.OK)
        await all_printed(hub, "o-511", 1)
        async with asyncio.timeout(5):
            while await active():
                await asyncio.sleep(0.1)
    assert kitchen.counts() == {"grill": 1, "cold": 0, "bar": 0, "backup": 0}
