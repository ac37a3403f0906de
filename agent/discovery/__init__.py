"""Finding printers: USB, mDNS, subnet sweep and manual entries, merged by the tracker.

Every method returns candidate :class:`~shared.printers.PrinterInfo` with a stable
``printer_id`` (``usb:vid:pid:serial`` or ``net:host:port``); the tracker merges scans.
"""

from typing import Any

from agent.discovery.manual import ManualEntryError, manual_printer, manual_printers
from agent.discovery.network import network_printer_id, probe_network_printer
from agent.discovery.sweep import SweepRefused, sweep
from agent.discovery.tracker import PrinterTracker, ScanDiff
from agent.discovery.usb import discover_usb, scan_usb, usb_printer_id

__all__ = [
    "ManualEntryError",
    "PrinterTracker",
    "ScanDiff",
    "SweepRefused",
    "discover_mdns",
    "discover_usb",
    "manual_printer",
    "manual_printers",
    "network_printer_id",
    "probe_network_printer",
    "scan_usb",
    "sweep",
    "usb_printer_id",
]


def __getattr__(name: str) -> Any:
    """``discover_mdns`` on first use: zeroconf (3 MiB) is imported only where mDNS is on."""
    if name == "discover_mdns":
        from agent.discovery.mdns import discover_mdns

        return discover_mdns
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
