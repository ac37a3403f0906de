"""Connection-pool monitoring and alerts: the platform report's "connection pool stability".

``connection_stats`` counts this instance's sockets. A ``ReconnectLog``
(``hub.services.reconnects``; in Redis when clustered) counts reconnects, not connects, to
spot storms. ``AlertEngine`` evaluates the thresholds on a schedule (and with a clock that
tests control): each condition is raised once when it starts and cleared once when it ends,
emitted as ``newAlert`` (see ``hub.app.alert_emitter`` for who receives it), kept for
``GET /api/v1/alerts`` and exported as the ``chit_alerts_active`` gauge.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from hub.cluster import Cluster
from hub.cluster.reconnects import RedisReconnects
from hub.metrics import HubMetrics, client_kind
from hub.services.connections import ClientSession, ConnectionRegistry
from hub.services.reconnects import RECONNECT_GAP, RECONNECT_WINDOW, LocalReconnects, ReconnectLog
from hub.services.registry import Registry
from shared.events import MonitoringAlert
from shared.namespaces import Namespace
from shared.tokens import Role

log = logging.getLogger("chit.hub.monitoring")

Clock = Callable[[], float]
HISTORY = 200
#: How long the alert leader's lease lasts (seconds); another instance takes over after it.
LEADER_LEASE = 15.0
#: Connection events waiting to be written to the reconnect log, at most.
EVENT_BACKLOG = 10_000


def client_key(session: ClientSession) -> str:
    """One client identity across its connections: namespace, company, role and subject."""
    claims = session.claims
    subject = (claims.agent_id or claims.sub) if session.role is Role.DESKTOP_APP else claims.sub
    return f"{session.namespace}|{claims.company_id}|{session.role}|{subject}"


def connection_stats(sessions: Iterable[ClientSession], instance_id: str) -> dict[str, Any]:
    """Counts of this instance's sockets by namespace, role, kind and company.

    ``perCompany`` holds the same breakdown for each company alone, so a company's admin is
    shown its own pool and nothing of the other tenants'.
    """
    sessions = list(sessions)
    by_company: dict[str, list[ClientSession]] = {}
    for session in sessions:
        by_company.setdefault(session.claims.company_id or "-", []).append(session)
    return {
        "instance": instance_id,
        **_breakdown(sessions),
        "byCompany": {company: len(group) for company, group in by_company.items()},
        "perCompany": {company: _breakdown(group) for company, group in by_company.items()},
    }


def _breakdown(sessions: list[ClientSession]) -> dict[str, Any]:
    return {
        "total": len(sessions),
        "byNamespace": dict(Counter(str(s.namespace) for s in sessions)),
        "byRole": dict(Counter(str(s.role) for s in sessions)),
        "byKind": dict(Counter(client_kind(s.role) for s in sessions)),
    }


@dataclass(frozen=True)
class Thresholds:
    """When an alert is raised."""

    namespace_connections: int = 1000
    agent_offline_seconds: float = 300.0
    reconnects_per_minute: int = 10
    instance_imbalance: float = 0.30


@dataclass(frozen=True)
class Condition:
    """A threshold crossed right now."""

    kind: str
    subject: str
    value: float
    threshold: float
    message: str
    company_id: str | None = None
    severity: str = "warning"
    branch_id: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """What makes two observations the same alert."""
        return (self.kind, self.subject)


def imbalance(counts: dict[str, int]) -> float:
    """Largest relative deviation of an instance's connections from the mean (0 when < 2)."""
    if len(counts) < 2:
        return 0.0
    mean = sum(counts.values()) / len(counts)
    if mean == 0:
        return 0.0
    return max(abs(c - mean) for c in counts.values()) / mean


