"""The agent's diagnostics bundle: redaction, bounds and the USB tree (no hub needed)."""

from __future__ import annotations

from datetime import UTC, datetime

from agent.diagnostics import REDACTED, Redactor, fit, secrets_of, url_without_password, usb_tree
from agent.settings import AgentSettings
from agent.simulators.usb_backend import FakeUsbBackend, FakeUsbPrinter
from shared.diagnostics import DiagnosticsBundle, LogLine

TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZ2VudC0xIn0.c2lnbmF0dXJlLW9mLXRoZS10b2tlbg"


def test_known_and_secret_shaped_text_is_masked() -> None:
    redactor = Redactor(["my-enrol-code-1234"])
    cases = {
        f"token {TOKEN} in a line": "token [redacted] in a line",
        "Authorization: Bearer abc.def-ghi": f"Authorization: {REDACTED} {REDACTED}",
        "sent Bearer abc.def-ghi": f"sent Bearer {REDACTED}",
        'password="a b c" then': f"password={REDACTED} then",
        "PASSWD: hunter2": f"PASSWD: {REDACTED}",
        "code my-enrol-code-1234 used": f"code {REDACTED} used",
        "printer status online": "printer status online",
    }
    for given, wanted in cases.items():
        assert redactor.text(given) == wanted


def test_secret_named_keys_are_emptied_whatever_their_value() -> None:
    redactor = Redactor([])
    shown = redactor.deep({"fields": {"auth_token": "x", "api_key": 3, "printer_id": "p1"}})
    assert shown == {"fields": {"auth_token": REDACTED, "api_key": REDACTED, "printer_id": "p1"}}


def test_the_hub_urls_password_is_a_secret_and_is_masked() -> None:
    settings = AgentSettings(hub_url="https://hub.example,https://ops:pa55word@10.0.0.2:8443")
    assert "pa55word" in secrets_of(settings, TOKEN)
    assert url_without_password("https://ops:pa55word@10.0.0.2:8443/x") == (
        f"https://{REDACTED}@10.0.0.2:8443/x"
    )
    assert url_without_password("https://hub.example") == "https://hub.example"


def _bundle(lines: int) -> DiagnosticsBundle:
    line = LogLine(ts=datetime.now(UTC), level="INFO", logger="chit", msg="x" * 1500)
    return DiagnosticsBundle(
        collected_at=datetime.now(UTC),
        agent_id="a1",
        version="1",
        hostname="h",
        os="Linux",
        python="3.11",
        settings={},
        logs=[line] * lines,
        usb=[],
        queues=[],
        printers=[],
        discovery=[],
    )


def test_a_bundle_too_big_drops_its_oldest_log_lines() -> None:
    small = fit(_bundle(10), limit=100_000)
    assert len(small.logs) == 10 and not small.truncated
    cut = fit(_bundle(400), limit=100_000)
    assert cut.truncated and 0 < len(cut.logs) < 400
    assert len(cut.model_dump_json().encode()) <= 100_000


def test_the_usb_tree_lists_devices_from_descriptors() -> None:
    backend = FakeUsbBackend([FakeUsbPrinter(serial="S1")])
    (device,) = usb_tree(backend)
    assert device.interface_classes and 7 in device.interface_classes  # the printer class
    assert device.vendor  # a receipt printer maker the agent knows
