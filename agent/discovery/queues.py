"""OS print queues (CUPS, the Windows spooler) as printers, and one entry per physical printer.

Each queue is a candidate with its own stable id, built from the queue's name and its device
(CUPS ``device-uri``, Windows port): ``cups:<name>:<device>`` or ``win:<name>:<port>``, with
characters an id cannot hold replaced and a short hash added when that changed anything. A
queue re-pointed at another device is another printer.

Queues whose driver or model looks like a receipt printer's (Epson TM, Star, Bixolon,
Citizen, Xprinter/POS-58/80, "Generic / Text Only", raw queues) are marked ``receipt``.

:func:`reconcile` makes sure a physical printer is listed once:

* a USB printer that has an OS queue is held by the OS (its driver, or CUPS' usb backend,
  and every program printing through the queue): it is listed once, as its queue (the
  queue's id and path), with the direct path offered as the alternative;
* a network printer found both directly (sweep, mDNS, by hand) and as a queue
  (``socket://host:port``, a Windows ``IP_host`` port) keeps its direct id and the direct
  path, which reads status from the hardware; the queue is offered as the alternative;
* two queues on the same device are one printer (the receipt-looking one).

The path in use is ``path``; ``paths`` lists the ways found. ``printer_paths`` settings
(``PRINTER_ID=direct|queue``) change it; the id stays the same either way.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from agent.discovery.network import normalize_host
from agent.transports.cups_client import CupsClient
from agent.transports.cups_server import CupsServer, find_server
from agent.transports.errors import PrinterNotFound, TransportError
from agent.transports.tcp import DEFAULT_PORT
from agent.transports.winspool import is_bidirectional
from agent.transports.winspool_api import SpoolerApi, spooler_api
from shared.printers import (
    Connection,
    DiscoverySource,
    PrinterInfo,
    PrintPath,
    QueueInfo,
)

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SCAN_TIMEOUT = 5.0
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-]")
_ID_PART = 80
RECEIPT = re.compile(
    r"\bTM[- ]?[A-Z]?\d|\bEpson TM|\bStar\b|\bTSP\s?\d|\bSP\s?7\d\d|\bmC-Print|\bmPOP|"
    r"\bBixolon|\bSRP-|\bCitizen|\bCT-S\d|\bCBM|\bPOS-?(58|80)|\bXP-?(58|80)|Xprinter|"
    r"Generic\s*/\s*Text Only|Local Raw Printer|\bRaw\b|Receipt|Thermal",
    re.IGNORECASE,
)
_WINDOWS_IP_PORT = re.compile(r"^(?:IP_)?(\d{1,3}(?:\.\d{1,3}){3})(?:_\d+)?$")
_NO_DEVICE = {"", "file:", "nul", "nul:", "file:/dev/null", "file:///dev/null"}


def looks_like_receipt_printer(*names: str | None) -> bool:
    """Whether a driver, model or queue name looks like a receipt printer's."""
    return any(name and RECEIPT.search(name) for name in names)


def is_queue_id(printer_id: str) -> bool:
    """Whether an id is a queue's own (``cups:...``, ``win:...``)."""
    return printer_id.startswith(("cups:", "win:"))


def _safe(text: str) -> str:
    """``text`` as an id part: unsafe characters replaced, length bounded."""
    return _ID_UNSAFE.sub("_", text)[:_ID_PART]


def queue_printer_id(system: str, name: str, device: str | None) -> str:
    """``cups:<name>:<device>`` / ``win:<name>:<port>``, stable for that queue and device."""
    prefix = "cups" if system == "cups" else "win"
    raw_name, raw_device = name, device or "none"
    safe_name, safe_device = _safe(raw_name), _safe(raw_device)
    printer_id = f"{prefix}:{safe_name}:{safe_device}"
    if (safe_name, safe_device) != (raw_name, raw_device):
        digest = hashlib.sha256(f"{raw_name}\0{raw_device}".encode()).hexdigest()[:8]
        printer_id += f"-{digest}"
    return printer_id