def conditions(
    thresholds: Thresholds,
    by_namespace: dict[str, int],
    registry: Registry,
    rates: dict[str, tuple[int, str | None]],
    instances: dict[str, int],
    now: float,
    online_elsewhere: frozenset[str] = frozenset(),
    stored_offline: tuple[tuple[str, str, float], ...] = (),
) -> list[Condition]:
    """Every threshold crossed at ``now``."""
    found = [
        Condition(
            "namespace_connections",
            ns,
            n,
            thresholds.namespace_connections,
            f"{n} connections on {ns} (limit {thresholds.namespace_connections})",
            severity="critical",
        )
        for ns, n in by_namespace.items()
        if n > thresholds.namespace_connections
    ]
    for agent in registry.all_agents():
        gone = now - agent.offline_since if agent.offline_since is not None else 0.0
        if agent.agent_id in online_elsewhere:
            continue
        if not agent.online and gone > thresholds.agent_offline_seconds:
            found.append(
                Condition(
                    "agent_offline",
                    agent.agent_id,
                    round(gone),
                    thresholds.agent_offline_seconds,
                    f"agent {agent.agent_id} offline for {gone / 60:.0f} min",
                    agent.company_id,
                )
            )
    known = {c.subject for c in found if c.kind == "agent_offline"}
    found += [
        Condition(
            "agent_offline",
            agent_id,
            round(now - seen),
            thresholds.agent_offline_seconds,
            f"agent {agent_id} not seen for {(now - seen) / 60:.0f} min",
            company,
        )
        for agent_id, company, seen in stored_offline
        if agent_id not in known and now - seen > thresholds.agent_offline_seconds
    ]
    found += [
        Condition(
            "reconnect_rate",
            key,
            n,
            thresholds.reconnects_per_minute,
            f"client {key.rsplit('|', 1)[-1]} reconnected {n} times in a minute",
            company,
        )
        for key, (n, company) in rates.items()
        if n > thresholds.reconnects_per_minute
    ]
    ratio = imbalance(instances)
    if ratio > thresholds.instance_imbalance:
        found.append(
            Condition(
                "instance_imbalance",
                "cluster",
                round(ratio, 3),
                thresholds.instance_imbalance,
                f"connections unbalanced across instances by {ratio:.0%}",
            )
        )
    return found


Emit = Callable[[MonitoringAlert], Awaitable[None]]
#: More conditions to evaluate with the hub's own (kitchen tickets: hub.services.ticket_reports).
ConditionSource = Callable[[], Awaitable[list[Condition]]]


class AlertEngine:
    """Raises each condition once and clears it once."""

    def __init__(self, thresholds: Thresholds, emit: Emit, clock: Clock = time.time) -> None:
        self.thresholds = thresholds
        self.clock = clock
        self._emit = emit
        self.active: dict[tuple[str, str], MonitoringAlert] = {}
        self.history: deque[MonitoringAlert] = deque(maxlen=HISTORY)

    async def update(self, found: list[Condition]) -> list[MonitoringAlert]:
        """Apply one evaluation and emit it; returns the alerts raised or cleared by it."""
        changes = self.apply(found)
        await self.announce(changes)
        return changes

    def apply(self, found: list[Condition]) -> list[MonitoringAlert]:
        """Raise what started and clear what ended (not emitted yet)."""
        now = datetime.fromtimestamp(self.clock(), UTC)
        current = {c.key: c for c in found}
        changes = [self._raise(c, now) for key, c in current.items() if key not in self.active]
        changes += [self._clear(key, now) for key in list(self.active) if key not in current]
        self.history.extend(changes)
        return changes

    async def announce(self, changes: list[MonitoringAlert]) -> None:
        """Emit raised and cleared alerts to whoever receives them."""
        for alert in changes:
            await self._emit(alert)

    def adopt(self, active: Iterable[MonitoringAlert]) -> None:
        """Take the cluster's raised alerts as this instance's (so every instance agrees)."""
        self.active = {(a.kind, a.subject): a for a in active}
        seen = {(a.alert_id, a.state) for a in self.history}
        self.history.extend(a for a in self.active.values() if (a.alert_id, a.state) not in seen)

    def _raise(self, condition: Condition, now: datetime) -> MonitoringAlert:
        alert = MonitoringAlert(
            correlation_id=str(uuid.uuid4()),
            alert_id=f"{condition.kind}:{uuid.uuid4().hex[:12]}",
            kind=condition.kind,
            state="raised",
            severity=condition.severity,
            subject=condition.subject[:200],
            message=condition.message,
            value=condition.value,
            threshold=condition.threshold,
            company_id=condition.company_id,
            branch_id=condition.branch_id,
            raised_at=now,
        )
        self.active[condition.key] = alert
        return alert

    def _clear(self, key: tuple[str, str], now: datetime) -> MonitoringAlert:
        raised = self.active.pop(key)
        return raised.model_copy(update={"state": "cleared", "cleared_at": now})

    def mirror(self, alert: MonitoringAlert) -> None:
        """Adopt an alert change made by the cluster's leader (idempotent)."""
        seen = {(a.alert_id, a.state) for a in self.history}
        if (alert.alert_id, alert.state) in seen:
            return
        key = (alert.kind, alert.subject)
        if alert.state == "raised":
            self.active[key] = alert
        elif key in self.active and self.active[key].alert_id == alert.alert_id:
            del self.active[key]
        self.history.append(alert)

    def visible_to(
        self, company_id: str | None, hub_wide: bool = False
    ) -> dict[str, list[dict[str, Any]]]:
        """Active and recent alerts: a company's own, plus hub-wide ones for admins (which
        is what their sockets receive live); everything for a platform admin (no company)."""

        def mine(alert: MonitoringAlert) -> bool:
            if company_id is None or alert.company_id == company_id:
                return True
            return hub_wide and alert.company_id is None

        return {
            "active": [a.to_wire() for a in self.active.values() if mine(a)],
            "recent": [a.to_wire() for a in reversed(self.history) if mine(a)],
        }


