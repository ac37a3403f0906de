"""Build the stream service: the database for one hub, Redis and the outbox for a cluster."""

from __future__ import annotations

import socketio

from hub.cluster import Cluster
from hub.cluster.streams import RedisStream
from hub.services.connections import ConnectionRegistry
from hub.services.outbox import OUTBOX_FILE, Outbox, OutboxedStream
from hub.services.stream_db import DatabaseStream
from hub.services.streams import StreamService
from hub.settings import Settings
from hub.store import Database


def build_streams(
    settings: Settings,
    sio: socketio.AsyncServer,
    connections: ConnectionRegistry,
    db: Database,
    cluster: Cluster | None,
) -> StreamService:
    """The instance's stream service (inert when ``stream_enabled`` is off)."""
    if cluster is None or not settings.redis_url:
        backend = DatabaseStream(db, settings.stream_max_events, settings.stream_max_age_seconds)
        return StreamService(sio, connections, backend, enabled=settings.stream_enabled)
    bus = cluster.bus

    def refused() -> None:
        bus.refused_messages += 1

    redis_backend = RedisStream(
        settings.redis_url,
        settings.cluster_prefix,
        max_events=settings.stream_max_events,
        max_age=settings.stream_max_age_seconds,
        max_message_bytes=settings.cluster_max_message_bytes,
        on_refused=refused,
    )
    outbox = Outbox(settings.stream_outbox_path or settings.data_dir / OUTBOX_FILE)
    outboxed = OutboxedStream(redis_backend, outbox)
    return StreamService(sio, connections, redis_backend, outboxed, enabled=settings.stream_enabled)
