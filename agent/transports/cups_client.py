"""The few IPP operations the agent needs from a CUPS scheduler, through pyipp over aiohttp.

pyipp encodes and parses the IPP messages; this module picks the operations (Print-Job with
``application/vnd.cups-raw``, Get-Job-Attributes, Cancel-Job, Get-Printer-Attributes,
CUPS-Get-Printers), reaches the server over TCP or its domain socket, bounds every call with
its own timeout (pyipp's covers the request but not the body read), and translates every
failure once, here, into the agent's TransportError types.

Why pyipp and not pycups: pycups is a C extension that builds only where libcups' headers
and a compiler are installed, which a till's ``pipx install chit`` does not have; its calls
block without a timeout of their own. pyipp is pure Python, asyncio-native, and maintained
(Home Assistant's IPP integration uses it). Why not ``lp``: it prints no job state, needs
cups-client installed, and its errors are text for people.
"""

from __future__ import annotations

import asyncio
import getpass
import logging
from collections.abc import Mapping
from typing import Any

import aiohttp
from pyipp import IPP
from pyipp.enums import IppOperation
from pyipp.exceptions import IPPConnectionError, IPPError, IPPResponseError
from pyipp.parser import parse as parse_ipp

from agent.transports.base import clamp_timeout
from agent.transports.cups_server import CupsServer
from agent.transports.errors import (
    AccessDenied,
    PrinterNotFound,
    TransportError,
    TransportTimeout,
)

log = logging.getLogger(__name__)

RAW_FORMAT = "application/vnd.cups-raw"
DEFAULT_CALL_TIMEOUT = 5.0

PRINTER_ATTRIBUTES = [
    "printer-name",
    "printer-state",
    "printer-state-reasons",
    "printer-state-message",
    "printer-is-accepting-jobs",
    "printer-make-and-model",
    "printer-info",
    "printer-location",
    "device-uri",
    "printer-type",
]
JOB_ATTRIBUTES = [
    "job-id",
    "job-state",
    "job-state-reasons",
    "job-state-message",
    "job-printer-state-message",
]

# IPP status codes (RFC 8011 section 13.1 and CUPS' extensions) with their own meaning here.
_NOT_FOUND = 0x0406
_ACCESS = {0x0401, 0x0402, 0x0403}
_NOT_ACCEPTING = 0x0506
_BUSY = 0x0507
_JOB_CANCELED = 0x0508
_FORMAT_UNSUPPORTED = 0x040A


