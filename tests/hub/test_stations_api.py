"""Stations, rules, the routing preview and the ticket routes over REST, with a scripted agent.

The scripted agent reports its printers online and answers every print job it is handed
(``printed`` unless told otherwise), so these tests see what the hub sends and records.
"""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest

from hub.store import audit
from shared.tokens import Role
from tests.support import HubHarness, Recorder, settle

NS = "/printing-ws"
BRANCH = "/api/v1/branches/b1"
ONLINE = {"state": "online", "online": True}


def _printer(printer_id: str, status: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "printerId": printer_id,
        "name": printer_id,
        "connection": "network",
        "source": "manual",
        "host": "127.0.0.1",
        "port": 9100,
        "status": status or ONLINE,
    }


async def kitchen_agent(
    hub: HubHarness,
    printers: tuple[str, ...] = ("p-grill", "p-cold", "p-bar", "p-backup"),
    answer: str | None = "printed",
    branch: str = "b1",
    agent_id: str = "agent-k",
) -> Recorder:
    """An agent with the kitchen's printers, online, answering each job with ``answer``."""
    agent = await hub.connect(hub.token(Role.DESKTOP_APP, "acme", branch, sub=agent_id), [NS])
    hello = {"agentId": agent_id, "hostname": "pc", "os": "linux", "version": "0.1.0"}
    assert (await agent.call(NS, "agent:hello", hello))["ok"]
    inventory = {"agentId": agent_id, "printers": [_printer(p) for p in printers]}
    assert (await agent.call(NS, "agent:inventory", inventory))["ok"]

    async def on_job(data: dict[str, Any]) -> None:
        agent.received[NS].append(("print:job", data))
        if answer is not None:
            update = {k: data[k] for k in ("jobId", "correlationId", "printerId")}
            await agent.client.emit("printJobUpdate", {**update, "state": answer}, namespace=NS)

    agent.client.on("print:job", on_job, namespace=NS)
    return agent


async def put(hub: HubHarness, path: str, body: Any, token: str) -> tuple[int, Any]:
    return await _call(hub, "PUT", path, body, token)


async def delete(hub: HubHarness, path: str, token: str) -> tuple[int, Any]:
    return await _call(hub, "DELETE", path, None, token)


async def _call(hub: HubHarness, method: str, path: str, body: Any, token: str) -> tuple[int, Any]:
    await hub.provision_pending()
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=20)) as http,
        http.request(
            method, hub.url + path, json=body, headers={"Authorization": f"Bearer {token}"}
        ) as resp,
    ):
        return resp.status, await resp.json()


def _station(station_id: str, printer: str, **kw: Any) -> dict[str, Any]:
    return {
        "stationId": station_id,
        "name": station_id.capitalize(),
        "primaryPrinterId": printer,
        **kw,
    }


async def stations(hub: HubHarness, backup: bool = True) -> None:
    """Grill (backup p-backup), Cold, Bar; rules by category."""
    token = hub.token(Role.MANAGER, "acme")
    extra = {"backupPrinterId": "p-backup"} if backup else {}
    for body in (
        _station("grill", "p-grill", **extra),
        _station("cold", "p-cold"),
        _station("bar", "p-bar"),
    ):
        status, answer = await hub.post(f"{BRANCH}/stations", body, token)
        assert status == 201, answer
    rules = {
        "rules": [
            {"match": "category", "value": "burgers", "stationIds": ["grill"]},
            {"match": "category", "value": "salads", "stationIds": ["cold"]},
            {"match": "category", "value": "drinks", "stationIds": ["bar"]},
        ]
    }
    assert (await put(hub, f"{BRANCH}/rules", rules, token))[0] == 200


def order(order_id: str, version: int, *lines: tuple[str, str, int]) -> dict[str, Any]:
    return {
        "correlationId": f"corr-{order_id}-{version}",
        "orderId": order_id,
        "status": "new",
        "orderVersion": version,
        "lines": [
            {"lineId": f"l{n}", "name": name, "category": category, "quantity": quantity}
            for n, (name, category, quantity) in enumerate(lines)
        ],
    }


