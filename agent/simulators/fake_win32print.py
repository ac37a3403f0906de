"""A fake ``win32print``: pywin32's functions, constants and errors, a fake spooler behind them.

Built from the Win32 spooler API's published behaviour (OpenPrinter, StartDocPrinter,
WritePrinter, EndDocPrinter, GetJob, SetJob, EnumJobs, GetPrinter, SetPrinter, EnumPrinters,
EnumPorts) and pywin32's shapes for it (PRINTER_INFO_2 and JOB_INFO_1 as dicts with the
struct's field names, ``pywintypes.error(winerror, funcname, strerror)``). ``ReadPrinter``,
which pywin32 lacks and the agent calls through ctypes, is here too.

The spooler: printers on ports; a RAW job is despooled when EndDocPrinter ends it (at once,
unless the queue is paused: then when it is resumed), its bytes fed to the printer's
:class:`~agent.simulators.brain.PrinterBrain` when it has one (``FILE:`` and ``nul`` ports
have none). Printed jobs leave the queue; cancelled ones show ``JOB_STATUS_DELETING`` for
``deleting_for`` seconds first, as the real spooler does while it deletes. On a port whose
type includes ``PORT_TYPE_READ`` of a printer with ``PRINTER_ATTRIBUTE_ENABLE_BIDI``, the
brain's replies (``DLE EOT`` answers) are kept for ``ReadPrinter``; elsewhere ReadPrinter
fails with ``ERROR_NOT_SUPPORTED``, as it does on a one-way port.

Use :func:`install` to make it the agent's spooler; it returns the :class:`FakeSpooler`.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from agent.simulators.brain import PrinterBrain
from agent.transports.winspool_api import SpoolerApi, use_spooler

# --- constants (winspool.h), the subset of pywin32's that the agent and the tests use -------
PRINTER_ENUM_DEFAULT = 0x1
PRINTER_ENUM_LOCAL = 0x2
PRINTER_ENUM_CONNECTIONS = 0x4
PRINTER_ENUM_NAME = 0x8
PRINTER_ENUM_SHARED = 0x20
PRINTER_ENUM_NETWORK = 0x40

PRINTER_CONTROL_PAUSE = 1
PRINTER_CONTROL_RESUME = 2
PRINTER_CONTROL_PURGE = 3
PRINTER_CONTROL_SET_STATUS = 4

PRINTER_STATUS_PAUSED = 0x1
PRINTER_STATUS_ERROR = 0x2
PRINTER_STATUS_PENDING_DELETION = 0x4
PRINTER_STATUS_PAPER_JAM = 0x8
PRINTER_STATUS_PAPER_OUT = 0x10
PRINTER_STATUS_MANUAL_FEED = 0x20
PRINTER_STATUS_PAPER_PROBLEM = 0x40
PRINTER_STATUS_OFFLINE = 0x80
PRINTER_STATUS_IO_ACTIVE = 0x100
PRINTER_STATUS_BUSY = 0x200
PRINTER_STATUS_PRINTING = 0x400
PRINTER_STATUS_OUTPUT_BIN_FULL = 0x800
PRINTER_STATUS_NOT_AVAILABLE = 0x1000
PRINTER_STATUS_WAITING = 0x2000
PRINTER_STATUS_PROCESSING = 0x4000
PRINTER_STATUS_INITIALIZING = 0x8000
PRINTER_STATUS_WARMING_UP = 0x10000
PRINTER_STATUS_TONER_LOW = 0x20000
PRINTER_STATUS_NO_TONER = 0x40000
PRINTER_STATUS_PAGE_PUNT = 0x80000
PRINTER_STATUS_USER_INTERVENTION = 0x100000
PRINTER_STATUS_OUT_OF_MEMORY = 0x200000
PRINTER_STATUS_DOOR_OPEN = 0x400000
PRINTER_STATUS_SERVER_UNKNOWN = 0x800000
PRINTER_STATUS_POWER_SAVE = 0x1000000

PRINTER_ATTRIBUTE_QUEUED = 0x1
PRINTER_ATTRIBUTE_DIRECT = 0x2
PRINTER_ATTRIBUTE_DEFAULT = 0x4
PRINTER_ATTRIBUTE_SHARED = 0x8
PRINTER_ATTRIBUTE_NETWORK = 0x10
PRINTER_ATTRIBUTE_LOCAL = 0x40
PRINTER_ATTRIBUTE_WORK_OFFLINE = 0x400
PRINTER_ATTRIBUTE_ENABLE_BIDI = 0x800
PRINTER_ATTRIBUTE_RAW_ONLY = 0x1000

JOB_STATUS_PAUSED = 0x1
JOB_STATUS_ERROR = 0x2
JOB_STATUS_DELETING = 0x4
JOB_STATUS_SPOOLING = 0x8
JOB_STATUS_PRINTING = 0x10
JOB_STATUS_OFFLINE = 0x20
JOB_STATUS_PAPEROUT = 0x40
JOB_STATUS_PRINTED = 0x80
JOB_STATUS_DELETED = 0x100
JOB_STATUS_BLOCKED_DEVQ = 0x200
JOB_STATUS_USER_INTERVENTION = 0x400
JOB_STATUS_RESTART = 0x800
JOB_STATUS_COMPLETE = 0x1000

JOB_CONTROL_PAUSE = 1
JOB_CONTROL_RESUME = 2
JOB_CONTROL_CANCEL = 3
JOB_CONTROL_RESTART = 4
JOB_CONTROL_DELETE = 5

PORT_TYPE_WRITE = 0x1
PORT_TYPE_READ = 0x2
PORT_TYPE_REDIRECTED = 0x4
PORT_TYPE_NET_ATTACHED = 0x8

PRINTER_ACCESS_ADMINISTER = 0x4
PRINTER_ACCESS_USE = 0x8

# Win32 error codes the fake raises.
ERROR_ACCESS_DENIED = 5
ERROR_INVALID_HANDLE = 6
ERROR_NOT_SUPPORTED = 50
ERROR_INVALID_PARAMETER = 87
ERROR_INVALID_PRINTER_NAME = 1801
ERROR_INVALID_DATATYPE = 1804


class error(Exception):
    """Like ``pywintypes.error``: ``(winerror, funcname, strerror)``."""

    def __init__(self, winerror: int, funcname: str, strerror: str) -> None:
        super().__init__(winerror, funcname, strerror)
        self.winerror = winerror
        self.funcname = funcname
        self.strerror = strerror


_MESSAGES = {
    ERROR_ACCESS_DENIED: "Access is denied.",
    ERROR_INVALID_HANDLE: "The handle is invalid.",
    ERROR_NOT_SUPPORTED: "The request is not supported.",
    ERROR_INVALID_PARAMETER: "The parameter is incorrect.",
    ERROR_INVALID_PRINTER_NAME: "The printer name is invalid.",
    ERROR_INVALID_DATATYPE: "The specified datatype is invalid.",
}


def _fail(code: int, funcname: str) -> error:
    """The error a spooler call raises."""
    return error(code, funcname, _MESSAGES.get(code, "Unknown error."))


@dataclass
class FakePort:
    """A port: its monitor and whether it reads back (``PORT_TYPE_READ``)."""

    name: str
    monitor: str = "Local Port"
    description: str = "Local Port"
    port_type: int = PORT_TYPE_WRITE
    replies: bytearray = field(default_factory=bytearray)


@dataclass
class FakeJob:
    """A spooled job."""

    job_id: int
    printer: str
    document: str
    datatype: str
    user: str = "chit"
    data: bytearray = field(default_factory=bytearray)
    status: int = JOB_STATUS_SPOOLING
    ended: bool = False
    deleting_until: float | None = None


@dataclass
class FakePrinter:
    """A printer (queue) on a port, with a simulated device behind it or none."""

    name: str
    port: str
    driver: str = "Generic / Text Only"
    brain: PrinterBrain | None = None
    status: int = 0
    attributes: int = PRINTER_ATTRIBUTE_LOCAL | PRINTER_ATTRIBUTE_QUEUED
    comment: str = ""
    location: str = ""
    jobs: dict[int, FakeJob] = field(default_factory=dict)


@dataclass
class FakeHandle:
    """A handle from OpenPrinter: to a printer, or to one job (``"Name, Job 7"``)."""

    printer: str
    job_id: int | None = None
    doc_job: int | None = None
    closed: bool = False

    def __int__(self) -> int:
        return id(self)


class FakeSpooler:
    """The spooler behind the fake module: printers, ports and jobs, thread-safe."""

    def __init__(self, *, deleting_for: float = 1.0) -> None:
        self.printers: dict[str, FakePrinter] = {}
        self.ports: dict[str, FakePort] = {
            "FILE:": FakePort("FILE:", description="Print to File"),
            "nul": FakePort("nul", description="Local Port"),
        }
        self.deleting_for = deleting_for
        self.lock = threading.RLock()
        self.next_job = 1
        self.read_calls = 0

    def add_port(
        self, name: str, *, monitor: str = "USB Monitor", bidirectional: bool = False
    ) -> None:
        """A port; USB ports are usually bidirectional."""
        kind = PORT_TYPE_WRITE | (PORT_TYPE_READ if bidirectional else 0)
        self.ports[name] = FakePort(name, monitor, f"{monitor} port", kind)

    def add_printer(
        self,
        name: str,
        port: str = "nul",
        *,
        driver: str = "Generic / Text Only",
        brain: PrinterBrain | None = None,
        bidi: bool = False,
    ) -> FakePrinter:
        """A printer (``Add-Printer -Name name -PortName port -DriverName driver``)."""
        if port not in self.ports:
            self.add_port(port, monitor="Local Port")
        printer = FakePrinter(name, port, driver, brain)
        if bidi:
            printer.attributes |= PRINTER_ATTRIBUTE_ENABLE_BIDI
        with self.lock:
            self.printers[name] = printer
        return printer

    def printer(self, name: str, funcname: str = "OpenPrinter") -> FakePrinter:
        """A printer by name, or ERROR_INVALID_PRINTER_NAME."""
        found = self.printers.get(name)
        if found is None:
            raise _fail(ERROR_INVALID_PRINTER_NAME, funcname)
        return found

    def pause(self, name: str, paused: bool = True) -> None:
        """Pause or resume a queue (resuming despools what waits)."""
        with self.lock:
            printer = self.printer(name, "SetPrinter")
            if paused:
                printer.status |= PRINTER_STATUS_PAUSED
                return
            printer.status &= ~PRINTER_STATUS_PAUSED
            for job in list(printer.jobs.values()):
                if job.ended:
                    self._despool(printer, job)

    def cancel(self, name: str, job_id: int) -> None:
        """Cancel a job, as a person does from the queue window."""
        with self.lock:
            job = self._job(self.printer(name, "SetJob"), job_id, "SetJob")
            job.status |= JOB_STATUS_DELETING
            job.deleting_until = time.monotonic() + self.deleting_for

    def jobs(self, name: str) -> list[FakeJob]:
        """The jobs in a queue now (the cancelled ones still deleting included)."""
        with self.lock:
            printer = self.printer(name)
            self._expire(printer)
            return list(printer.jobs.values())

    def end_document(self, printer: FakePrinter, job: FakeJob) -> None:
        """The job is spooled: despool it unless the queue is paused."""
        job.ended = True
        job.status &= ~JOB_STATUS_SPOOLING
        if not printer.status & PRINTER_STATUS_PAUSED:
            self._despool(printer, job)

    def _despool(self, printer: FakePrinter, job: FakeJob) -> None:
        """Send a job to the port; printed jobs leave the queue."""
        if job.status & JOB_STATUS_DELETING:
            return
        port = self.ports[printer.port]
        if printer.brain is not None:
            reply = printer.brain.receive(bytes(job.data))
            if port.port_type & PORT_TYPE_READ:
                port.replies += reply
        del printer.jobs[job.job_id]

    def _job(self, printer: FakePrinter, job_id: int, funcname: str) -> FakeJob:
        """A job of a printer, or ERROR_INVALID_PARAMETER (gone)."""
        self._expire(printer)
        job = printer.jobs.get(job_id)
        if job is None:
            raise _fail(ERROR_INVALID_PARAMETER, funcname)
        return job

    def _expire(self, printer: FakePrinter) -> None:
        """Cancelled jobs whose deletion is over leave the queue."""
        now = time.monotonic()
        for job_id, job in list(printer.jobs.items()):
            if job.deleting_until is not None and job.deleting_until <= now:
                del printer.jobs[job_id]


_spooler = FakeSpooler()


def spooler() -> FakeSpooler:
    """The spooler the module's functions act on."""
    return _spooler


