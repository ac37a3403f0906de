"""Composition root: Settings -> an aiohttp application with Socket.IO attached."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import socketio
from aiohttp import web

from hub.api import accounts as accounts_api
from hub.api import actions as actions_api
from hub.api import branches as branches_api
from hub.api import diagnostics as diagnostics_api
from hub.api import enrollment as enrollment_api
from hub.api import events as events_api
from hub.api import health as health_api
from hub.api import jobs as jobs_api
from hub.api import monitoring as monitoring_api
from hub.api import openapi as openapi_api
from hub.api import pairing as pairing_api
from hub.api import printer_tests as printer_tests_api
from hub.api import printers as printers_api
from hub.api import stations as stations_api
from hub.api import tickets as tickets_api
from hub.api import updates as updates_api
from hub.api.errors import error_middleware
from hub.api.params import validate_params
from hub.auth import load_keys
from hub.cluster import ChitRedisManager, Cluster, ClusterState
from hub.context import CTX_KEY, HubContext
from hub.fanout import FanoutManager
from hub.gateways.availability import AvailabilityGateway
from hub.gateways.orders import OrdersGateway
from hub.gateways.printing import PrintingGateway
from hub.keyring import Keyring
from hub.limits import Gate, Limits, MeteredEngineServer, forwarded_limit
from hub.metrics import HubMetrics
from hub.services.actions import ActionService
from hub.services.admission import AdmissionGate
from hub.services.connections import ConnectionRegistry
from hub.services.jobs import JobService
from hub.services.monitoring import AlertEngine, Monitor, Thresholds
from hub.services.printing import PrintingService
from hub.services.publisher import Publisher
from hub.services.records import PrinterRecords
from hub.services.stations import StationService
from hub.services.stream_setup import build_streams
from hub.services.tenancy import BranchDirectory
from hub.services.ticket_dispatch import TicketDispatcher
from hub.services.ticket_reports import TicketReports
from hub.services.tickets import TicketService
from hub.services.updates import UpdateService
from hub.settings import Settings, ensure_secret
from hub.sio_server import ChitServer
from hub.store import Database
from hub.store.db import PoolSettings
from hub.web import routes as web_ui
from shared.events import MonitoringAlert, lookup
from shared.namespaces import Namespace
from shared.rooms import OPERATORS_ROOM

log = logging.getLogger("chit.hub")
#: The connection gate of an app (hub.limits): shared by its listening socket and middleware.
GATE_KEY = web.AppKey("gate", Gate)


def build_cluster(settings: Settings) -> Cluster | None:
    """Redis-backed cluster mode, when a Redis URL is configured."""
    if not settings.redis_url:
        return None
    bus = ChitRedisManager(
        settings.redis_url,
        f"{settings.cluster_prefix}:socketio",
        max_message_bytes=settings.cluster_max_message_bytes,
    )
    state = ClusterState(
        settings.redis_url,
        settings.cluster_prefix,
        settings.instance_id,
        stats_ttl=settings.cluster_stats_ttl,
    )
    return Cluster(state, bus)


def build_server(
    settings: Settings, metrics: HubMetrics, cluster: Cluster | None = None
) -> socketio.AsyncServer:
    """The Socket.IO server, with limits from settings (and Redis in cluster mode)."""
    cors: Any = list(settings.cors_origins) if settings.cors_origins else None
    manager = cluster.bus if cluster else FanoutManager()
    return ChitServer(
        metrics,
        limits=Limits.of(settings),
        client_manager=manager,
        async_mode="aiohttp",
        cors_allowed_origins=cors,
        max_http_buffer_size=settings.max_socket_message_bytes,
        ping_interval=20,
        ping_timeout=20,
        logger=False,
        engineio_logger=False,
    )


async def build_context(settings: Settings) -> HubContext:
    """Wire the services of one hub instance (connects and migrates the database)."""
    settings = ensure_secret(settings)
    assert settings.jwt_secret is not None
    keys = load_keys(settings)
    metrics = HubMetrics(settings.instance_id)
    cluster = build_cluster(settings)
    sio = build_server(settings, metrics, cluster)
    publisher = Publisher(sio)
    pool = PoolSettings(settings.db_pool_size, settings.db_max_overflow, settings.db_pool_timeout)
    db = await Database.connect(settings.database_url, settings.data_dir, pool=pool)
    directory = BranchDirectory(db)
    printing = PrintingService(
        publisher,
        metrics,
        settings.printer_test_timeout,
        PrinterRecords(db, settings.agent_flush_interval),
        cluster,
    )
    jobs = JobService(db, printing, publisher, metrics, settings.job_redelivery_interval)
    dispatcher = TicketDispatcher(
        db, jobs, printing.locator, settings.ticket_reroute_seconds, cluster
    )
    tickets = TicketService(db, jobs, dispatcher, metrics)
    reports = TicketReports(db, dispatcher, settings.ticket_late_seconds)
    connections = ConnectionRegistry()
    streams = build_streams(settings, sio, connections, db, cluster)
    publisher.use_streams(streams)
    engine = AlertEngine(thresholds_of(settings), alert_emitter(publisher, cluster))
    if cluster is not None:
        cluster.bus.on_bus("alert", mirror_into(engine))
    monitor = Monitor(
        metrics,
        connections,
        printing.registry,
        engine,
        settings.instance_id,
        cluster,
        printing.records.last_seen if cluster else None,
        more_conditions=reports.conditions,
    )
    return HubContext(
        settings,
        keys,
        sio,
        directory,
        connections,
        publisher,
        monitor,
        printing,
        db,
        jobs,
        Keyring.from_settings(keys, settings),
        ActionService(printing.locator, publisher, db, settings.printer_test_timeout, cluster),
        streams=streams,
        tickets=tickets,
        stations=StationService(db, printing.records),
        ticket_reports=reports,
        cluster=cluster,
        admission=AdmissionGate(settings.admission_limit),
        updates=UpdateService(db, publisher, printing.registry, settings.data_dir, cluster),
    )


def thresholds_of(settings: Settings) -> Thresholds:
    """Alert thresholds from settings."""
    return Thresholds(
        namespace_connections=settings.alert_namespace_connections,
        agent_offline_seconds=settings.alert_agent_offline_seconds,
        reconnects_per_minute=settings.alert_reconnects_per_minute,
        instance_imbalance=settings.alert_instance_imbalance,
    )


def alert_emitter(
    publisher: Publisher, cluster: Cluster | None
) -> Callable[[MonitoringAlert], Awaitable[None]]:
    """A company's alert goes to that company's room only; a hub-wide one to operators only.

    The alert is also handed to every instance so each keeps the same list.
    """
    spec = lookup(Namespace.PRINTING, "newAlert")

    async def emit(alert: MonitoringAlert) -> None:
        if alert.company_id is not None:
            await publisher.to_tenant(spec, alert, alert.company_id)
        else:
            await publisher.to_room(spec, alert, OPERATORS_ROOM)
        if cluster is not None:
            await cluster.bus.bus_publish("alert", alert.to_wire())

    return emit


def mirror_into(engine: AlertEngine) -> Callable[[dict[str, Any]], Awaitable[None]]:
    """Keep every instance's alert list equal to the leader's."""

    async def mirror(payload: dict[str, Any]) -> None:
        engine.mirror(MonitoringAlert.model_validate(payload))

    return mirror


async def build_app(settings: Settings) -> web.Application:
    """The hub's aiohttp application."""
    ctx = await build_context(settings)
    gate = Gate(Limits.of(settings))
    app = web.Application(
        middlewares=[
            error_middleware,
            forwarded_limit(gate),
            validate_params,
            ctx.keyring.middleware(),
        ],
        client_max_size=settings.max_body_bytes,
    )
    app[CTX_KEY] = ctx
    app[GATE_KEY] = gate
    for gateway in (PrintingGateway(ctx), OrdersGateway(ctx), AvailabilityGateway(ctx)):
        ctx.sio.register_namespace(gateway)
    ctx.sio.attach(app)
    for module in (
        health_api,
        monitoring_api,
        openapi_api,
        events_api,
        printers_api,
        actions_api,
        printer_tests_api,
        jobs_api,
        accounts_api,
        pairing_api,
        enrollment_api,
        diagnostics_api,
        branches_api,
        stations_api,
        tickets_api,
        updates_api,
        web_ui,
    ):
        app.add_routes(module.routes)
    app.cleanup_ctx.append(_background)
    app.cleanup_ctx.append(ctx.keyring.serving)
    if ctx.streams is not None:
        app.cleanup_ctx.append(ctx.streams.serving)
    app.on_shutdown.append(_clients_going_away)
    app.on_cleanup.append(_close_database)
    return app


