"""The kitchen ticket tables on SQLite and PostgreSQL, and two hubs handling one order at once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import socketio

from hub.metrics import HubMetrics
from hub.services.jobs import JobService
from hub.services.printing import PrintingService
from hub.services.publisher import Publisher
from hub.services.records import PrinterRecords
from hub.services.ticket_dispatch import TicketDispatcher
from hub.services.tickets import TicketService
from hub.store import Database
from hub.store import jobs as job_store
from hub.store import tickets as ticket_store
from hub.store.columns import utcnow
from hub.store.jobs import NewJob
from hub.store.tickets import TicketRow
from shared.events import CATALOG, NewOrder, OrderCancelled
from shared.publish import PublishRequest
from shared.tickets import RoutingRule, RoutingRules, Station, TicketLayout
from tests.hub.store.conftest import Tenants

GRILL = Station(station_id="grill", name="Grill", primary_printer_id="p-grill")
BAR = Station(station_id="bar", name="Bar", primary_printer_id="p-bar", backup_printer_id="p-x")
RULES = RoutingRules(
    default_station_id="bar",
    rules=[
        RoutingRule(match="category", value="burgers", station_ids=["grill"]),
        RoutingRule(match="all", station_ids=["bar", "grill"]),
    ],
)


async def test_stations_and_rules_round_trip(db: Database, tenants: Tenants) -> None:
    async with db.session() as s:
        _, created = await ticket_store.put_station(s, "acme", "b1", GRILL)
        assert created
        layout = TicketLayout(fields=["table"], font_size="large", prices=True, copies=2)
        row, created = await ticket_store.put_station(
            s, "acme", "b1", BAR.model_copy(update={"layout": layout})
        )
        assert not created or row.station.layout == layout
        await ticket_store.put_rules(s, "acme", "b1", RULES)
    async with db.session() as s:
        rows = await ticket_store.list_stations(s, "b1")
        assert [(r.station.station_id, r.is_default) for r in rows] == [
            ("bar", True),
            ("grill", False),
        ]
        assert rows[0].station.layout.copies == 2 and rows[0].station.backup_printer_id == "p-x"
        assert await ticket_store.get_rules(s, "b1") == RULES
        assert await ticket_store.list_stations(s, "g1") == []
        await ticket_store.put_rules(s, "acme", "b1", RoutingRules())
    async with db.session() as s:
        assert await ticket_store.get_rules(s, "b1") == RoutingRules()
        assert await ticket_store.delete_station(s, "b1", "grill")
        assert not await ticket_store.delete_station(s, "b1", "grill")


async def _job(db: Database, job_id: str, printer: str = "p-grill", **kw: object) -> None:
    new = NewJob(
        company_id="acme",
        branch_id="b1",
        printer_id=printer,
        kind="document",
        body={"lines": [{"type": "text", "text": job_id}]},
        expires_at=utcnow() + timedelta(hours=1),
        idempotency_key=f"ticket:{job_id}",
        job_id=job_id,
        **kw,  # type: ignore[arg-type]
    )
    async with db.session() as s:
        await job_store.create_job(s, new)
        await ticket_store.add_ticket(
            s,
            TicketRow(
                job_id,
                "acme",
                "b1",
                "o-1",
                1,
                "grill",
                "Grill",
                "order",
                [],
                new.body,
                printer,
                None,
                None,
                utcnow() - timedelta(minutes=2),
            ),
        )


async def test_held_tickets_are_assigned_once_and_counted_in_flight(
    db: Database, tenants: Tenants
) -> None:
    for n in range(3):
        await _job(db, f"00000000-0000-0000-0000-00000000000{n}")
    async with db.session() as s:
        held = await ticket_store.held_tickets(s)
        assert [t.job_id[-1] for t, _ in held] == ["0", "1", "2"]
        assert await ticket_store.in_flight(s, "acme", "p-grill") == 0
        first = held[0][1].id
        moved = await job_store.assign_job(s, first, "p-bar", "agent-1", "rerouted", {"lines": []})
        assert moved is not None and (moved.printer_id, moved.agent_id, moved.body) == (
            "p-bar",
            "agent-1",
            {"lines": []},
        )
        assert await job_store.assign_job(s, first, "p-grill", "agent-1", "again") is None
        await ticket_store.set_rerouted(s, first, "p-grill")
    async with db.session() as s:
        assert len(await ticket_store.held_tickets(s)) == 2
        assert await ticket_store.in_flight(s, "acme", "p-bar") == 1
        assert (await ticket_store.get_ticket(s, "acme", first)).rerouted_from == "p-grill"  # type: ignore[union-attr]
        assert await ticket_store.get_ticket(s, "globex", first) is None
        events = await job_store.job_events(s, first)
        assert [(e.state, e.detail) for e in events] == [("queued", None), ("queued", "rerouted")]
        late = await ticket_store.late_tickets(s, utcnow() - timedelta(minutes=1))
        assert late == [("acme", "b1", "grill", "Grill", 3)]
        await job_store.set_job_state(s, first, "sent")
        await job_store.set_job_state(s, first, "printed")
    async with db.session() as s:
        assert await ticket_store.in_flight(s, "acme", "p-bar") == 0
        [(station, name, published, printed)] = await ticket_store.printed_times(
            s, "b1", utcnow() - timedelta(hours=1)
        )
        assert (station, name) == ("grill", "Grill") and printed > published
        assert (await ticket_store.last_ticket(s, "b1", "grill")) is not None


async def test_an_order_row_is_created_once_and_keeps_what_stations_have(
    db: Database, tenants: Tenants
) -> None:
    async with db.session() as s:
        first = await ticket_store.lock_order(s, "acme", "o-1", "b1")
        assert (first.version, first.sent, first.cancelled_at) == (0, {}, None)
        await ticket_store.save_order(
            s,
            "acme",
            "o-1",
            version=3,
            header={"orderId": "o-1"},
            sent={"grill": {"l1": {"x": 1}}, "bar": {}},
        )
    async with db.session() as s:
        again = await ticket_store.lock_order(s, "acme", "o-1", "b1")
        assert (again.version, again.sent) == (3, {"grill": {"l1": {"x": 1}}})
        await ticket_store.save_order(
            s, "acme", "o-1", version=3, header={}, sent={}, cancelled=True
        )
        await ticket_store.add_note(s, "acme", "o-1", 3, "stale_version", "x" * 3000)
    async with db.session() as s:
        order = await ticket_store.get_order(s, "acme", "o-1")
        assert order is not None and order.cancelled_at is not None
        assert await ticket_store.get_order(s, "globex", "o-1") is None
        _, notes = await ticket_store.order_log(s, "acme", "o-1")
        assert [(n.code, len(n.message)) for n in notes] == [("stale_version", 2000)]


def _services(db: Database) -> tuple[TicketService, TicketService]:
    """Two hubs' ticket services on one database, each with its own in-process lock."""
    metrics = HubMetrics("test")
    publisher = Publisher(socketio.AsyncServer(async_mode="aiohttp"))
    printing = PrintingService(publisher, metrics, 1.0, PrinterRecords(db))
    jobs = JobService(db, printing, publisher, metrics)
    dispatcher = TicketDispatcher(db, jobs, printing.locator, 20.0)
    return TicketService(db, jobs, dispatcher, metrics), TicketService(
        db, jobs, dispatcher, metrics
    )


