"""What a printer said about itself (``GS I``, or Star's ``ESC # * LF NUL``), folded into its
PrinterInfo.

The printer's own word beats what its path guessed: a model from ``GS I 67`` (or a Star
printer's version reply, agent.transports.identity) replaces the USB
product string or the mDNS model, and the profile is chosen again from it (agent.profiles).
A name nothing better was known for (the address, the model at the address, the USB product
string) becomes the default name for the model and the place: ``TM-T20III at 192.168.1.40``,
``EPSON TM-m30 (USB)``; a queue's name, a name typed by hand or announced over mDNS stays.
A name or profile a manager set is applied after this (agent.printer_settings).
"""

from __future__ import annotations

from agent.discovery.network import has_fallback_name, model_name
from agent.profiles import choose_profile
from shared.escpos.identity import PrinterIdentity
from shared.printers import Connection, DiscoverySource, PrinterInfo


def usb_name(manufacturer: str | None, model: str) -> str:
    """``EPSON TM-m30 (USB)``: the maker (unless the model starts with it), model and place."""
    maker = (manufacturer or "").strip()
    label = model if not maker or model.upper().startswith(maker.upper()) else f"{maker} {model}"
    return f"{label} (USB)"[:200]


def default_name(info: PrinterInfo) -> str | None:
    """The name for the printer's model and place; None when there is no model to name."""
    if not info.model:
        return None
    if info.connection is Connection.NETWORK and info.host and info.port:
        return model_name(info.model, info.host, info.port)
    if info.connection is Connection.USB:
        return usb_name(info.manufacturer, info.model)
    return None


def _made_up(info: PrinterInfo, before: PrinterInfo) -> bool:
    """Whether ``before``'s name was only made up from what discovery saw."""
    if before.source is DiscoverySource.QUEUE or before.queue is not None:
        return False
    if before.connection is Connection.NETWORK:
        return has_fallback_name(before)
    return before.connection is Connection.USB and before.source is DiscoverySource.USB


def apply_identity(info: PrinterInfo, identity: PrinterIdentity | None) -> PrinterInfo:
    """``info`` with the printer's own answers, the profile for its model, its default name."""
    if identity is None or not identity.answered:
        return info
    said = {
        "model": identity.model,
        "manufacturer": identity.manufacturer,
        "serial": identity.serial,
        "firmware": identity.firmware,
    }
    if info.connection is Connection.USB and info.serial:
        said["serial"] = None  # the USB descriptor's serial finds the device: keep it
    updated = info.model_copy(update={k: v[:200] for k, v in said.items() if v})
    if identity.model:
        choice = choose_profile(identity.model, info.vendor_id, updated.manufacturer)
        updated = updated.model_copy(update={"profile": choice.profile})
    name = default_name(updated)
    if name is not None and _made_up(updated, info):
        updated = updated.model_copy(update={"name": name})
    return updated


def with_profile(info: PrinterInfo) -> PrinterInfo:
    """``info`` with a profile: its own, else the one chosen for its model and vendor."""
    if info.profile:
        return info
    choice = choose_profile(info.model, info.vendor_id, info.manufacturer)
    return info.model_copy(update={"profile": choice.profile})
