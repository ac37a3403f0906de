"""Prometheus metrics (prometheus-client), one registry per hub app so tests stay independent."""

from __future__ import annotations

import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from hub.services.connections import ClientSession
from shared.namespaces import Namespace
from shared.tokens import Role

__all__ = ["CONTENT_TYPE_LATEST", "HubMetrics"]

ALERT_KINDS = (
    "namespace_connections",
    "agent_offline",
    "reconnect_rate",
    "instance_imbalance",
    "station_printer_down",
    "ticket_late",
)
_DURATION_BUCKETS = (1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 12 * 3600, 24 * 3600)
_TEST_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30)
_TICKET_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)


def client_kind(role: Role) -> str:
    """Desktop agents vs web clients."""
    return "desktop" if role is Role.DESKTOP_APP else "web"


class HubMetrics:
    """Counters and gauges the gateways and services update as things happen."""

    def __init__(self, instance_id: str) -> None:
        self.instance_id = instance_id
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge(
            "chit_connections",
            "Open socket connections",
            ["namespace", "role", "instance"],
            registry=r,
        )
        self.connection_duration = Histogram(
            "chit_connection_duration_seconds",
            "How long connections lasted",
            ["namespace", "kind"],
            buckets=_DURATION_BUCKETS,
            registry=r,
        )
        self.connects = Counter(
            "chit_connects", "Accepted connections", ["namespace", "kind"], registry=r
        )
        self.auth_refusals = Counter(
            "chit_auth_refusals", "Refused connections by reason", ["namespace", "code"], registry=r
        )
        self.events_in = Counter(
            "chit_events_in", "Events received from clients", ["namespace", "event"], registry=r
        )
        self.events_out = Counter(
            "chit_events_out", "Events emitted by the hub", ["namespace", "event"], registry=r
        )
        self.invalid_payloads = Counter(
            "chit_invalid_payloads",
            "Refused inbound events",
            ["namespace", "event", "code"],
            registry=r,
        )
        self.reconnects = Counter(
            "chit_reconnects",
            "Connects of a client that disconnected shortly before",
            ["kind"],
            registry=r,
        )
        self.print_jobs = Counter(
            "chit_print_jobs", "Print jobs reaching a final state", ["outcome"], registry=r
        )
        self.instances = Gauge("chit_cluster_instances", "Live hub instances", registry=r)
        self.cluster_deaf = Gauge(
            "chit_cluster_deaf", "1 while this instance cannot hear the cluster channel", registry=r
        )
        self.alerts_active = Gauge(
            "chit_alerts_active", "Alerts currently raised", ["kind"], registry=r
        )
        for kind in ALERT_KINDS:
            self.alerts_active.labels(kind).set(0)
        self.printer_tests = Counter(
            "chit_printer_tests", "Printer test outcomes", ["outcome"], registry=r
        )
        self.printer_test_latency = Histogram(
            "chit_printer_test_latency_seconds",
            "Printer test round trip",
            buckets=_TEST_BUCKETS,
            registry=r,
        )

        self.ticket_latency = Histogram(
            "chit_ticket_seconds",
            "Order to printed kitchen ticket, per station (publish to printed)",
            ["branch", "station"],
            buckets=_TICKET_BUCKETS,
            registry=r,
        )

    def connected(self, session: ClientSession) -> None:
        """A client connected."""
        ns, role = str(session.namespace), str(session.role)
        self.connections.labels(ns, role, self.instance_id).inc()
        self.connects.labels(ns, client_kind(session.role)).inc()

    def disconnected(self, session: ClientSession) -> None:
        """A client disconnected."""
        ns, role = str(session.namespace), str(session.role)
        self.connections.labels(ns, role, self.instance_id).dec()
        lasted = max(0.0, time.time() - session.connected_at)
        self.connection_duration.labels(ns, client_kind(session.role)).observe(lasted)

    def auth_refused(self, namespace: Namespace, code: str) -> None:
        """A connection was refused."""
        self.auth_refusals.labels(str(namespace), code).inc()

    def event_in(self, namespace: Namespace, event: str) -> None:
        """A valid event arrived from a client."""
        self.events_in.labels(str(namespace), event).inc()

    def event_out(self, namespace: str, event: str) -> None:
        """The hub emitted an event."""
        self.events_out.labels(namespace, event).inc()

    def invalid_payload(self, namespace: Namespace | str, event: str, code: str) -> None:
        """An inbound event was refused."""
        self.invalid_payloads.labels(str(namespace), event[:64], code).inc()

    def cluster_instances(self, count: int) -> None:
        """How many hub instances report to the cluster."""
        self.instances.set(count)

    def reconnected(self, kind: str) -> None:
        """A client came back."""
        self.reconnects.labels(kind).inc()

    def print_job(self, outcome: str) -> None:
        """A print job ended printed, failed or expired."""
        self.print_jobs.labels(outcome).inc()

    def set_alerts(self, active: Mapping[str, int]) -> None:
        """How many alerts of each kind are raised now."""
        for kind in ALERT_KINDS:
            self.alerts_active.labels(kind).set(active.get(kind, 0))

    def printer_test(self, outcome: str, seconds: float) -> None:
        """A printer test finished."""
        self.printer_tests.labels(outcome).inc()
        self.printer_test_latency.observe(seconds)

    def ticket_printed(self, branch_id: str, station_id: str, seconds: float) -> None:
        """A kitchen ticket printed this long after its order arrived."""
        self.ticket_latency.labels(branch_id, station_id).observe(seconds)

    def render(self) -> bytes:
        """The text exposition format."""
        return generate_latest(self.registry)