class Monitor:
    """The gateways' observer: metrics, reconnect counting and the alert loop in one place.

    In a cluster one instance (the lease holder) evaluates the thresholds over cluster-wide
    inputs and records the raised alerts in Redis; every instance adopts them on its own
    schedule, so each exports the same ``chit_alerts_active`` and answers the same
    ``GET /api/v1/alerts``, and each exports its own ``chit_cluster_deaf``.
    """

    def __init__(
        self,
        metrics: HubMetrics,
        connections: ConnectionRegistry,
        registry: Registry,
        engine: AlertEngine,
        instance_id: str,
        cluster: Cluster | None = None,
        stored_agents: Callable[[], Awaitable[list[tuple[str, str, float]]]] | None = None,
        more_conditions: ConditionSource | None = None,
    ) -> None:
        self.more_conditions = more_conditions
        self.cluster = cluster.state if cluster else None
        self._bus = cluster.bus if cluster else None
        #: In a cluster the leader knows only its own sockets: agents that left another
        #: instance are found in the store (last seen) and the cluster presence.
        self.stored_agents = stored_agents
        self._instances: dict[str, dict[str, Any]] = {}
        self.metrics = metrics
        self.connections = connections
        self.registry = registry
        self.engine = engine
        self.instance_id = instance_id
        self.reconnects: ReconnectLog = (
            RedisReconnects(cluster.state, RECONNECT_GAP, RECONNECT_WINDOW)
            if cluster
            else LocalReconnects()
        )
        self._events: asyncio.Queue[tuple[str, ClientSession, float]] = asyncio.Queue(EVENT_BACKLOG)
        self.events_dropped = 0
        self._leading = False
        #: Connection counts per instance (every live instance's, in cluster mode).
        self.instance_counts: Callable[[], dict[str, int]] = self._instance_counts

    def connected(self, session: ClientSession) -> None:
        """A client connected (after authentication)."""
        self.metrics.connected(session)
        self._note("connect", session)

    def disconnected(self, session: ClientSession) -> None:
        """A client disconnected."""
        self.metrics.disconnected(session)
        self._note("drop", session)

    def _note(self, kind: str, session: ClientSession) -> None:
        try:
            self._events.put_nowait((kind, session, self.engine.clock()))
        except asyncio.QueueFull:
            self.events_dropped += 1
            if self.events_dropped % 1000 == 1:
                log.warning(
                    "reconnect log behind; events dropped", extra={"dropped": self.events_dropped}
                )

    async def record_forever(self) -> None:
        """Write connects and drops to the reconnect log, in order (runs with the app)."""
        task = asyncio.current_task()
        # redis-py can swallow a cancellation that lands inside a command (redis-py#2028),
        # so the loop also stops on a cancel request it was not woken by.
        while task is None or not task.cancelling():
            kind, session, now = await self._events.get()
            try:
                await self._record(kind, session, now)
            except Exception:
                log.exception("reconnect log failed", extra={"kind": kind})
        raise asyncio.CancelledError

    async def _record(self, kind: str, session: ClientSession, now: float) -> None:
        identity = client_key(session)
        if kind == "drop":
            await self.reconnects.dropped(identity, now)
        elif await self.reconnects.connected(identity, session.claims.company_id, now):
            self.metrics.reconnected(client_kind(session.role))

    def auth_refused(self, namespace: Namespace, code: str) -> None:
        """A connection was refused."""
        self.metrics.auth_refused(namespace, code)

    def event_in(self, namespace: Namespace, event: str) -> None:
        """A valid event arrived."""
        self.metrics.event_in(namespace, event)

    def invalid_payload(self, namespace: Namespace, event: str, code: str) -> None:
        """An inbound event was refused."""
        self.metrics.invalid_payload(namespace, event, code)

    def stats(self) -> dict[str, Any]:
        """This instance's connection pool."""
        return connection_stats(self.connections, self.instance_id)

    def cluster_stats(self, company_id: str | None = None) -> dict[str, Any]:
        """Every live instance's pool added up (just this one's when not clustered).

        With ``company_id``, only that company's sockets are counted, on every instance.
        """
        instances = self._company_view(company_id)
        total: dict[str, Any] = {"instance": self.instance_id, "total": 0}
        for name in ("byNamespace", "byRole", "byKind", "byCompany"):
            summed: Counter[str] = Counter()
            for stats in instances.values():
                summed.update(stats.get(name, {}))
            total[name] = dict(summed)
        total["total"] = sum(s.get("total", 0) for s in instances.values())
        return total

    def company_instance_counts(self, company_id: str) -> dict[str, int]:
        """A company's sockets per instance."""
        return {i: int(s.get("total", 0)) for i, s in self._company_view(company_id).items()}

    def _company_view(self, company_id: str | None) -> dict[str, dict[str, Any]]:
        instances = {**self._instances, self.instance_id: self.stats()}
        if company_id is None:
            return instances
        empty = {"total": 0, "byNamespace": {}, "byRole": {}, "byKind": {}}
        view = {}
        for name, stats in instances.items():
            mine = stats.get("perCompany", {}).get(company_id, empty)
            view[name] = {**mine, "byCompany": {company_id: mine.get("total", 0)}}
        return view

    def _instance_counts(self) -> dict[str, int]:
        counts = {i: int(s.get("total", 0)) for i, s in self._instances.items()}
        counts[self.instance_id] = len(self.connections)
        return counts

    async def share_stats(self) -> None:
        """Re-register local agents if Redis came back, publish counts, fetch everyone's."""
        if self.cluster is None:
            return
        await self.cluster.refresh()
        await self.cluster.publish_stats(self.stats())
        self._instances = await self.cluster.instances()
        self.metrics.cluster_instances(len(self._instances))

    async def evaluate(self) -> list[MonitoringAlert]:
        """Check every threshold (the leader, when clustered) and export the gauges (all)."""
        changes: list[MonitoringAlert] = []
        if self.cluster is None:
            changes = await self._check()
        else:
            leading = await self.cluster.lead("alerts", LEADER_LEASE)
            if not (leading and self._leading):
                await self._adopt()  # a follower, or a new leader taking over
            self._leading = leading
            if leading:
                changes = await self._check()
        self._export()
        return changes

    async def _check(self) -> list[MonitoringAlert]:
        """Raise and clear alerts from cluster-wide inputs; record them before emitting."""
        now = self.engine.clock()
        elsewhere = await self._online_elsewhere()
        found = conditions(
            self.engine.thresholds,
            dict(Counter(self.cluster_stats()["byNamespace"])),
            self.registry,
            await self.reconnects.rates(now),
            self.instance_counts(),
            now,
            elsewhere,
            await self._stored_offline(elsewhere),
        )
        if self.more_conditions is not None:
            found += await self.more_conditions()
        changes = self.engine.apply(found)
        if self.cluster is not None and changes:
            await self.cluster.save_alerts(
                [
                    (a.alert_id, json.dumps(a.to_wire()) if a.state == "raised" else None)
                    for a in changes
                ]
            )
        await self.engine.announce(changes)
        return changes

    async def _adopt(self) -> None:
        """Take the cluster's raised alerts (kept when Redis does not answer)."""
        assert self.cluster is not None
        stored = await self.cluster.active_alerts()
        if stored is None:
            return
        alerts = []
        for raw in stored:
            try:
                alerts.append(MonitoringAlert.model_validate(json.loads(raw)))
            except ValueError:
                log.warning("unreadable alert in redis; ignored")
        self.engine.adopt(alerts)

    def _export(self) -> None:
        """This instance's gauges: alerts raised now, and whether it hears the cluster."""
        self.metrics.set_alerts(Counter(a.kind for a in self.engine.active.values()))
        if self._bus is not None:
            self.metrics.cluster_deaf.set(1 if self._bus.deaf else 0)

    async def _stored_offline(
        self, elsewhere: frozenset[str]
    ) -> tuple[tuple[str, str, float], ...]:
        """Stored agents connected nowhere in the cluster, with when they were last seen."""
        if self.cluster is None or self.stored_agents is None:
            return ()
        here = {a.agent_id for a in self.registry.all_agents()}
        out = []
        for agent_id, company, seen in await self.stored_agents():
            if agent_id in here or agent_id in elsewhere:
                continue
            if not await self.cluster.agent_location(agent_id):
                out.append((agent_id, company, seen))
        return tuple(out)

    async def _online_elsewhere(self) -> frozenset[str]:
        """Agents offline here but connected to another instance (cluster mode)."""
        if self.cluster is None:
            return frozenset()
        offline = [a.agent_id for a in self.registry.all_agents() if not a.online]
        return frozenset([a for a in offline if await self.cluster.agent_location(a)])
