"""The ESC/POS backend of agent.render: python-escpos' Dummy printer and its capability profile.

The profile (``PrinterInfo.profile``, a python-escpos profile name such as ``TM-T88III`` or
``POS-5890``) decides what the printer can do: its code pages, a native QR code (``GS ( k``) or
a raster image, a cut only when it has a cutter, ``GS v 0`` or ``ESC *`` for images, its dot
width. Unknown profile names fall back to python-escpos' ``default`` profile (an 80 mm
Epson-like printer).
"""

from __future__ import annotations

import logging
from typing import Any

from escpos.capabilities import CAPABILITIES
from escpos.printer import Dummy

import agent.profiles  # noqa: F401 (registers the conservative profile with python-escpos)
from agent.codepages import CodePageWriter, profile_code_pages
from agent.imagelines import Target, target_for

log = logging.getLogger(__name__)

DEFAULT_PROFILE = "default"


def profile_name(name: str | None) -> str:
    """``name`` if python-escpos knows it, else the default profile."""
    if name and name in CAPABILITIES["profiles"]:
        return name
    if name:
        log.warning("unknown printer profile %r, using %r", name, DEFAULT_PROFILE)
    return DEFAULT_PROFILE


def new_printer(profile: str | None = None) -> Dummy:
    """An in-memory python-escpos printer, initialised (``ESC @``)."""
    printer = Dummy(profile=profile_name(profile))
    printer.hw("INIT")
    return printer


class EscPosBackend:
    """ESC/POS bytes for one document, through python-escpos."""

    def __init__(self, profile: str | None, paper_width_mm: int | None) -> None:
        self.p = new_printer(profile)
        data: dict[str, Any] = self.p.profile.profile_data
        self.target: Target = target_for(data, paper_width_mm)
        self.writer = CodePageWriter(profile_code_pages(data.get("codePages") or {}))

    def raw(self, data: bytes) -> None:
        """Bytes as they are (text already encoded, images already built)."""
        self.p._raw(data)

    def style(self, align: str, bold: bool, underline: bool, width: int, height: int) -> None:
        """Alignment, emphasis, underline and character size for the next text."""
        size: dict[str, Any] = {"normal_textsize": True}
        if width > 1 or height > 1:
            size = {"custom_size": True, "width": width, "height": height}
        self.p.set(align=align, bold=bold, underline=int(underline), **size)

    def qr(self, data: str, size: int, align: str) -> None:
        """A QR code: native when the profile supports it, else a raster image."""
        if self.p.profile.supports("qrCode"):
            self.p.set(align=align)
            self.p.qr(data, size=size, native=True)
        else:
            self.p.qr(data, size=size, native=False, center=align == "center")
        self.p.set(align="left")

    def feed(self, lines: int) -> None:
        """Blank lines."""
        self.p.ln(lines)

    def cut(self, partial: bool) -> None:
        """A full or partial cut (python-escpos skips it on printers without a cutter)."""
        self.p.cut(mode="PART" if partial else "FULL")

    def finish(self, cut: bool) -> bytes:
        """Default styles again, the closing cut if asked for, and the bytes."""
        self.p.set_with_default()
        if cut:
            self.p.cut()
        return bytes(self.p.output)