def install(fake: FakeSpooler | None = None) -> FakeSpooler:
    """Make a (new) fake spooler the agent's spooler; it is returned."""
    global _spooler
    _spooler = fake or FakeSpooler()
    use_spooler(SpoolerApi(sys.modules[__name__], error, ReadPrinter))
    return _spooler


def uninstall() -> None:
    """Give the agent its platform's spooler back."""
    use_spooler(None)


# --- the win32print functions ---------------------------------------------------------------


def _open(handle: FakeHandle, funcname: str) -> FakeHandle:
    """A handle that is still open, or ERROR_INVALID_HANDLE."""
    if not isinstance(handle, FakeHandle) or handle.closed:
        raise _fail(ERROR_INVALID_HANDLE, funcname)
    return handle


def OpenPrinter(printer: str, Defaults: dict[str, Any] | None = None) -> FakeHandle:
    """A handle to a printer, or to one job with ``"Name, Job 12"``."""
    name, _, job = printer.partition(", Job ")
    with _spooler.lock:
        _spooler.printer(name)
        if job:
            if not job.strip().isdigit():
                raise _fail(ERROR_INVALID_PRINTER_NAME, "OpenPrinter")
            return FakeHandle(name, job_id=int(job))
        return FakeHandle(name)


def ClosePrinter(hPrinter: FakeHandle) -> None:
    """Close a handle."""
    _open(hPrinter, "ClosePrinter").closed = True


