"""What managers set per printer (name, profile, paper width, text mode, status channel), kept.

The hub sends a printer's settings with ``printer:configure`` whenever they change and after
every registration; they replace the earlier ones and are written to ``printers.json`` beside
the spool, so a restart keeps them even before the hub is reachable. They are applied over
what discovery and the printer itself said (agent.identity), field by field: a setting left
None keeps the discovered value. A setting PrinterInfo has no field for yet is kept and
offered through :meth:`PrinterSettingsStore.get` (``status_channel``: the status-channel code
applies it where PrinterInfo carries one, see :func:`apply_settings`).
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from pydantic import ValidationError

from agent.profiles import known_profile
from shared.events import PrinterSettings
from shared.printers import PrinterInfo

log = logging.getLogger(__name__)

PRINTER_SETTINGS_FILE = "printers.json"


#: Settings applied elsewhere: the status channel is the coordinator's (an override that
#: "auto" lifts again; agent.service.Agent.apply_status_channel), never a discovered fact.
_ELSEWHERE = frozenset({"status_channel"})


def apply_settings(info: PrinterInfo, settings: PrinterSettings | None) -> PrinterInfo:
    """``info`` with every setting that is set and that PrinterInfo has a field for.

    A profile python-escpos does not know is ignored (logged): bytes are never built for a
    profile that does not exist.
    """
    if settings is None:
        return info
    changes = {
        name: value
        for name, value in settings.model_dump().items()
        if value is not None and name in PrinterInfo.model_fields and name not in _ELSEWHERE
    }
    if "profile" in changes and not known_profile(changes["profile"]):
        log.warning("unknown profile %r set for %s", changes.pop("profile"), info.printer_id)
    return info.model_copy(update=changes) if changes else info


class PrinterSettingsStore:
    """Settings by printer id, read once and written on every change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._settings: dict[str, PrinterSettings] = self._load()

    def get(self, printer_id: str) -> PrinterSettings | None:
        """The printer's settings, if a manager set any."""
        return self._settings.get(printer_id)

    def status_channel(self, printer_id: str) -> str | None:
        """The status channel a manager chose for the printer (None: as detected)."""
        settings = self._settings.get(printer_id)
        return settings.status_channel if settings else None

    def put(self, printer_id: str, settings: PrinterSettings) -> bool:
        """Replace the printer's settings and save; whether anything changed."""
        if self._settings.get(printer_id) == settings:
            return False
        self._settings[printer_id] = settings
        self._save()
        return True

    def apply(self, info: PrinterInfo) -> PrinterInfo:
        """``info`` with its settings applied."""
        return apply_settings(info, self._settings.get(info.printer_id))

    def _load(self) -> dict[str, PrinterSettings]:
        try:
            raw = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning("printer settings unreadable, starting without: %s", exc)
            return {}
        loaded: dict[str, PrinterSettings] = {}
        for printer_id, data in raw.items() if isinstance(raw, dict) else ():
            try:
                loaded[str(printer_id)] = PrinterSettings.model_validate(data)
            except ValidationError:
                log.warning("ignoring invalid settings for %s", printer_id)
        return loaded

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = {pid: s.to_wire() for pid, s in self._settings.items()}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
        os.replace(tmp, self.path)
