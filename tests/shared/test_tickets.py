"""Kitchen tickets without any I/O: routing, the per-station delta, ids, the ticket document."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from shared.documents import ReceiptDocument, TextLine
from shared.events import MAX_ORDER_LINES, NewOrder, OrderLine, OrderStatusUpdate
from shared.ticket_documents import (
    MAX_DOCUMENT_LINES,
    document_text,
    rerouted,
    ticket_document,
)
from shared.tickets import (
    RoutingError,
    RoutingRule,
    RoutingRules,
    Station,
    TicketHeader,
    TicketItem,
    TicketLayout,
    check_rules,
    check_stations,
    keep_routes,
    route_line,
    route_order,
    station_delta,
    ticket_job_id,
    voids,
    wanted_items,
)

STATIONS = {"grill", "cold", "bar", "pass"}
RULES = RoutingRules(
    default_station_id="grill",
    rules=[
        RoutingRule(match="category", value="Burgers", station_ids=["grill"]),
        RoutingRule(match="category", value="salads", station_ids=["cold"]),
        RoutingRule(match="tag", value="cold", station_ids=["cold"]),
        RoutingRule(match="category", value="drinks", station_ids=["bar"]),
        RoutingRule(match="all", station_ids=["pass"]),
    ],
)


def _line(line_id: str = "l1", **kw: Any) -> OrderLine:
    return OrderLine.model_validate({"lineId": line_id, "name": "Item", "quantity": 1, **kw})


def _item(line_id: str = "l1", quantity: int = 1, **kw: Any) -> TicketItem:
    return TicketItem(line_id=line_id, name=kw.pop("name", "Burger"), quantity=quantity, **kw)


# --- routing ---------------------------------------------------------------------------------


def test_category_match_is_case_insensitive_and_the_pass_gets_every_line() -> None:
    route = route_line(_line(category="burgers"), STATIONS, RULES)
    assert route.station_ids == ("grill", "pass")
    assert route.reasons == ("category 'burgers'", "every line")


def test_a_tag_adds_its_station_and_a_line_can_go_to_several() -> None:
    route = route_line(_line(category="Burgers", tags=["COLD"]), STATIONS, RULES)
    assert route.station_ids == ("grill", "cold", "pass")


def test_a_line_naming_its_station_skips_the_rules_but_not_the_pass() -> None:
    route = route_line(_line(category="burgers", station="bar"), STATIONS, RULES)
    assert route.station_ids == ("bar", "pass")
    assert route.reasons[0] == "named by the line"


def test_a_line_naming_an_unknown_station_is_routed_by_the_rules_and_says_so() -> None:
    route = route_line(_line(category="drinks", station="wok"), STATIONS, RULES)
    assert route.station_ids == ("bar", "pass")
    assert "'wok'" in route.reasons[0]


def test_unknown_categories_go_to_the_default_station() -> None:
    route = route_line(_line(category="sushi"), STATIONS, RULES)
    assert route.station_ids == ("grill", "pass")
    assert route.reasons[0] == "default station"


def test_without_a_default_an_unknown_category_goes_nowhere_with_a_reason() -> None:
    rules = RoutingRules(rules=RULES.rules[:4])
    route = route_line(_line(category="sushi", tags=["raw"]), STATIONS, rules)
    assert not route.routed
    assert route.reasons == (
        "category 'sushi' and tags 'raw': no rule matches and the branch has no default station",
    )


def test_rules_naming_deleted_stations_are_skipped() -> None:
    route = route_line(_line(category="salads"), {"grill"}, RULES)
    assert route.station_ids == ("grill",)  # cold and pass are gone: the default takes it


def test_rules_are_checked_against_the_branchs_stations() -> None:
    check_rules(RULES, STATIONS)
    with pytest.raises(RoutingError) as exc:
        check_rules(RULES, {"grill", "cold", "bar"})
    assert (exc.value.code, exc.value.field) == ("unknown_station", "rules.4.stationIds.0")
    with pytest.raises(RoutingError) as exc:
        check_rules(RoutingRules(default_station_id="wok"), STATIONS)
    assert exc.value.field == "defaultStationId"


def test_station_and_rule_models_refuse_contradictions() -> None:
    with pytest.raises(ValidationError):
        Station(station_id="g", name="G", primary_printer_id="p1", backup_printer_id="p1")
    with pytest.raises(ValidationError):
        RoutingRule(match="all", value="x", station_ids=["g"])
    with pytest.raises(ValidationError):
        RoutingRule(match="tag", station_ids=["g"])
    with pytest.raises(ValidationError):
        Station(station_id="g", name="   ", primary_printer_id="p1")
    station = Station(station_id="g", name="G", primary_printer_id="p1")
    with pytest.raises(RoutingError) as exc:
        check_stations([station, station])
    assert exc.value.code == "duplicate_station"


# --- the delta ---------------------------------------------------------------------------------


def test_a_first_ticket_adds_everything() -> None:
    lines = station_delta({}, {"l1": _item("l1", 2), "l2": _item("l2", name="Fries")})
    assert [(t.change, t.item.line_id) for t in lines] == [("add", "l1"), ("add", "l2")]


def test_an_unchanged_station_prints_nothing() -> None:
    sent = {"l1": _item("l1", 2)}
    assert station_delta(sent, dict(sent)) == []


def test_added_lines_quantity_changes_and_removed_lines() -> None:
    sent = {"l1": _item("l1", 2), "l2": _item("l2", 1, name="Fries")}
    wanted = {"l1": _item("l1", 3), "l3": _item("l3", 1, name="Ribs")}
    lines = station_delta(sent, wanted)
    assert [(t.change, t.item.line_id, t.item.quantity, t.previous_quantity) for t in lines] == [
        ("quantity", "l1", 3, 2),
        ("void", "l2", 1, None),
        ("add", "l3", 1, None),
    ]


def test_a_line_changed_otherwise_is_voided_and_added_again() -> None:
    sent = {"l1": _item("l1", 1, modifiers=("no onion",))}
    wanted = {"l1": _item("l1", 1, modifiers=("extra cheese",))}
    lines = station_delta(sent, wanted)
    assert [(t.change, t.item.modifiers) for t in lines] == [
        ("void", ("no onion",)),
        ("add", ("extra cheese",)),
    ]


def test_a_cancel_voids_every_line_a_station_has() -> None:
    lines = voids({"l1": _item("l1", 2), "l2": _item("l2")})
    assert [t.change for t in lines] == ["void", "void"]


items = st.dictionaries(
    st.sampled_from(["a", "b", "c", "d"]),
    st.builds(lambda q, n: _item("x", q, name=n), st.integers(1, 3), st.sampled_from("XY")),
)


@given(items, items)
def test_applying_a_delta_to_what_was_sent_gives_what_is_wanted(
    sent: dict[str, TicketItem], wanted: dict[str, TicketItem]
) -> None:
    sent = {k: v.model_copy(update={"line_id": k}) for k, v in sent.items()}
    wanted = {k: v.model_copy(update={"line_id": k}) for k, v in wanted.items()}
    state = dict(sent)
    for line in station_delta(sent, wanted):
        if line.change == "void":
            assert state.pop(line.item.line_id) == line.item
        else:
            state[line.item.line_id] = line.item
    assert state == wanted
    assert (station_delta(sent, wanted) == []) == (sent == wanted)


def test_lines_already_sent_stay_with_their_stations_when_the_rules_change() -> None:
    lines = [_line("l1", category="burgers"), _line("l2", category="burgers")]
    moved = RoutingRules(
        rules=[RoutingRule(match="category", value="burgers", station_ids=["cold"])]
    )
    sent = {"grill": {"l1": _item("l1")}, "gone": {"l2": _item("l2")}}
    kept = keep_routes(route_order(lines, STATIONS, moved), sent, STATIONS)
    assert [(r.line.line_id, r.station_ids) for r in kept] == [
        ("l1", ("grill",)),
        ("l2", ("cold",)),
    ]
    assert kept[0].reasons == ("sent there before",)


def test_wanted_items_per_station_follow_the_routes() -> None:
    routes = route_order(
        [_line("l1", category="burgers"), _line("l2", category="drinks")], STATIONS, RULES
    )
    wanted = wanted_items(routes)
    assert {k: list(v) for k, v in wanted.items()} == {
        "grill": ["l1"],
        "pass": ["l1", "l2"],
        "bar": ["l2"],
    }


# --- ids and the order models ------------------------------------------------------------------


def test_ticket_job_ids_are_derived_and_distinct() -> None:
    one = ticket_job_id("acme", "o1", 1, "grill")
    assert one == ticket_job_id("acme", "o1", 1, "grill")
    others = {
        ticket_job_id("globex", "o1", 1, "grill"),
        ticket_job_id("acme", "o2", 1, "grill"),
        ticket_job_id("acme", "o1", 2, "grill"),
        ticket_job_id("acme", "o1", 1, "bar"),
        ticket_job_id("acme", "o1", "cancel", "grill"),
    }
    assert one not in others and len(others) == 5
    assert len(one) == 36


def _order(**kw: Any) -> dict[str, Any]:
    base = {"correlationId": "corr-0001", "orderId": "o1", "status": "new", "orderVersion": 1}
    return {**base, "lines": [{"lineId": "l1", "name": "Burger", "quantity": 1}], **kw}


def test_order_models_keep_todays_fields_and_pass_the_platforms_extras() -> None:
    legacy = NewOrder.model_validate(
        {"correlationId": "corr-0001", "orderId": "o1", "status": "new"}
    )
    assert legacy.lines is None and legacy.order_version is None
    extra = NewOrder.model_validate(
        _order(total=9.5, lines=[{"lineId": "l1", "name": "B", "quantity": 1, "sku": "x"}])
    )
    assert extra.to_wire()["total"] == 9.5 and extra.to_wire()["lines"][0]["sku"] == "x"


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"lines": []}, "lines"),
        ({"orderVersion": None}, "lines"),
        ({"orderVersion": 0}, "orderVersion"),
        ({"lines": [{"lineId": "l1", "name": "B", "quantity": -1}]}, "lines.0.quantity"),
        ({"lines": [{"lineId": "l1", "name": "", "quantity": 1}]}, "lines.0.name"),
        ({"lines": [{"lineId": "l 1", "name": "B", "quantity": 1}]}, "lines.0.lineId"),
        ({"orderType": "drive-through"}, "orderType"),
        (
            {
                "lines": [
                    {"lineId": f"l{n}", "name": "B", "quantity": 1}
                    for n in range(MAX_ORDER_LINES + 1)
                ]
            },
            "lines",
        ),
    ],
)
def test_bad_orders_name_the_field(change: dict[str, Any], where: str) -> None:
    payload = {k: v for k, v in _order(**change).items() if v is not None}
    with pytest.raises(ValidationError) as exc:
        NewOrder.model_validate(payload)
    assert ".".join(str(p) for p in exc.value.errors()[0]["loc"]) == where


def test_an_update_may_take_every_line_off() -> None:
    update = OrderStatusUpdate.model_validate(_order(lines=[], orderVersion=2))
    assert update.lines == []


# --- the ticket document -------------------------------------------------------------------------


HEADER = TicketHeader(
    order_id="o-1042",
    order_version=2,
    order_number="1042",
    order_type="dine-in",
    table="12",
    guest_count=4,
    placed_at="2026-12-05T12:04:00+01:00",
    notes="birthday",
)


def _text(document: ReceiptDocument) -> str:
    return "\n".join(document_text(document))


def test_a_ticket_shows_station_order_table_lines_modifiers_and_notes() -> None:
    lines = station_delta(
        {},
        {"l1": _item("l1", 2, alt_name="Hamburguesa", modifiers=("no onion",), notes="well done")},
    )
    text = _text(ticket_document("Grill", TicketLayout(), HEADER, lines, "order"))
    for part in (
        "GRILL",
        "#1042",
        "Table 12 / 4 guests",
        "Dine-in / 12:04",
        "2 x Burger",
        "    Hamburguesa",
        "  + no onion",
        "  ! well done",
        "Note: birthday",
        "v2 / order o-1042",
    ):
        assert part in text, part
    assert "UPDATE" not in text and "VOID" not in text


def test_an_update_and_a_cancel_say_so() -> None:
    update = station_delta(
        {"l1": _item("l1", 2), "l2": _item("l2", name="Fries")}, {"l1": _item("l1", 3)}
    )
    text = _text(ticket_document("Grill", TicketLayout(), HEADER, update, "update"))
    assert "UPDATE" in text and "QTY 2 -> 3  Burger" in text and "VOID 1 x Fries" in text
    text = _text(
        ticket_document("Grill", TicketLayout(), HEADER, voids({"l1": _item("l1", 2)}), "void")
    )
    assert "VOID - ORDER CANCELLED" in text and "VOID 2 x Burger" in text


def test_the_layout_chooses_fields_prices_and_size() -> None:
    layout = TicketLayout(fields=["table"], prices=True, font_size="large")
    lines = station_delta({}, {"l1": _item("l1", 2, price=4.5, modifiers=("x",))})
    document = ticket_document("Bar", layout, HEADER, lines, "order")
    text = _text(document)
    assert "2 x Burger  9.00" in text and "+ x" not in text and "Dine-in" not in text
    assert "Note:" not in text and "Table 12" in text
    [item] = [
        line for line in document.lines if isinstance(line, TextLine) and "Burger" in line.text
    ]
    assert item.height == 2


def test_the_biggest_possible_ticket_fits_one_document() -> None:
    full = {
        f"l{n}": _item(f"l{n}", 2, alt_name="Alt", modifiers=("a", "b"), notes="n")
        for n in range(MAX_ORDER_LINES)
    }
    changed = {k: v.model_copy(update={"notes": "other"}) for k, v in full.items()}
    lines = station_delta(full, changed)
    assert len(lines) == 2 * MAX_ORDER_LINES
    document = ticket_document("Grill", TicketLayout(), HEADER, lines, "update")
    assert len(document.lines) <= MAX_DOCUMENT_LINES
    text = _text(document)
    assert text.count("VOID 2 x Burger") == MAX_ORDER_LINES
    assert text.count("2 x Burger Alt + a, b ! other") == MAX_ORDER_LINES  # compact form
    marked = rerouted(document, "Grill")
    assert len(marked.lines) <= MAX_DOCUMENT_LINES


def test_a_rerouted_ticket_says_where_it_came_from_first() -> None:
    lines = station_delta({}, {"l1": _item()})
    marked = rerouted(ticket_document("Grill", TicketLayout(), HEADER, lines, "order"), "Grill")
    assert document_text(marked)[0] == "REROUTED from Grill"
    assert document_text(marked)[2] == "GRILL"


def test_a_later_header_keeps_what_the_event_leaves_out() -> None:
    first = TicketHeader.of(NewOrder.model_validate(_order(table="7", orderNumber="55")))
    cancel = NewOrder.model_validate(_order(orderVersion=3))
    later = TicketHeader.of(cancel, first)
    assert (later.table, later.order_number, later.order_version) == ("7", "55", 3)


def test_long_order_notes_are_accepted_and_printed_in_part() -> None:
    event = NewOrder.model_validate(_order(notes="n" * 8000))
    header = TicketHeader.of(event)
    text = _text(
        ticket_document(
            "Grill", TicketLayout(), header, station_delta({}, {"l1": _item()}), "order"
        )
    )
    assert "Note: " + "n" * 994 in text and "n" * 995 not in text