def _info2(printer: FakePrinter) -> dict[str, Any]:
    """PRINTER_INFO_2 as pywin32 returns it."""
    return {
        "pServerName": None, "pPrinterName": printer.name, "pShareName": "",
        "pPortName": printer.port, "pDriverName": printer.driver, "pComment": printer.comment,
        "pLocation": printer.location, "pDevMode": None, "pSepFile": "",
        "pPrintProcessor": "winprint", "pDatatype": "RAW", "pParameters": "",
        "pSecurityDescriptor": None, "Attributes": printer.attributes, "Priority": 1,
        "DefaultPriority": 0, "StartTime": 0, "UntilTime": 0, "Status": printer.status,
        "cJobs": len(printer.jobs), "AveragePPM": 0,
    }  # fmt: skip


def GetPrinter(hPrinter: FakeHandle, Level: int = 2) -> dict[str, Any]:
    """PRINTER_INFO_2 (the only level the fake has)."""
    handle = _open(hPrinter, "GetPrinter")
    if Level != 2:
        raise NotImplementedError("the fake spooler has PRINTER_INFO_2 only")
    with _spooler.lock:
        printer = _spooler.printer(handle.printer, "GetPrinter")
        _spooler._expire(printer)
        return _info2(printer)


def SetPrinter(hPrinter: FakeHandle, Level: int, pPrinter: Any, Command: int) -> None:
    """Pause, resume or purge a queue."""
    handle = _open(hPrinter, "SetPrinter")
    if Command == PRINTER_CONTROL_PAUSE:
        _spooler.pause(handle.printer)
    elif Command == PRINTER_CONTROL_RESUME:
        _spooler.pause(handle.printer, paused=False)
    elif Command == PRINTER_CONTROL_PURGE:
        with _spooler.lock:
            _spooler.printer(handle.printer, "SetPrinter").jobs.clear()