SPECS = {s.name: s for s in CATALOG if s.namespace == "/orders"}
ENVELOPE = PublishRequest(
    namespace="/orders", event="newOrder", company_id="acme", branch_id="b1", payload={}
)


async def test_two_hubs_handling_the_same_order_version_at_once_make_its_tickets_once(
    db: Database, tenants: Tenants
) -> None:
    async with db.session() as s:
        for station in (GRILL, BAR):
            await ticket_store.put_station(s, "acme", "b1", station)
        await ticket_store.put_rules(s, "acme", "b1", RULES)
    one, two = _services(db)
    event = NewOrder.model_validate(
        {
            "correlationId": "corr-race-1",
            "orderId": "o-race",
            "status": "new",
            "orderVersion": 1,
            "lines": [{"lineId": "l1", "name": "Burger", "quantity": 1, "category": "burgers"}],
        }
    )
    results = await asyncio.gather(
        *(service.published(SPECS["newOrder"], event, ENVELOPE) for service in (one, two, one, two))
    )
    outcomes = sorted(r["outcome"] for r in results if r)
    assert outcomes == ["duplicate_version"] * 3 + ["queued"]
    cancel = OrderCancelled.model_validate({"correlationId": "corr-race-2", "orderId": "o-race"})
    results = await asyncio.gather(
        *(s.published(SPECS["orderCancelled"], cancel, ENVELOPE) for s in (one, two))
    )
    assert sorted(r["outcome"] for r in results if r) == ["duplicate_cancel", "queued"]
    async with db.session() as s:
        tickets, _ = await ticket_store.order_log(s, "acme", "o-race")
        jobs = await job_store.list_jobs(s, "acme")
    assert sorted((t.station_id, t.kind) for t in tickets) == [
        ("bar", "order"),
        ("bar", "void"),
        ("grill", "order"),
        ("grill", "void"),
    ]
    assert len(jobs) == 4
