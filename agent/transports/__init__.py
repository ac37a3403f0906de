"""Byte pipes to printers: the Transport interface, TCP and USB, and the status query."""

from __future__ import annotations

from typing import Any

from agent.transports.base import StatusReporter, Transport
from agent.transports.errors import (
    AccessDenied,
    DeviceBusy,
    PrinterNotFound,
    TransportClosed,
    TransportError,
    TransportTimeout,
)
from agent.transports.status import probe_escpos, query_status
from agent.transports.tcp import DEFAULT_PORT, TcpTransport
from agent.transports.usb import UsbTransport
from shared.printers import Connection, PrinterInfo, PrintPath

__all__ = [
    "DEFAULT_PORT",
    "AccessDenied",
    "DeviceBusy",
    "PrinterNotFound",
    "StatusReporter",
    "TcpTransport",
    "Transport",
    "TransportClosed",
    "TransportError",
    "TransportTimeout",
    "UsbTransport",
    "open_transport",
    "probe_escpos",
    "query_status",
]


async def open_transport(
    printer: PrinterInfo,
    *,
    usb_backend: Any = None,
    timeout: float = 5.0,
) -> Transport:
    """Open the right transport for a discovered printer, within ``timeout`` seconds."""
    path = printer.path or PrintPath.DIRECT
    if path is not PrintPath.DIRECT:
        return await _open_queue(printer, path, timeout)
    if printer.connection is Connection.NETWORK:
        if printer.host is None:
            raise TransportError(f"{printer.printer_id} has no host", code="bad_printer")
        port = printer.port or DEFAULT_PORT
        return await TcpTransport.connect(printer.host, port, connect_timeout=timeout)
    if printer.vendor_id is None or printer.product_id is None:
        raise TransportError(f"{printer.printer_id} has no USB ids", code="bad_printer")
    return await UsbTransport.open(
        printer.vendor_id,
        printer.product_id,
        serial=printer.serial,
        usb_path=printer.usb_path,
        backend=usb_backend,
        timeout=timeout,
    )


async def _open_queue(printer: PrinterInfo, path: PrintPath, timeout: float) -> Transport:
    """The OS queue transport (imported here: most printers never need one)."""
    if printer.queue is None:
        raise TransportError(f"{printer.printer_id} has no print queue", code="bad_printer")
    if path is PrintPath.CUPS:
        from agent.transports.cups import CupsTransport

        return await CupsTransport.open(printer.queue.name, timeout=timeout)
    from agent.transports.winspool import WinSpoolTransport

    return await WinSpoolTransport.open(printer.queue.name, timeout=timeout)