def EnumPrinters(flags: int, name: str | None = None, level: int = 1) -> tuple[Any, ...]:
    """The local printers: tuples at level 1, PRINTER_INFO_2 dicts at level 2."""
    with _spooler.lock:
        printers = list(_spooler.printers.values())
        if level == 1:
            return tuple((0, p.name, p.name, p.comment) for p in printers)
        if level == 2:
            return tuple(_info2(p) for p in printers)
    raise NotImplementedError(f"the fake spooler has no level {level}")


def EnumPorts(pName: str | None, Level: int) -> tuple[dict[str, Any], ...]:
    """The ports: PORT_INFO_1 or PORT_INFO_2 dicts."""
    with _spooler.lock:
        ports = list(_spooler.ports.values())
    if Level == 1:
        return tuple({"Name": p.name} for p in ports)
    return tuple(
        {"Name": p.name, "MonitorName": p.monitor, "Description": p.description,
         "PortType": p.port_type, "Reserved": 0}
        for p in ports
    )  # fmt: skip


def GetDefaultPrinter() -> str:
    """The first printer's name."""
    with _spooler.lock:
        return next(iter(_spooler.printers), "")


def StartDocPrinter(hPrinter: FakeHandle, level: int, docinfo: tuple[Any, ...]) -> int:
    """Start a document (``(name, output_file, datatype)``); its job id."""
    handle = _open(hPrinter, "StartDocPrinter")
    document, _, datatype = docinfo
    if datatype not in (None, "RAW", "raw"):
        raise _fail(ERROR_INVALID_DATATYPE, "StartDocPrinter")
    with _spooler.lock:
        printer = _spooler.printer(handle.printer, "StartDocPrinter")
        job = FakeJob(_spooler.next_job, printer.name, str(document), str(datatype or "RAW"))
        _spooler.next_job += 1
        printer.jobs[job.job_id] = job
        handle.doc_job = job.job_id
        return job.job_id


def StartPagePrinter(hPrinter: FakeHandle) -> None:
    """Start a page (nothing to do for RAW data)."""
    _doc(hPrinter, "StartPagePrinter")