async def test_a_manager_creates_lists_replaces_and_deletes_stations_and_each_change_is_audited(
    hub: HubHarness,
) -> None:
    await kitchen_agent(hub)
    token = hub.token(Role.MANAGER, "acme")
    status, body = await hub.post(
        f"{BRANCH}/stations", _station("grill", "p-grill", backupPrinterId="p-backup"), token
    )
    assert status == 201
    assert body == {
        "stationId": "grill",
        "name": "Grill",
        "primaryPrinterId": "p-grill",
        "backupPrinterId": "p-backup",
        "layout": {
            "fields": [
                "orderType",
                "table",
                "guests",
                "placedAt",
                "orderNotes",
                "modifiers",
                "lineNotes",
                "altName",
            ],
            "fontSize": "normal",
            "prices": False,
            "copies": 1,
        },
        "isDefault": False,
    }
    assert (await hub.post(f"{BRANCH}/stations", _station("grill", "p-grill"), token))[1][
        "code"
    ] == "station_exists"
    status, body = await put(
        hub,
        f"{BRANCH}/stations/grill",
        {"name": "Hot line", "primaryPrinterId": "p-cold", "layout": {"copies": 2, "prices": True}},
        token,
    )
    assert (status, body["name"], body["layout"]["copies"]) == (200, "Hot line", 2)
    assert "backupPrinterId" not in body
    status, body = await put(hub, f"{BRANCH}/stations/bar", _station("bar", "p-bar"), token)
    assert status == 201
    status, body = await hub.get(f"{BRANCH}/stations", hub.token(Role.STAFF, "acme", "b1"))
    assert [s["stationId"] for s in body["stations"]] == ["bar", "grill"]  # by name: Bar, Hot line
    assert (await delete(hub, f"{BRANCH}/stations/bar", token)) == (200, {"deleted": "bar"})
    assert (await delete(hub, f"{BRANCH}/stations/bar", token))[0] == 404
    async with hub.ctx.db.session() as s:
        actions = [(e.action, e.target) for e in reversed(await audit.list_audit(s, "acme"))]
    assert [a for a in actions if a[0].startswith("station")] == [
        ("station.created", "b1/grill"),
        ("station.updated", "b1/grill"),
        ("station.created", "b1/bar"),
        ("station.deleted", "b1/bar"),
    ]


@pytest.mark.parametrize(
    ("body", "code", "field"),
    [
        (_station("grill", "p-nowhere"), "unknown_printer", "primaryPrinterId"),
        (
            _station("grill", "p-grill", backupPrinterId="p-nowhere"),
            "unknown_printer",
            "backupPrinterId",
        ),
        (_station("grill", "p-grill", backupPrinterId="p-grill"), "invalid_payload", None),
        (_station("gr ill", "p-grill"), "invalid_payload", "stationId"),
        (_station("grill", "p-grill", name=""), "invalid_payload", "name"),
        (_station("grill", "p-grill", layout={"copies": 9}), "invalid_payload", "layout.copies"),
        (
            _station("grill", "p-grill", layout={"fields": ["price"]}),
            "invalid_payload",
            "layout.fields.0",
        ),
        (_station("grill", "p-grill", colour="red"), "invalid_payload", "colour"),
    ],
)
async def test_bad_stations_are_refused_with_the_field(
    hub: HubHarness, body: dict[str, Any], code: str, field: str | None
) -> None:
    await kitchen_agent(hub)
    status, answer = await hub.post(f"{BRANCH}/stations", body, hub.token(Role.MANAGER, "acme"))
    assert (status, answer["code"], answer.get("field")) == (422, code, field)


async def test_a_printer_of_another_branch_cannot_be_a_stations_printer(hub: HubHarness) -> None:
    await kitchen_agent(hub, ("p-elsewhere",), branch="b2", agent_id="agent-b2")
    status, body = await hub.post(
        f"{BRANCH}/stations", _station("grill", "p-elsewhere"), hub.token(Role.MANAGER, "acme")
    )
    assert (status, body["code"]) == (422, "unknown_printer")