def _user() -> str:
    """The requesting user name CUPS records on jobs (it decides who may cancel them)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "chit-agent"


def status_error(status: int, message: str, where: str) -> TransportError:
    """The TransportError for an IPP status code that is not success."""
    said = f": {message}" if message else ""
    if status == _NOT_FOUND:
        return PrinterNotFound(f"{where} does not exist on the CUPS server{said}")
    if status in _ACCESS:
        return AccessDenied(f"CUPS refused access to {where}{said}")
    if status == _NOT_ACCEPTING:
        return TransportError(
            f"{where} is not accepting jobs{said}; accept them again with `cupsaccept`",
            code="printer_offline",
        )
    if status == _BUSY:
        return TransportError(f"the CUPS server is busy{said}", code="device_busy")
    if status == _JOB_CANCELED:
        return TransportError(f"the job on {where} was cancelled{said}", code="job_cancelled")
    if status == _FORMAT_UNSUPPORTED:
        return TransportError(
            f"{where} does not take raw jobs{said}: make it a raw queue", code="queue_not_raw"
        )
    return TransportError(f"CUPS answered {status:#06x} for {where}{said}", code="cups_error")


def _http_error(exc: IPPResponseError, where: str) -> TransportError:
    """The TransportError for an HTTP failure status from the server."""
    info = exc.args[1] if len(exc.args) > 1 and isinstance(exc.args[1], dict) else {}
    code = info.get("status-code")
    if code in (401, 403):
        return AccessDenied(f"CUPS refused access to {where} (HTTP {code})")
    if code == 404:
        return PrinterNotFound(f"{where} does not exist on the CUPS server (HTTP 404)")
    return TransportError(f"CUPS failed for {where}: {exc.args[0]}", code="cups_error")


class CupsClient:
    """One CUPS server: an aiohttp session and the IPP operations, each bounded in time."""

    def __init__(self, server: CupsServer, *, call_timeout: float = DEFAULT_CALL_TIMEOUT) -> None:
        self.server = server
        self.call_timeout = call_timeout
        self.user = _user()
        self._session: aiohttp.ClientSession | None = None

    def describe(self) -> str:
        """The server, for messages."""
        return f"CUPS at {self.server.describe()}"

    async def close(self) -> None:
        """Close the HTTP session."""
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def printers(self) -> list[dict[str, Any]]:
        """Every queue with :data:`PRINTER_ATTRIBUTES` (CUPS-Get-Printers)."""
        message = {"operation-attributes-tag": {"requested-attributes": PRINTER_ATTRIBUTES}}
        reply = await self._call("/", IppOperation.CUPS_GET_PRINTERS, message, self.describe())
        return [p for p in reply.get("printers", []) if p.get("printer-name")]

    async def printer(self, queue: str) -> dict[str, Any]:
        """One queue's attributes (Get-Printer-Attributes)."""
        message = {"operation-attributes-tag": {"requested-attributes": PRINTER_ATTRIBUTES}}
        reply = await self._call(
            _path(queue), IppOperation.GET_PRINTER_ATTRIBUTES, message, _where(queue)
        )
        printers = reply.get("printers") or [{}]
        return dict(printers[0])

    async def print_raw(self, queue: str, data: bytes, job_name: str) -> int:
        """Submit ``data`` as one raw job (Print-Job); its job id."""
        message = {
            "operation-attributes-tag": {
                "job-name": job_name[:255],
                "document-format": RAW_FORMAT,
            },
            "data": data,
        }
        reply = await self._call(_path(queue), IppOperation.PRINT_JOB, message, _where(queue))
        jobs = reply.get("jobs") or [{}]
        job_id = jobs[0].get("job-id")
        if not isinstance(job_id, int):
            raise TransportError(f"CUPS gave no job id for {_where(queue)}", code="cups_error")
        return job_id

    async def job(self, queue: str, job_id: int) -> dict[str, Any]:
        """One job's state (Get-Job-Attributes)."""
        message = {
            "operation-attributes-tag": {"job-id": job_id, "requested-attributes": JOB_ATTRIBUTES}
        }
        where = f"job {job_id} on {_where(queue)}"
        reply = await self._call(_path(queue), IppOperation.GET_JOB_ATTRIBUTES, message, where)
        jobs = reply.get("jobs") or [{}]
        return dict(jobs[0])

    async def cancel(self, queue: str, job_id: int) -> None:
        """Cancel one job (Cancel-Job)."""
        message = {"operation-attributes-tag": {"job-id": job_id}}
        where = f"job {job_id} on {_where(queue)}"
        await self._call(_path(queue), IppOperation.CANCEL_JOB, message, where)

    async def _call(
        self, path: str, operation: IppOperation, message: Mapping[str, Any], where: str
    ) -> dict[str, Any]:
        """One IPP request, bounded, with its failure translated; the parsed reply."""
        ipp = IPP(
            host=self.server.http_host.strip("[]"),
            port=self.server.port,
            base_path=path,
            session=self._http(),
            request_timeout=int(max(1, self.call_timeout)),
        )
        # IPP's naturalLanguage is lower case (RFC 8011 5.1.10): CUPS refuses pyipp's "en-US".
        body: dict[str, Any] = {
            "operation-attributes-tag": {
                "attributes-natural-language": "en-us",
                "requesting-user-name": self.user,
            },
            **{k: v for k, v in message.items() if k != "operation-attributes-tag"},
        }
        body["operation-attributes-tag"].update(message.get("operation-attributes-tag", {}))
        try:
            async with asyncio.timeout(clamp_timeout(self.call_timeout)):
                raw = await ipp.raw(operation, body)
        except TimeoutError:
            raise TransportTimeout(
                f"{self.describe()} did not answer within {self.call_timeout:g} s ({where})"
            ) from None
        except IPPConnectionError as exc:
            raise PrinterNotFound(
                f"cannot reach {self.describe()} ({where}): is cupsd running? {exc}"
            ) from exc
        except IPPResponseError as exc:
            raise _http_error(exc, where) from exc
        except (IPPError, aiohttp.ClientError, OSError) as exc:
            raise TransportError(
                f"{self.describe()} failed ({where}): {exc}", code="cups_error"
            ) from exc
        return _checked(raw, where)

    def _http(self) -> aiohttp.ClientSession:
        """The session, over the domain socket when the server is one."""
        if self._session is None or self._session.closed:
            socket_path = self.server.socket_path
            connector = aiohttp.UnixConnector(path=socket_path) if socket_path else None
            self._session = aiohttp.ClientSession(connector=connector)
        return self._session


def _checked(raw: bytes, where: str) -> dict[str, Any]:
    """The parsed reply, or the TransportError its status code means."""
    try:
        reply: dict[str, Any] = parse_ipp(raw)
    except Exception as exc:  # pyipp's parser raises struct and index errors on bad input
        raise TransportError(
            f"CUPS sent a reply that does not parse ({where})", code="cups_error"
        ) from exc
    status = int(reply.get("status-code", 0xFFFF))
    if status >= 0x0200:
        attrs = reply.get("operation-attributes") or {}
        raise status_error(status, str(attrs.get("status-message") or ""), where)
    return reply


def _path(queue: str) -> str:
    """The resource of a queue."""
    return f"/printers/{queue}"  # yarl percent-encodes what needs it


def _where(queue: str) -> str:
    """A queue, for messages."""
    return f"print queue {queue!r}"