def EndPagePrinter(hPrinter: FakeHandle) -> None:
    """End a page."""
    _doc(hPrinter, "EndPagePrinter")


def _doc(handle: FakeHandle, funcname: str) -> FakeJob:
    """The document being written on a handle."""
    _open(handle, funcname)
    if handle.doc_job is None:
        raise _fail(ERROR_INVALID_HANDLE, funcname)
    with _spooler.lock:
        return _spooler._job(_spooler.printer(handle.printer, funcname), handle.doc_job, funcname)


def WritePrinter(hPrinter: FakeHandle, buf: bytes) -> int:
    """Append bytes to the document; how many were written."""
    with _spooler.lock:
        job = _doc(hPrinter, "WritePrinter")
        job.data += bytes(buf)
        return len(buf)


def EndDocPrinter(hPrinter: FakeHandle) -> None:
    """End the document: the job is spooled and despooled unless the queue is paused."""
    with _spooler.lock:
        job = _doc(hPrinter, "EndDocPrinter")
        _spooler.end_document(_spooler.printer(hPrinter.printer), job)
        hPrinter.doc_job = None


def AbortPrinter(hPrinter: FakeHandle) -> None:
    """Delete the document being written."""
    with _spooler.lock:
        job = _doc(hPrinter, "AbortPrinter")
        del _spooler.printer(hPrinter.printer).jobs[job.job_id]
        hPrinter.doc_job = None


def _job_info1(job: FakeJob, position: int) -> dict[str, Any]:
    """JOB_INFO_1 as pywin32 returns it."""
    return {
        "JobId": job.job_id, "pPrinterName": job.printer, "pMachineName": "\\\\TILL-1",
        "pUserName": job.user, "pDocument": job.document, "pDatatype": job.datatype,
        "pStatus": None, "Status": job.status, "Priority": 1, "Position": position,
        "TotalPages": 1, "PagesPrinted": 0, "Submitted": None,
    }  # fmt: skip


def GetJob(hPrinter: FakeHandle, JobID: int, Level: int = 1) -> dict[str, Any]:
    """JOB_INFO_1 of a job in the queue; ERROR_INVALID_PARAMETER once it has left."""
    handle = _open(hPrinter, "GetJob")
    with _spooler.lock:
        printer = _spooler.printer(handle.printer, "GetJob")
        job = _spooler._job(printer, JobID, "GetJob")
        return _job_info1(job, list(printer.jobs).index(JobID) + 1)


def SetJob(hPrinter: FakeHandle, JobID: int, Level: int, JobInfo: Any, Command: int) -> None:
    """Cancel, delete, pause or resume a job."""
    handle = _open(hPrinter, "SetJob")
    if Command in (JOB_CONTROL_CANCEL, JOB_CONTROL_DELETE):
        _spooler.cancel(handle.printer, JobID)
        return
    with _spooler.lock:
        job = _spooler._job(_spooler.printer(handle.printer, "SetJob"), JobID, "SetJob")
        if Command == JOB_CONTROL_PAUSE:
            job.status |= JOB_STATUS_PAUSED
        elif Command == JOB_CONTROL_RESUME:
            job.status &= ~JOB_STATUS_PAUSED


def EnumJobs(hPrinter: FakeHandle, FirstJob: int, NoJobs: int, Level: int = 1) -> tuple[Any, ...]:
    """JOB_INFO_1 of the jobs in the queue, from position ``FirstJob``."""
    handle = _open(hPrinter, "EnumJobs")
    with _spooler.lock:
        printer = _spooler.printer(handle.printer, "EnumJobs")
        _spooler._expire(printer)
        jobs = list(printer.jobs.values())[FirstJob : FirstJob + NoJobs]
        return tuple(_job_info1(j, FirstJob + i + 1) for i, j in enumerate(jobs))


def ReadPrinter(hPrinter: FakeHandle, size: int) -> bytes:
    """What the printer sent back on a bidirectional port; ERROR_NOT_SUPPORTED on a one-way one."""
    handle = _open(hPrinter, "ReadPrinter")
    with _spooler.lock:
        _spooler.read_calls += 1
        printer = _spooler.printer(handle.printer, "ReadPrinter")
        port = _spooler.ports[printer.port]
        if not (
            port.port_type & PORT_TYPE_READ and printer.attributes & PRINTER_ATTRIBUTE_ENABLE_BIDI
        ):
            raise _fail(ERROR_NOT_SUPPORTED, "ReadPrinter")
        data = bytes(port.replies[:size])
        del port.replies[:size]
        return data
