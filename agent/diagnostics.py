"""Collect a diagnostics bundle for support: bounded, and redacted before it leaves the till.

What goes in (shared.diagnostics.DiagnosticsBundle): the recent log lines with their fields,
the settings, OS and version, the USB device tree from cached descriptors, the OS print
queues, each printer's identity, last status and raw status bytes, and the last scan's
timings. What never goes in: the device token, passwords, the enrolment code. Redaction works
in two layers, so a secret that reached a log line by accident is caught too: every string of
the bundle has the known secrets (the token, a preseed code, a password in the hub URL)
replaced, and anything shaped like a JWT, a bearer header or ``password=...`` is masked; log
fields named like a secret are dropped to ``[redacted]`` whatever their value.
"""

from __future__ import annotations

import asyncio
import json
import platform
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import usb.core

from agent import __version__, logs
from agent.coordinator import PrinterCoordinator
from agent.discovery.queues import discover_queues
from agent.scanner import ScanReport
from agent.settings import AgentSettings
from agent.usb_ids import vendor
from shared.diagnostics import (
    MAX_BUNDLE_BYTES,
    MAX_LOG_LINES,
    DiagnosticsBundle,
    DiscoveryTiming,
    LinkInfo,
    LogLine,
    PrinterDiagnostics,
    UsbDevice,
)

REDACTED = "[redacted]"
#: Bounds of the slow sections: a stuck USB stack or spooler cannot hold the bundle back.
SECTION_TIMEOUT = 10.0
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]+")
_ASSIGNED = re.compile(
    r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|authorization|enroll(?:ment)?[_-]?code)"
    r"(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|\S+)"
)
_SECRET_KEY = re.compile(r"(?i)(password|passwd|secret|token|authorization|api[_-]?key|cookie)")
_TEXT_MAX = 2000


def url_without_password(url: str | None) -> str | None:
    """The URL with any user:password part masked."""
    if not url or "@" not in url:
        return url
    parts = urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{REDACTED}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def secrets_of(settings: AgentSettings, token: str | None, more: Iterable[str] = ()) -> list[str]:
    """The literal secrets this agent knows (longest first, so overlaps redact fully)."""
    found = [token or "", *more]
    for url in (settings.hub_url or "").split(","):
        parts = urlsplit(url.strip())
        found += [parts.password or "", parts.username or ""]
    return sorted({s for s in found if len(s) >= 4}, key=len, reverse=True)


