"""Which command set a printer's documents are built in: ESC/POS, Star Line Mode or Star Graphic.

In order:

1. the ``commandSet`` a manager set (``escpos``, ``star-line``, ``star-graphic``): it wins;
2. a printer whose status channel is ``star`` (it answered Star's ASB/ENQ) takes Star's commands:
   Star Graphic (raster only) when its model says it is of the TSP100 futurePRNT family, Star
   Line Mode otherwise;
3. a printer printed to through an OS print queue (every job there is a raw one: CUPS
   ``application/vnd.cups-raw``, a Windows RAW job, so the queue's driver does not convert it)
   whose driver, model, maker or queue name says Star takes Star's commands by the same rule,
   unless the name says ESC/POS (Star's ESC/POS-emulation models and drivers);
4. ESC/POS.

The TSP100 family answers ASB and ENQ like the Line Mode models, so the status channel alone
cannot tell them apart: the model does (a network one says it to ``ESC # * LF NUL``, asked on
the ``star`` channel: ``TSP143IIIL``). Its USB product strings and Star's driver names all
carry the model number: ``TSP143IIIU``, ``TSP143IIILAN``, ``TSP100IV``, ``TSP113``, ``Star
TSP100 Cutter (TSP143)``, ``Star TSP143 (STR_T-001)``; and Star's own name for it, futurePRNT.
Without a model string, Star's USB product id 0x0003 (vendor 0x0519) is the TSP100's.
"""

from __future__ import annotations

import re
from typing import Literal

from shared.escpos.drawer import CommandSet
from shared.printers import CommandSetName, PrinterInfo, PrintPath

#: What agent.render builds: ``star`` is Star Line Mode, ``star-graphic`` Star raster.
RenderCommands = Literal["escpos", "star", "star-graphic"]
_FROM_SETTING: dict[CommandSetName, RenderCommands] = {
    "escpos": "escpos",
    "star-line": "star",
    "star-graphic": "star-graphic",
}
STAR_VENDOR = 0x0519
#: Star USB product ids of raster-only printers (the TSP100 family).
STAR_GRAPHIC_PRODUCTS = frozenset({0x0003})
#: Model numbers of the TSP100 family (TSP100, TSP113, TSP143, their II, III and IV) and
#: Star's name for its raster-only driver line.
_RASTER_ONLY = re.compile(r"\bTSP\s?1\d\d(?!\d)|futurePRNT", re.IGNORECASE)
_STAR = re.compile(r"\bStar\b|\bSTR_T-|\bTSP\s?\d|\bmC-Print|\bmPOP\b|\bSM-[LST]\d", re.IGNORECASE)
_ESCPOS = re.compile(r"ESC\s?/?\s?POS", re.IGNORECASE)


def raster_only(info: PrinterInfo) -> bool:
    """Whether the printer is one of Star's raster-only (Star Graphic mode) models."""
    names = _names(info)
    if any(_RASTER_ONLY.search(name) for name in names):
        return True
    return (
        not info.model
        and info.vendor_id == STAR_VENDOR
        and info.product_id in STAR_GRAPHIC_PRODUCTS
    )


def _names(info: PrinterInfo) -> list[str]:
    """The printer's model and maker and its queue's driver and name, where known (not the
    printer's own name, which a manager may change to anything)."""
    names = [info.model, info.manufacturer]
    if info.queue is not None:
        names += [info.queue.driver, info.queue.name]
    return [name for name in names if name]


def star_queue(info: PrinterInfo) -> bool:
    """Whether it is printed to through an OS queue whose names say Star (not its ESC/POS)."""
    if info.queue is None or info.path not in (PrintPath.CUPS, PrintPath.SPOOLER):
        return False
    names = _names(info)
    return any(_STAR.search(n) for n in names) and not any(_ESCPOS.search(n) for n in names)


def command_set(info: PrinterInfo) -> RenderCommands:
    """The commands this printer's documents are built in (the rules above)."""
    chosen = getattr(info, "command_set", None)
    if chosen in _FROM_SETTING:
        return _FROM_SETTING[chosen]
    if info.status_channel == "star" or star_queue(info):
        return "star-graphic" if raster_only(info) else "star"
    return "escpos"


def drawer_commands(info: PrinterInfo) -> CommandSet:
    """The drawer and buzzer commands: Star's for both Star modes (the STAR Graphic Mode
    specification, 3-1-1 "External Device Drive", has Line Mode's ``ESC BEL n1 n2``, ``BEL``,
    ``FS`` and the ``ESC GS EM`` buzzer), ESC/POS otherwise."""
    return "escpos" if command_set(info) == "escpos" else "star"