async def test_rules_must_name_the_branchs_stations_and_keep_them_from_deletion(
    hub: HubHarness,
) -> None:
    await kitchen_agent(hub)
    await stations(hub)
    token = hub.token(Role.MANAGER, "acme")
    bad = {"rules": [{"match": "tag", "value": "hot", "stationIds": ["grill", "wok"]}]}
    status, body = await put(hub, f"{BRANCH}/rules", bad, token)
    assert (status, body["code"], body["field"]) == (422, "unknown_station", "rules.0.stationIds.1")
    status, body = await put(hub, f"{BRANCH}/rules", {"defaultStationId": "wok"}, token)
    assert (status, body["field"]) == (422, "defaultStationId")
    rules = {"defaultStationId": "cold", "rules": [{"match": "all", "stationIds": ["bar"]}]}
    assert (await put(hub, f"{BRANCH}/rules", rules, token)) == (
        200,
        {**rules, "rules": [{**rules["rules"][0], "value": None}]},
    )
    status, body = await hub.get(f"{BRANCH}/rules", hub.token(Role.STAFF, "acme", "b1"))
    assert body["defaultStationId"] == "cold" and body["rules"][0]["match"] == "all"
    _, listed = await hub.get(f"{BRANCH}/stations", token)
    assert {s["stationId"]: s["isDefault"] for s in listed["stations"]} == {
        "bar": False,
        "cold": True,
        "grill": False,
    }
    for used in ("cold", "bar"):
        status, body = await delete(hub, f"{BRANCH}/stations/{used}", token)
        assert (status, body["code"]) == (409, "station_in_use")
    assert (await delete(hub, f"{BRANCH}/stations/grill", token))[0] == 200


async def test_stations_are_tenant_checked_and_only_managers_change_them(hub: HubHarness) -> None:
    await kitchen_agent(hub)
    await stations(hub)
    station = _station("wok", "p-grill")
    for token in (hub.token(Role.MANAGER, "globex"), hub.token(Role.MANAGER, "acme", "b2")):
        assert (await hub.get(f"{BRANCH}/stations", token))[0] == 404
        assert (await hub.post(f"{BRANCH}/stations", station, token))[0] == 404
        assert (await put(hub, f"{BRANCH}/rules", {}, token))[0] == 404
    assert (await hub.get("/api/v1/branches/nope/stations", hub.token(Role.MANAGER, "acme")))[
        0
    ] == 404
    staff = hub.token(Role.STAFF, "acme", "b1")
    assert (await hub.post(f"{BRANCH}/stations", station, staff))[1]["code"] == "role_not_allowed"
    assert (await delete(hub, f"{BRANCH}/stations/grill", staff))[0] == 403
    assert (await hub.get(f"{BRANCH}/stations"))[0] == 401
    assert (await hub.get(f"{BRANCH}/stations", hub.token(Role.MANAGER, "acme", "b1")))[0] == 200


async def test_the_preview_routes_a_sample_through_unsaved_stations_and_rules(
    hub: HubHarness,
) -> None:
    await kitchen_agent(hub)
    await stations(hub)
    staff = hub.token(Role.STAFF, "acme", "b1")
    sample = {
        "lines": [
            {"lineId": "a", "name": "Burger", "category": "burgers", "quantity": 2},
            {"lineId": "b", "name": "Mojito", "category": "cocktails", "quantity": 1},
        ],
        "table": "4",
    }
    status, body = await hub.post(f"{BRANCH}/rules/preview", {"order": sample}, staff)
    assert status == 200, body
    assert [(line["lineId"], line["stationIds"]) for line in body["lines"]] == [
        ("a", ["grill"]),
        ("b", []),
    ]
    assert "'cocktails'" in body["lines"][1]["reasons"][0]
    grill = next(s for s in body["stations"] if s["stationId"] == "grill")
    assert (
        grill["lineIds"] == ["a"]
        and "2 x Burger" in grill["ticket"]
        and "Table 4" in grill["ticket"]
    )
    unsaved = {
        "order": sample,
        "stations": [_station("bar", "p-bar"), _station("pass", "p-cold")],
        "rules": {
            "rules": [
                {"match": "category", "value": "cocktails", "stationIds": ["bar"]},
                {"match": "all", "stationIds": ["pass"]},
            ]
        },
    }
    status, body = await hub.post(f"{BRANCH}/rules/preview", unsaved, staff)
    assert [line["stationIds"] for line in body["lines"]] == [["pass"], ["bar", "pass"]]
    _, saved = await hub.get(f"{BRANCH}/stations", staff)
    assert [s["stationId"] for s in saved["stations"]] == ["bar", "cold", "grill"]  # nothing saved
    status, body = await hub.post(
        f"{BRANCH}/rules/preview",
        {"order": {"lines": [{"lineId": "a", "name": "x", "quantity": -1}]}},
        staff,
    )
    assert (status, body["field"]) == (422, "order.lines.0.quantity")
    status, body = await hub.post(
        f"{BRANCH}/rules/preview",
        {**unsaved, "rules": {"rules": [{"match": "all", "stationIds": ["wok"]}]}},
        staff,
    )
    assert (status, body["code"]) == (422, "unknown_station")