class Redactor:
    """Masks known secrets and secret-shaped text in every string it is given."""

    def __init__(self, secrets: list[str]) -> None:
        self._secrets = secrets

    def text(self, value: str) -> str:
        """``value`` with secrets masked, at most 2000 characters."""
        for secret in self._secrets:
            value = value.replace(secret, REDACTED)
        value = _JWT.sub(REDACTED, value)
        value = _BEARER.sub(f"Bearer {REDACTED}", value)
        value = _ASSIGNED.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", value)
        return value[:_TEXT_MAX]

    def deep(self, value: Any) -> Any:
        """Every string inside ``value`` (dicts, lists) masked; secret-named keys emptied."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                k: REDACTED if _SECRET_KEY.search(str(k)) else self.deep(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value


def settings_view(settings: AgentSettings) -> dict[str, Any]:
    """The settings as JSON, the hub URL without a password (there is no secret setting)."""
    shown = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(settings).items()}
    urls = (settings.hub_url or "").split(",")
    shown["hub_url"] = ",".join(url_without_password(u.strip()) or "" for u in urls) or None
    return shown


def _log_lines(lines: list[dict[str, Any]]) -> list[LogLine]:
    kept = []
    for line in lines[-MAX_LOG_LINES:]:
        fields = {str(k)[:200]: str(v)[:_TEXT_MAX] for k, v in list(line["fields"].items())[:64]}
        kept.append(
            LogLine(
                ts=line["ts"],
                level=line["level"][:200],
                logger=line["logger"][:200],
                msg=line["msg"][:_TEXT_MAX],
                fields=fields,
            )
        )
    return kept


def usb_tree(backend: Any = None) -> list[UsbDevice]:
    """Every device on the USB bus from cached descriptors (blocking; run it in a thread)."""
    devices = []
    for dev in list(usb.core.find(find_all=True, backend=backend))[:256]:
        classes: list[int] = []
        try:
            for config in dev:
                classes += [intf.bInterfaceClass for intf in config][:32]
        except (usb.core.USBError, ValueError, NotImplementedError):
            classes = []
        ports = getattr(dev, "port_numbers", None) or ()
        known = vendor(dev.idVendor)
        devices.append(
            UsbDevice(
                vendor_id=dev.idVendor,
                product_id=dev.idProduct,
                bus=getattr(dev, "bus", None),
                address=getattr(dev, "address", None),
                path=".".join(map(str, ports)) or None,
                device_class=getattr(dev, "bDeviceClass", None),
                interface_classes=sorted(set(classes))[:32],
                vendor=known.name if known else None,
            )
        )
    return devices


async def _bounded(work: Callable[[], Any]) -> tuple[Any, str | None]:
    """Run a slow section with a timeout; (its result or None, the error as text or None)."""
    try:
        async with asyncio.timeout(SECTION_TIMEOUT):
            return await work(), None
    except Exception as exc:  # a diagnostics section never breaks the bundle
        return None, f"{type(exc).__name__}: {exc}"[:_TEXT_MAX]


def _printers(coordinators: Iterable[PrinterCoordinator]) -> list[PrinterDiagnostics]:
    return [
        PrinterDiagnostics(
            printer=c.snapshot(), status_bytes=c.status_bytes, status_bytes_at=c.status_bytes_at
        )
        for c in list(coordinators)[:256]
    ]


def _timings(report: ScanReport | None) -> list[DiscoveryTiming]:
    if report is None:
        return []
    return [
        DiscoveryTiming(
            source=str(source),
            seconds=round(seconds, 3),
            found=report.found.get(source),
            error=report.errors.get(source),
        )
        for source, seconds in list(report.seconds.items())[:16]
    ]


async def collect(
    *,
    agent_id: str,
    settings: AgentSettings,
    token: str | None,
    coordinators: Iterable[PrinterCoordinator],
    last_scan: ScanReport | None,
    link: LinkInfo | None,
    usb_backend: Any = None,
    extra_secrets: Iterable[str] = (),
) -> DiagnosticsBundle:
    """The bundle, redacted and within MAX_BUNDLE_BYTES (oldest log lines dropped first)."""
    usb_devices, usb_error = (
        await _bounded(lambda: asyncio.to_thread(usb_tree, usb_backend))
        if settings.usb
        else ([], "USB discovery is off in the settings")
    )
    queues, queues_error = (
        await _bounded(discover_queues)
        if settings.queues
        else ([], "OS queues are off in the settings")
    )
    raw = DiagnosticsBundle(
        collected_at=datetime.now(UTC),
        agent_id=agent_id,
        version=__version__,
        hostname=settings.hostname[:200],
        os=f"{platform.system()} {platform.release()} {platform.machine()}".strip()[:200],
        python=sys.version.split()[0],
        settings=settings_view(settings),
        link=link,
        logs=_log_lines(logs.RECENT.lines()),
        usb=usb_devices or [],
        usb_error=usb_error,
        queues=(queues or [])[:256],
        queues_error=queues_error,
        printers=_printers(coordinators),
        discovery=_timings(last_scan),
    )
    redactor = Redactor(secrets_of(settings, token, extra_secrets))
    return fit(DiagnosticsBundle.model_validate(redactor.deep(raw.to_wire())))


def fit(bundle: DiagnosticsBundle, limit: int = MAX_BUNDLE_BYTES) -> DiagnosticsBundle:
    """The bundle with the oldest log lines left out until its JSON fits ``limit`` bytes."""
    size = len(json.dumps(bundle.to_wire(), default=str).encode())
    lines = list(bundle.logs)
    while size > limit and lines:
        lines = lines[len(lines) // 4 + 1 :]
        bundle = bundle.model_copy(update={"logs": lines, "truncated": True})
        size = len(json.dumps(bundle.to_wire(), default=str).encode())
    return bundle
