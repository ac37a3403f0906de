"""What managers set per printer is kept by the agent and applied over what it discovered."""

from __future__ import annotations

from pathlib import Path

from agent.printer_settings import PrinterSettingsStore, apply_settings
from shared.events import PrinterSettings
from shared.printers import Connection, DiscoverySource, PrinterInfo

INFO = PrinterInfo(
    printer_id="net:sn:X4V1",
    name="TM-T20III at 10.0.0.5",
    connection=Connection.NETWORK,
    source=DiscoverySource.SWEEP,
    host="10.0.0.5",
    port=9100,
    profile="TM-T20II",
)


def test_settings_apply_field_by_field() -> None:
    settings = PrinterSettings(name="Grill", paper_width_mm=58)
    applied = apply_settings(INFO, settings)
    assert (applied.name, applied.paper_width_mm, applied.profile) == ("Grill", 58, "TM-T20II")
    assert apply_settings(INFO, None) is INFO


def test_an_unknown_profile_is_not_used() -> None:
    applied = apply_settings(INFO, PrinterSettings(profile="TM-NOPE", text_mode="image"))
    assert (applied.profile, applied.text_mode) == ("TM-T20II", "image")


def test_settings_survive_a_restart_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "printers.json"
    store = PrinterSettingsStore(path)
    assert store.put(INFO.printer_id, PrinterSettings(name="Grill", status_channel="none"))
    assert not store.put(INFO.printer_id, PrinterSettings(name="Grill", status_channel="none"))
    again = PrinterSettingsStore(path)
    assert again.apply(INFO).name == "Grill"
    assert again.status_channel(INFO.printer_id) == "none"
    assert again.status_channel("net:sn:other") is None
    path.write_text("{not json")
    assert PrinterSettingsStore(path).get(INFO.printer_id) is None
    path.write_text('{"net:sn:X4V1": {"paperWidthMm": 57}, "net:sn:X4V2": {"name": "Bar"}}')
    mixed = PrinterSettingsStore(path)
    assert mixed.get("net:sn:X4V1") is None and mixed.get("net:sn:X4V2") == PrinterSettings(
        name="Bar"
    )