async def _ticket_states(hub: HubHarness, order_id: str) -> list[str]:
    _, body = await hub.get(f"/api/v1/orders/{order_id}/tickets", hub.token())
    return [t["state"] for t in body["tickets"]]


async def _until_printed(hub: HubHarness, order_id: str, count: int) -> None:
    async with asyncio.timeout(10):
        while await _ticket_states(hub, order_id) != ["printed"] * count:
            await asyncio.sleep(0.05)


async def test_tickets_are_handed_out_one_at_a_time_per_printer_in_order(hub: HubHarness) -> None:
    agent = await kitchen_agent(hub, answer=None)
    await stations(hub)
    for n in range(3):
        status, _ = await hub.publish(
            "newOrder", order(f"o-{n}", 1, ("Burger", "burgers", 1)), branch="b1"
        )
        assert status == 202
    await agent.wait_for(NS, "print:job")
    await settle(1.2)  # two more dispatch rounds: the grill still holds its first ticket only
    assert len(agent.events(NS, "print:job")) == 1
    for n in range(3):
        job = agent.events(NS, "print:job")[n]
        update = {k: job[k] for k in ("jobId", "correlationId", "printerId")}
        assert (await agent.call(NS, "printJobUpdate", {**update, "state": "printed"}))["ok"]
        if n < 2:
            await agent.wait_for(NS, "print:job", count=n + 2)
    numbers = [job["document"]["lines"][-1]["text"] for job in agent.events(NS, "print:job")]
    assert numbers == ["v1 / order o-0", "v1 / order o-1", "v1 / order o-2"]


async def test_the_order_log_reprints_latency_and_scope(hub: HubHarness) -> None:
    agent = await kitchen_agent(hub)
    await stations(hub)
    await hub.publish(
        "newOrder",
        order("o-9", 1, ("Burger", "burgers", 2), ("Cola", "drinks", 1), ("Sushi", "raw", 1)),
        branch="b1",
    )
    await _until_printed(hub, "o-9", 2)
    staff = hub.token(Role.STAFF, "acme", "b1")
    status, log = await hub.get("/api/v1/orders/o-9/tickets", staff)
    assert status == 200
    assert (log["orderVersion"], log["branchId"], log["cancelled"]) == (1, "b1", False)
    assert [
        (t["stationId"], t["kind"], [x["item"]["name"] for x in t["lines"]]) for t in log["tickets"]
    ] == [("bar", "order", ["Cola"]), ("grill", "order", ["Burger"])]
    grill = log["tickets"][1]
    assert [h["state"] for h in grill["history"]] == ["queued", "queued", "sent", "printed"]
    assert grill["secondsToPrint"] is not None and grill["printedAt"]
    assert [n["code"] for n in log["notes"]] == ["unrouted"]
    for token in (hub.token(Role.MANAGER, "globex"), hub.token(Role.STAFF, "acme", "b2")):
        assert (await hub.get("/api/v1/orders/o-9/tickets", token))[0] == 404
        assert (
            await hub.post(f"/api/v1/orders/o-9/tickets/{grill['ticketId']}/reprint", None, token)
        )[0] == 404
    assert (await hub.post(f"/api/v1/orders/o-8/tickets/{grill['ticketId']}/reprint", None, staff))[
        0
    ] == 404
    status, copy = await hub.post(
        f"/api/v1/orders/o-9/tickets/{grill['ticketId']}/reprint",
        None,
        staff,
        headers={"Idempotency-Key": "again-1"},
    )
    assert (status, copy["copyOf"]) == (201, grill["ticketId"])
    same = await hub.post(
        f"/api/v1/orders/o-9/tickets/{grill['ticketId']}/reprint",
        None,
        staff,
        headers={"Idempotency-Key": "again-1"},
    )
    # The same job again; by now its agent may have picked it up (state, attempts, updatedAt).
    moving = ("state", "attempts", "updatedAt", "error")
    assert same[0] == 200
    assert {k: v for k, v in same[1].items() if k not in moving} == {
        k: v for k, v in copy.items() if k not in moving
    }
    status, last = await hub.post(f"{BRANCH}/stations/bar/reprint-last", None, staff)
    assert (status, last["copyOf"]) == (201, log["tickets"][0]["ticketId"])
    assert (await hub.post(f"{BRANCH}/stations/cold/reprint-last", None, staff))[0] == 404
    await _until_printed(hub, "o-9", 4)
    jobs = agent.events(NS, "print:job")
    assert [j.get("copyOf") for j in jobs][-2:] == [
        grill["ticketId"],
        log["tickets"][0]["ticketId"],
    ]
    _, log = await hub.get("/api/v1/orders/o-9/tickets", staff)
    assert log["tickets"][1]["reprints"] == [copy["jobId"]]
    status, figures = await hub.get(f"{BRANCH}/stations/latency?minutes=5", staff)
    assert status == 200
    assert [(s["stationId"], s["count"]) for s in figures["stations"]] == [("bar", 1), ("grill", 1)]
    assert figures["stations"][0]["p95"] >= 0 and len(figures["stations"][0]["points"]) == 1
    assert (await hub.get(f"{BRANCH}/stations/latency?minutes=0", staff))[0] == 422
    metrics = await hub.get("/metrics")
    assert 'chit_ticket_seconds_count{branch="b1",station="grill"} 1.0' in metrics[1]