async def _clients_going_away(app: web.Application) -> None:
    """First thing when the hub stops: tell every websocket client to go (and come back)."""
    eio = app[CTX_KEY].sio.eio
    if isinstance(eio, MeteredEngineServer):
        closed = eio.going_away()
        if closed:
            log.info("websocket clients told the hub is going away", extra={"clients": closed})
        await eio.websockets_ended(WEBSOCKETS_END_TIMEOUT)


async def _background(app: web.Application) -> AsyncIterator[None]:
    """Housekeeping that runs while the app serves: expiring jobs, evaluating alerts."""
    ctx = app[CTX_KEY]
    tasks = [
        asyncio.create_task(ctx.jobs.run_expiry()),
        asyncio.create_task(ctx.observer.record_forever()),
        asyncio.create_task(ctx.jobs.run_redelivery()),
        asyncio.create_task(ctx.printing.records.writer.run()),
        asyncio.create_task(ctx.tickets.dispatcher.run()),
        asyncio.create_task(_every(ctx.settings.alert_interval, ctx.observer.evaluate)),
        asyncio.create_task(_every(RELEASES_REFRESH_SECONDS, _refresh_releases(ctx))),
    ]
    if ctx.cluster is not None:
        # python-socketio starts the Redis listener on the first connection; an instance
        # that only serves REST must hear the cluster (test results, alerts) from the start.
        if not ctx.sio.manager_initialized:
            ctx.sio.manager_initialized = True
            ctx.sio.manager.initialize()
        await ctx.observer.share_stats()
        every = ctx.settings.cluster_stats_ttl / 3
        tasks.append(asyncio.create_task(_every(every, ctx.observer.share_stats)))
    yield
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


