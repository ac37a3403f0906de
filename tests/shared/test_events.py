"""The event catalog: required events, directions, critical ids, validation errors."""

from __future__ import annotations

import pytest

from shared.events import CATALOG, PayloadError, events_of, lookup, parse
from shared.namespaces import ALLOWED_ROLES, Namespace, may_connect
from shared.tokens import Role

REQUIRED = {
    Namespace.PRINTING: {
        "printer:discovered",
        "printerStatusUpdate",
        "printer:test",
        "printer:test:result",
        "printJobUpdate",
        "agent:hello",
        "agent:inventory",
        "agent:heartbeat",
    },
    Namespace.ORDERS: {"newOrder", "orderStatusUpdate", "orderCancelled", "driverUpdate"},
    Namespace.AVAILABILITY: {
        "availabilityUpdate",
        "bulkAvailabilityUpdate",
        "stockAlert",
        "newAlert",
    },
}


@pytest.mark.parametrize("namespace", list(Namespace))
def test_required_events_present(namespace: Namespace) -> None:
    assert REQUIRED[namespace] <= {s.name for s in events_of(namespace)}


def test_names_unique_per_namespace() -> None:
    keys = [(s.namespace, s.name) for s in CATALOG]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("spec", [s for s in CATALOG if s.critical], ids=lambda s: s.name)
def test_critical_events_require_correlation_id(spec: object) -> None:
    fields = spec.model.model_fields  # type: ignore[attr-defined]
    assert "correlation_id" in fields and fields["correlation_id"].is_required()


def test_roles_per_namespace() -> None:
    assert may_connect(Namespace.PRINTING, Role.DESKTOP_APP)
    assert not may_connect(Namespace.ORDERS, Role.DESKTOP_APP)
    assert not may_connect(Namespace.AVAILABILITY, Role.DESKTOP_APP)
    assert all(Role.SERVICE not in roles for roles in ALLOWED_ROLES.values())
    assert all(may_connect(ns, Role.MANAGER) for ns in Namespace)


def test_agent_events_only_from_agents() -> None:
    for name in ("printer:discovered", "printerStatusUpdate", "printer:test:result"):
        assert lookup(Namespace.PRINTING, name).senders == {Role.DESKTOP_APP}
    assert Role.DESKTOP_APP not in lookup(Namespace.PRINTING, "printer:test").senders


def test_platform_events_are_not_accepted_from_sockets() -> None:
    for ns in (Namespace.ORDERS, Namespace.AVAILABILITY):
        platform = [s for s in events_of(ns) if not s.name.startswith(("auth:", "stream:"))]
        assert all(s.publishable and not s.from_clients for s in platform)
        # The connection's own token events: a refresh from the client, notices to it.
        auth = {s.name: s for s in events_of(ns) if s.name.startswith("auth:")}
        assert set(auth) == {"auth:refresh", "auth:expiring", "auth:expired"}
        assert not any(s.publishable for s in auth.values())


def test_parse_names_the_bad_field() -> None:
    spec = lookup(Namespace.PRINTING, "printerStatusUpdate")
    with pytest.raises(PayloadError) as exc:
        parse(spec, {"agentId": "a1", "printerId": "p1", "status": {"state": "melted"}})
    assert exc.value.field == "status.state"
    with pytest.raises(PayloadError) as exc:
        parse(spec, ["not", "an", "object"])
    assert exc.value.code == "invalid_payload"


def test_strict_models_refuse_unknown_fields_open_ones_keep_them() -> None:
    with pytest.raises(PayloadError) as exc:
        parse(
            lookup(Namespace.PRINTING, "printer:test"),
            {"correlationId": "corr-0001", "printerId": "p1", "companyId": "evil"},
        )
    assert exc.value.field == "companyId"
    order = parse(
        lookup(Namespace.ORDERS, "newOrder"),
        {"correlationId": "corr-0001", "orderId": "o1", "status": "new", "total": 12.5},
    )
    assert order.to_wire()["total"] == 12.5


def test_unknown_event() -> None:
    with pytest.raises(PayloadError) as exc:
        lookup(Namespace.ORDERS, "printer:test")
    assert exc.value.code == "unknown_event"


def test_print_job_needs_exactly_one_body() -> None:
    spec = lookup(Namespace.PRINTING, "print:job")
    base = {"jobId": "j1", "correlationId": "corr-0001", "printerId": "p1"}
    with pytest.raises(PayloadError):
        parse(spec, base)
    assert parse(spec, {**base, "raw": "G0A="}).to_wire()["raw"] == "G0A="