def _usb_fields(uri: str) -> dict[str, Any]:
    """Make and serial from ``usb://EPSON/TM-T20III?serial=X123``."""
    parts = urlsplit(uri)
    serial = parse_qs(parts.query).get("serial", [None])[0]
    return {
        "connection": Connection.USB,
        "manufacturer": unquote(parts.netloc) or None,
        "model": unquote(parts.path.strip("/")) or None,
        "serial": serial,
    }


def _socket_fields(host: str | None, port: int | None) -> dict[str, Any]:
    """A network device's host and port."""
    if not host:
        return {"connection": Connection.QUEUE}
    return {
        "connection": Connection.NETWORK,
        "host": normalize_host(host),
        "port": port or DEFAULT_PORT,
    }


def cups_device_fields(uri: str | None) -> dict[str, Any]:
    """What a CUPS device URI says about the physical printer."""
    if not uri:
        return {"connection": Connection.QUEUE}
    scheme = uri.split(":", 1)[0].lower()
    if scheme == "usb":
        return _usb_fields(uri)
    if scheme == "socket":
        parts = urlsplit(uri)
        return _socket_fields(parts.hostname, parts.port)
    return {"connection": Connection.QUEUE}


def windows_port_fields(port: str | None) -> dict[str, Any]:
    """What a Windows port name says about the physical printer."""
    if not port:
        return {"connection": Connection.QUEUE}
    if port.upper().startswith("USB"):
        return {"connection": Connection.USB}
    if match := _WINDOWS_IP_PORT.match(port):
        return _socket_fields(match[1], DEFAULT_PORT)
    return {"connection": Connection.QUEUE}


def _candidate(
    queue: QueueInfo, path: PrintPath, label: str | None, fields: dict[str, Any]
) -> PrinterInfo:
    """The PrinterInfo of one queue."""
    return PrinterInfo(
        printer_id=queue_printer_id(queue.system, queue.name, queue.device),
        name=(label or queue.name)[:200],
        source=DiscoverySource.QUEUE,
        queue=queue,
        path=path,
        paths=[path],
        **fields,
    )


def cups_candidate(attrs: Mapping[str, Any]) -> PrinterInfo:
    """The candidate for one CUPS queue's attributes."""
    name = str(attrs["printer-name"])
    uri = str(attrs.get("device-uri") or "") or None
    driver = str(attrs.get("printer-make-and-model") or "") or None
    queue = QueueInfo(
        system="cups",
        name=name[:200],
        device=uri[:200] if uri else None,
        driver=driver[:200] if driver else None,
        receipt=looks_like_receipt_printer(driver, name, str(attrs.get("printer-info") or "")),
    )
    label = str(attrs.get("printer-info") or "") or None
    return _candidate(queue, PrintPath.CUPS, label, cups_device_fields(uri))


def windows_candidate(info: Mapping[str, Any], ports: tuple[dict[str, Any], ...]) -> PrinterInfo:
    """The candidate for one Windows printer's PRINTER_INFO_2."""
    name, port = str(info["pPrinterName"]), str(info.get("pPortName") or "") or None
    driver = str(info.get("pDriverName") or "") or None
    queue = QueueInfo(
        system="windows",
        name=name[:200],
        device=port[:200] if port else None,
        driver=driver[:200] if driver else None,
        receipt=looks_like_receipt_printer(driver, name),
        bidirectional=is_bidirectional(dict(info), ports),
    )
    return _candidate(queue, PrintPath.SPOOLER, None, windows_port_fields(port))


async def discover_cups(
    server: CupsServer | None = None, timeout: float = DEFAULT_QUEUE_SCAN_TIMEOUT
) -> list[PrinterInfo]:
    """Every CUPS queue; none when this machine has no CUPS (nothing configured or listening).

    A configured server that does not answer raises (so its queues are not counted missed).
    """
    where = server or find_server()
    client = CupsClient(where, call_timeout=timeout)
    try:
        queues = await client.printers()
    except PrinterNotFound:
        if not where.configured:
            return []
        raise
    finally:
        await client.close()
    return [cups_candidate(q) for q in queues]


