"""The stations page in a real browser: stations and rules edited, the preview live before saving."""

from __future__ import annotations

import json

import pytest

from shared.tokens import Role
from tests.web.browser import Browser, needs_browser
from tests.web.test_ui import scene, sign_in

pytestmark = [needs_browser, pytest.mark.timeout(180)]

PREVIEW_ROW = "return (document.querySelector(`#preview-lines tr[data-line-id='${arguments[0]}'] .preview-stations`) || {}).textContent === arguments[1]"


async def _add_station(browser: Browser, station_id: str, name: str, printer: str) -> None:
    await browser.type("#new-station-id", station_id)
    await browser.type("#new-station-name", name)
    await browser.js(
        "const s = document.getElementById('new-station-primary'); s.value = arguments[0];", printer
    )
    await browser.click("#new-station button[type=submit]")
    await browser.find(f'li.station[data-station-id="{station_id}"]')


async def _add_rule(browser: Browser, value: str, station: str) -> None:
    await browser.click("#add-rule")
    row = "#rules tr.rule:last-child"
    await browser.type(f"{row} .rule-value", value)
    await browser.click(f'{row} .rule-station[data-station="{station}"]')


async def test_stations_and_rules_are_edited_and_previewed_before_saving(
    hub, browser: Browser
) -> None:  # type: ignore[no-untyped-def]
    async with scene(hub, browser) as s:
        grill, bar = s.fleet.printers
        await sign_in(browser, hub.url)
        await browser.click('a[href="#/branches/b1"]')
        await browser.click('nav.tabs a[href="#/branches/b1/stations"]')
        await browser.find("#new-station")
        await _add_station(browser, "grill", "Grill", grill.printer_id)
        await _add_station(browser, "bar", "Bar", bar.printer_id)
        await browser.until(PREVIEW_ROW, "1", "nowhere")  # no rules yet, no default

        await _add_rule(browser, "burgers", "grill")
        await browser.until(PREVIEW_ROW, "1", "Grill")
        assert await browser.text("#rules-status") == "Unsaved changes"
        _, saved = await hub.get("/api/v1/branches/b1/rules", hub.token(Role.MANAGER, "acme"))
        assert saved["rules"] == []  # the preview showed it; nothing is saved yet

        await _add_rule(browser, "drinks", "bar")
        await browser.until(PREVIEW_ROW, "3", "Bar")
        await browser.js(
            "const s = document.getElementById('default-station'); s.value = 'bar';"
            " s.dispatchEvent(new Event('input', {bubbles: true}));"
        )
        await browser.until(PREVIEW_ROW, "2", "Bar")  # the salad: unmatched, to the default
        await browser.type('li.station[data-station-id="grill"] .st-name', "Hot grill")
        await browser.until(
            "const t = document.querySelector(\"#preview-tickets [data-station-id='grill'] pre\");"
            " return t && t.textContent.startsWith('HOT GRILL') && t.textContent.includes('2 x Cheeseburger')"
        )
        await browser.screenshot("stations-preview")

        await browser.click("#save-rules")
        await browser.until(
            "return document.querySelector('#rules-status').textContent === 'Saved'"
        )
        _, saved = await hub.get("/api/v1/branches/b1/rules", hub.token(Role.MANAGER, "acme"))
        assert saved["defaultStationId"] == "bar"
        assert [(r["value"], r["stationIds"]) for r in saved["rules"]] == [
            ("burgers", ["grill"]),
            ("drinks", ["bar"]),
        ]
        await browser.click('li.station[data-station-id="grill"] .st-save')
        await browser.until(
            "return document.querySelector('li.station[data-station-id=\"grill\"] .st-status').textContent === 'Saved'"
        )
        _, listed = await hub.get("/api/v1/branches/b1/stations", hub.token())
        assert [x["name"] for x in listed["stations"]] == ["Bar", "Hot grill"]

        order = {
            "correlationId": "corr-ui-1",
            "orderId": "o-ui-1",
            "status": "new",
            "orderVersion": 1,
            "lines": [
                {"lineId": "1", "name": "Cheeseburger", "category": "burgers", "quantity": 1}
            ],
        }
        status, body = await hub.publish("newOrder", order, branch="b1")
        assert status == 202, body
        await browser.until(
            "const r = document.querySelector('#latency-table tr[data-station-id=\"grill\"] .ticket-count');"
            " return r && r.textContent === '1'",
            timeout=30,
        )
        assert grill.count_jobs_containing("Cheeseburger") == 1
        await browser.screenshot("stations-latency")

        await browser.type("#order-id", "o-ui-1")
        await browser.click(".order-lookup button[type=submit]")
        await browser.until(
            "const r = document.querySelectorAll('#order-tickets tr'); return r.length === 1"
            " && r[0].dataset.state === 'printed' && r[0].textContent.includes('Hot grill')"
        )
        await browser.click("#order-tickets tr .reprint-ticket")
        await browser.until(
            "const r = document.querySelectorAll('#order-tickets tr'); return r.length === 2"
            " && r[1].dataset.state === 'printed' && r[1].textContent.includes('copy')",
            timeout=30,
        )
        first, copy = [j for j in grill.brain.jobs if b"Cheeseburger" in j]
        assert b"COPY" not in first and b"COPY" in copy
        await browser.screenshot("stations-order-tickets")
        assert await browser.console_errors() == []


async def test_a_refused_change_says_why(hub, browser: Browser) -> None:  # type: ignore[no-untyped-def]
    async with scene(hub, browser) as s:
        await sign_in(browser, hub.url)
        await browser.get(hub.url + "/#/branches/b1/stations")
        await _add_station(browser, "grill", "Grill", s.fleet.printers[0].printer_id)
        await browser.js(
            "document.getElementById('sample').value = '{not json'; document.getElementById('sample').dispatchEvent(new Event('input'))"
        )
        await browser.until(
            "return document.querySelector('#preview-error').textContent.includes('not valid JSON')"
        )
        sample = {"lines": [{"lineId": "1", "name": "x", "quantity": -1}]}
        await browser.js(
            "document.getElementById('sample').value = arguments[0]; document.getElementById('sample').dispatchEvent(new Event('input'))",
            json.dumps(sample),
        )
        await browser.until(
            "return document.querySelector('#preview-error').textContent.includes('order.lines.0.quantity')"
        )
        await _add_rule(browser, "burgers", "grill")
        await browser.click("#save-rules")
        await browser.click('li.station[data-station-id="grill"] .st-delete')
        await browser.until(
            "return document.querySelector('#stations-error').textContent.includes('change them first')"
        )
        assert await browser.all('li.station[data-station-id="grill"]')
