"""Which python-escpos capability profile fits a printer: by its model, its vendor, or neither.

The profile decides the code pages text goes out in, so a wrong one prints wrong letters.
In order:

1. the reported model (``GS I 67``, the USB product string, mDNS) against python-escpos'
   profile database, by key or name: exactly (``TM-T88V``), inside a longer string
   (``EPSON TM-T88V Receipt``), or the same series in the nearest generation below
   (``TM-T20III`` → ``TM-T20II``, ``TM-T88VI`` → ``TM-T88V``), else the nearest above;
2. the vendor: the USB vendor table (agent.usb_ids), or the manufacturer's name matched to it;
3. ``conservative`` (shared.printers.CONSERVATIVE_PROFILE), registered here in python-escpos'
   database: its ``default`` profile's features (cut, raster images, QR) with code page PC437
   only, so text no PC437 holds prints as an image rather than in a guessed code page.
   (python-escpos' own ``simple`` is stricter still: it sends no cut at all.)

Column-mode variants (``TM-T20II-42col``) and regional ones (``TM-T88IV-SA``) are chosen only
by their exact name: a printer comes out of the box in its normal mode.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from escpos.capabilities import CAPABILITIES

from agent.usb_ids import USB_VENDORS, vendor
from shared.printers import CONSERVATIVE_PROFILE


def _register_conservative() -> None:
    """Add the conservative profile to python-escpos' database (once, at import)."""
    profiles = CAPABILITIES["profiles"]
    if CONSERVATIVE_PROFILE in profiles:
        return
    data = copy.deepcopy(profiles["default"])
    data.update(
        name="Conservative",
        vendor="Generic",
        notes="A printer nothing is known about: default features, code page PC437 only.",
        codePages={"0": "CP437"},
    )
    profiles[CONSERVATIVE_PROFILE] = data


_register_conservative()
Reason = Literal["model", "vendor", "conservative"]

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8, "IX": 9}
# A series and its generation: "TM-T20" + "III". The series ends in a digit.
_SERIES = re.compile(r"^(?P<series>.*\d)(?P<gen>I{1,3}|IV|VI{0,3}|IX)?$")


@dataclass(frozen=True)
class ProfileChoice:
    """A profile name and why it was chosen."""

    profile: str
    reason: Reason


def canonical(text: str) -> str:
    """Upper case, runs of anything but letters and digits as one ``-``: one spelling."""
    return re.sub(r"[^A-Z0-9]+", "-", text.upper()).strip("-")


def _series(name: str) -> tuple[str, int] | None:
    """``("TM-T20", 3)`` for ``TM-T20III``; generation 0 when there is none."""
    match = _SERIES.match(name)
    if match is None:
        return None
    return match["series"], _ROMAN.get(match["gen"] or "", 0)


@cache
def _profiles() -> dict[str, str]:
    """Canonical spelling → profile key, for every key and display name."""
    names: dict[str, str] = {}
    for key, data in CAPABILITIES["profiles"].items():
        if key in ("default", "simple", CONSERVATIVE_PROFILE):
            continue
        names.setdefault(canonical(key), key)
        names.setdefault(canonical(str(data.get("name", ""))), key)
    names.pop("", None)
    return names


def _plain(key: str) -> bool:
    """Whether a profile is a printer's normal mode (not a column-mode or regional variant)."""
    return _series(canonical(key)) is not None


def by_model(model: str | None) -> str | None:
    """The profile python-escpos has for ``model``, per the rules above; None if none fits."""
    if not model or not (wanted := canonical(model)):
        return None
    names = _profiles()
    if wanted in names:
        return names[wanted]
    tokens = wanted.split("-")
    for start in range(len(tokens)):
        for end in range(len(tokens), start, -1):
            piece = "-".join(tokens[start:end])
            # A lone word ("SERIES", "TM") names no printer: a piece needs a digit.
            if piece in names and any(c.isdigit() for c in piece):
                return names[piece]
    return _nearest_generation(wanted)


def _nearest_generation(wanted: str) -> str | None:
    """The same series' profile of the nearest generation, below first."""
    for piece in _suffixes(wanted):
        target = _series(piece)
        if target is None:
            continue
        series, generation = target
        same = [
            (gen, key)
            for name, key in _profiles().items()
            if _plain(key) and (found := _series(name)) is not None and found[0] == series
            for gen in (found[1],)
        ]
        below = sorted(item for item in same if item[0] <= generation)
        if below:
            return below[-1][1]
        if same:
            return min(same)[1]
    return None


def _suffixes(wanted: str) -> list[str]:
    """``EPSON-TM-T20III`` → itself, ``TM-T20III``, ``T20III``: where a model may start."""
    tokens = wanted.split("-")
    return ["-".join(tokens[i:]) for i in range(len(tokens))]


def by_vendor(vendor_id: int | None, manufacturer: str | None) -> str | None:
    """The vendor table's profile for a USB vendor id, else for a manufacturer's name."""
    known = vendor(vendor_id) if vendor_id is not None else None
    if known is None and manufacturer:
        maker = canonical(manufacturer)
        known = next(
            (v for v in USB_VENDORS.values() if v.pos_brand and canonical(v.name) == maker), None
        )
    return known.profile if known is not None else None


def choose_profile(
    model: str | None, vendor_id: int | None = None, manufacturer: str | None = None
) -> ProfileChoice:
    """The profile for a printer: by model, else vendor, else the conservative one."""
    if (found := by_model(model)) is not None:
        return ProfileChoice(found, "model")
    if (found := by_vendor(vendor_id, manufacturer)) is not None:
        return ProfileChoice(found, "vendor")
    return ProfileChoice(CONSERVATIVE_PROFILE, "conservative")


def known_profile(name: str) -> bool:
    """Whether python-escpos has a profile of this name."""
    return name in CAPABILITIES["profiles"]