async def discover_windows(
    api: SpoolerApi | None = None, timeout: float = DEFAULT_QUEUE_SCAN_TIMEOUT
) -> list[PrinterInfo]:
    """Every local and connected Windows printer; none without a Windows spooler."""
    spooler = api or spooler_api()
    if spooler is None:
        return []
    w = spooler.win32print

    def enumerate_blocking() -> tuple[tuple[Any, ...], tuple[dict[str, Any], ...]]:
        flags = w.PRINTER_ENUM_LOCAL | w.PRINTER_ENUM_CONNECTIONS
        return tuple(w.EnumPrinters(flags, None, 2)), tuple(w.EnumPorts(None, 2))

    async with asyncio.timeout(timeout):
        try:
            printers, ports = await asyncio.to_thread(enumerate_blocking)
        except spooler.error as exc:
            raise TransportError(f"listing the Windows printers failed: {exc}") from exc
    return [windows_candidate(p, ports) for p in printers]


async def discover_queues(
    *, cups_server: CupsServer | None = None, cups: bool = True, windows: bool = True
) -> list[PrinterInfo]:
    """The OS queues of this machine: CUPS where it runs, the Windows spooler on Windows."""
    found: list[PrinterInfo] = []
    if windows:
        found += await discover_windows()
    if cups and spooler_api() is None:
        found += await discover_cups(cups_server)
    return found


# --- one entry per physical printer ---------------------------------------------------------


def _device_key(info: PrinterInfo) -> str | None:
    """The device a queue prints to, for finding two queues on one device."""
    device = (info.queue.device or "") if info.queue else ""
    return None if device.lower() in _NO_DEVICE else f"{info.queue.system}:{device}"  # type: ignore[union-attr]


def _words(text: str | None) -> set[str]:
    """Lower-case alphanumeric words of ``text``."""
    return set(re.findall(r"[a-z0-9]+", (text or "").lower()))


def _same_usb(queue: PrinterInfo, usb: PrinterInfo) -> bool:
    """Whether a USB queue prints to this directly found USB printer."""
    if queue.serial and usb.serial:
        return queue.serial == usb.serial
    maker = _words(usb.manufacturer)
    described = _words(queue.manufacturer) | _words(queue.queue.driver if queue.queue else None)
    described |= _words(queue.name) | _words(queue.model)
    if not maker or not maker & described:
        return False
    model = _words(usb.model) - maker
    return not model or bool(model & described)


def _same_printer(queue: PrinterInfo, direct: PrinterInfo) -> bool:
    """Whether a queue and a directly found printer are one physical printer."""
    if queue.connection is Connection.NETWORK and direct.connection is Connection.NETWORK:
        return (queue.host, queue.port) == (direct.host, direct.port)
    if queue.connection is Connection.USB and direct.connection is Connection.USB:
        return _same_usb(queue, direct)
    return False


def _match(queue: PrinterInfo, directs: Sequence[PrinterInfo]) -> PrinterInfo | None:
    """The one direct printer this queue is (None when none, or when several could be)."""
    matches = [d for d in directs if _same_printer(queue, d)]
    return matches[0] if len(matches) == 1 else None


def parse_path_choices(entries: Iterable[str]) -> dict[str, str]:
    """``{printer_id: "direct"|"queue"}`` from ``PRINTER_ID=direct`` settings entries."""
    choices: dict[str, str] = {}
    for entry in entries:
        printer_id, _, choice = entry.rpartition("=")
        if printer_id and choice.strip().lower() in ("direct", "queue", "cups", "spooler"):
            choices[printer_id.strip()] = choice.strip().lower()
    return choices