async def test_a_ticket_still_printing_cannot_be_reprinted(hub: HubHarness) -> None:
    await kitchen_agent(hub, answer="printing")
    await stations(hub)
    await hub.publish("newOrder", order("o-5", 1, ("Burger", "burgers", 1)), branch="b1")
    async with asyncio.timeout(10):
        while await _ticket_states(hub, "o-5") != ["printing"]:
            await asyncio.sleep(0.05)
    status, body = await hub.post(
        f"{BRANCH}/stations/grill/reprint-last", None, hub.token(Role.STAFF, "acme", "b1")
    )
    assert (status, body["code"]) == (409, "job_not_final")


async def test_a_ticket_not_printed_in_time_raises_ticket_late_for_its_branch(
    tmp_path: Any,
) -> None:
    hub = await HubHarness.start(tmp_path / "hub", ticket_late_seconds=0.5, alert_interval=0.2)
    try:
        await kitchen_agent(hub, answer=None)
        await stations(hub)
        watcher = await hub.connect(hub.token(Role.STAFF, "acme", "b1"), [NS])
        await hub.publish("newOrder", order("o-7", 1, ("Burger", "burgers", 1)), branch="b1")
        [alert] = await watcher.wait_for(NS, "newAlert")
        assert (alert["kind"], alert["state"], alert["branchId"], alert["subject"]) == (
            "ticket_late",
            "raised",
            "b1",
            "b1/grill",
        )
        assert alert["message"] == "Grill: a ticket not printed 0.5 s after the order"
        assert "ticket_late" in (await hub.get("/metrics"))[1]
    finally:
        await hub.stop()


async def test_an_order_for_a_branch_without_stations_says_so(hub: HubHarness) -> None:
    status, body = await hub.publish(
        "newOrder", order("o-1", 1, ("Burger", "burgers", 1)), branch="b1"
    )
    assert status == 202
    assert body["tickets"] == {"outcome": "nothing_to_print", "orderVersion": 1, "tickets": []}
    _, log = await hub.get("/api/v1/orders/o-1/tickets", hub.token())
    assert [n["code"] for n in log["notes"]] == ["no_stations", "no_changes"]
    status, body = await hub.publish("newOrder", order("o-2", 1, ("Burger", "burgers", 1)))
    assert body["tickets"]["outcome"] == "no_branch"


async def test_a_rule_change_mid_order_moves_only_new_lines(hub: HubHarness) -> None:
    agent = await kitchen_agent(hub)
    await stations(hub)
    await hub.publish("newOrder", order("o-3", 1, ("Burger", "burgers", 1)), branch="b1")
    await _until_printed(hub, "o-3", 1)
    rules = {"rules": [{"match": "category", "value": "burgers", "stationIds": ["cold"]}]}
    assert (await put(hub, f"{BRANCH}/rules", rules, hub.token(Role.MANAGER, "acme")))[0] == 200
    v2 = order("o-3", 2, ("Burger", "burgers", 1), ("Ribs", "burgers", 1))
    status, body = await hub.publish("orderStatusUpdate", {**v2, "status": "open"}, branch="b1")
    assert status == 202
    assert [(t["stationId"], t["kind"], t["lines"]) for t in body["tickets"]["tickets"]] == [
        ("cold", "order", 1)
    ]
    await _until_printed(hub, "o-3", 2)
    printers = [job["printerId"] for job in agent.events(NS, "print:job")]
    assert printers == ["p-grill", "p-cold"]  # no VOID on the grill