#: How often the hub checks whether its TUF snapshot and timestamp need re-signing (seconds).
RELEASES_REFRESH_SECONDS = 3600.0
#: How long a stopping hub waits for the sessions of the websockets it closed to end.
WEBSOCKETS_END_TIMEOUT = 5.0


def _refresh_releases(ctx: HubContext) -> Callable[[], Awaitable[object]]:
    """Re-sign the TUF repository's online roles before they expire (hub.releases)."""

    async def refresh() -> None:
        repository = ctx.updates.repository if ctx.updates is not None else None
        if (
            repository is not None
            and repository.exists
            and await asyncio.to_thread(repository.refresh)
        ):
            log.info("agent releases: snapshot and timestamp re-signed")

    return refresh


async def _every(seconds: float, work: Callable[[], Awaitable[object]]) -> None:
    task = asyncio.current_task()
    # Also stop on a cancel request that a Redis call swallowed (redis-py#2028).
    while task is None or not task.cancelling():
        await asyncio.sleep(seconds)
        try:
            await work()
        except Exception:
            log.exception("periodic work failed")
    raise asyncio.CancelledError


async def _close_database(app: web.Application) -> None:
    ctx = app[CTX_KEY]
    await ctx.printing.announced()  # test results told to staff after their requester
    await ctx.printing.records.writer.close()  # what agents said in the last moments
    await ctx.db.close()
    if ctx.cluster is not None:
        await ctx.cluster.bus.stop_pinger()
        await ctx.cluster.state.close()