def _choose(info: PrinterInfo, choices: Mapping[str, str]) -> PrinterInfo:
    """Apply the person's path choice when it names a path this printer has."""
    paths = info.paths or [PrintPath.DIRECT]
    wanted = choices.get(info.printer_id)
    queue_path = next((p for p in paths if p is not PrintPath.DIRECT), None)
    chosen = {"direct": PrintPath.DIRECT, "queue": queue_path}.get(wanted or "")
    chosen = chosen or (PrintPath(wanted) if wanted in ("cups", "spooler") else None)
    if chosen is None or chosen not in paths:
        return info
    return info.model_copy(update={"path": chosen})


def _dedupe_queues(queues: list[PrinterInfo]) -> list[PrinterInfo]:
    """One queue per device: the receipt-looking one first, else the first listed."""
    kept: dict[str, PrinterInfo] = {}
    alone: list[PrinterInfo] = []
    for queue in sorted(queues, key=lambda q: not (q.queue and q.queue.receipt)):
        key = _device_key(queue)
        if key is None:
            alone.append(queue)
        else:
            kept.setdefault(key, queue)
    return [*kept.values(), *alone]


def reconcile(
    found: Sequence[PrinterInfo],
    known: Mapping[str, PrinterInfo] | None = None,
    choices: Mapping[str, str] | None = None,
) -> list[PrinterInfo]:
    """One candidate per physical printer (per source), paths and choices applied.

    ``known`` (the tracker's printers) lets a queue find its direct twin when this scan's
    direct method failed, so the printer does not show up twice for a scan.
    """
    queues = _dedupe_queues([p for p in found if p.source is DiscoverySource.QUEUE])
    directs = [p for p in found if p.source is not DiscoverySource.QUEUE]
    pool = {p.printer_id: p for p in (known or {}).values() if not is_queue_id(p.printer_id)}
    pool.update({p.printer_id: p for p in directs})
    twins: dict[str, PrinterInfo] = {}
    dropped: set[str] = set()
    result_queues: list[PrinterInfo] = []
    for queue in queues:
        direct = _match(queue, [p for p in pool.values() if p.printer_id not in dropped])
        if direct is None:
            result_queues.append(queue)
        elif direct.connection is Connection.USB:
            dropped.add(direct.printer_id)
            result_queues.append(_held_by_os(queue, direct))
        else:
            twins[direct.printer_id] = queue
            result_queues.append(_queue_of(direct, queue))
    merged = [_with_queue(d, twins[d.printer_id]) if d.printer_id in twins else d for d in directs]
    everything = [d for d in merged if d.printer_id not in dropped] + result_queues
    return [_choose(p, choices or {}) for p in everything]


def _held_by_os(queue: PrinterInfo, usb: PrinterInfo) -> PrinterInfo:
    """A USB printer the OS holds: its queue, with the USB identity and the direct path."""
    assert queue.path is not None
    return queue.model_copy(
        update={
            "vendor_id": usb.vendor_id,
            "product_id": usb.product_id,
            "serial": queue.serial or usb.serial,
            "usb_path": usb.usb_path,
            "manufacturer": usb.manufacturer or queue.manufacturer,
            "model": usb.model or queue.model,
            "profile": usb.profile,
            "paper_width_mm": usb.paper_width_mm,
            "paths": [queue.path, PrintPath.DIRECT],
        }
    )


def _paths(queue: PrinterInfo) -> list[PrintPath]:
    """Direct first, then the queue's path."""
    return [PrintPath.DIRECT, queue.path or PrintPath.CUPS]


def _with_queue(direct: PrinterInfo, queue: PrinterInfo) -> PrinterInfo:
    """A direct printer that also has an OS queue: direct by default."""
    return direct.model_copy(
        update={"queue": queue.queue, "path": PrintPath.DIRECT, "paths": _paths(queue)}
    )


def _queue_of(direct: PrinterInfo, queue: PrinterInfo) -> PrinterInfo:
    """The queue's candidate under its direct twin's id, so the two merge into one printer."""
    return queue.model_copy(
        update={
            "printer_id": direct.printer_id,
            "connection": direct.connection,
            "path": PrintPath.DIRECT,
            "paths": _paths(queue),
        }
    )
