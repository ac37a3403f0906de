"""Text in the printer's own code pages: which page holds a line, and its bytes with ``ESC t n``
(``ESC GS t n`` with Star's page numbers for a printer in Star mode, agent.render_star).

The code pages a printer has come from its python-escpos capability profile, and the character
tables from python-escpos' encoder (``escpos.magicencode.Encoder``: Python codecs where there is
one, its own tables for pages like TCVN-3 that Python lacks). The choice of page is written here
rather than left to ``MagicEncode.write`` because that:

- sends any line with a CJK ideograph as GB18030, whatever the printer (a TM-T88V prints
  mojibake);
- orders pages by the *string* of their slot number ("15" before "19"), which is how "€" went out
  as ISO 8859-7 (slot 15) to printers without that page;
- replaces what no page holds with "?" silently, where we need to know beforehand, to print
  that line as an image instead.

Here a line either encodes completely (a list of ``ESC t n`` switches and bytes) or not at all.
Pages are tried in :data:`PREFERRED` order (the tables nearly every ESC/POS printer has), then by
slot number; the page in use is kept as long as it holds the next characters. ``ESC @`` resets
the table to the printer's power-on default, unknown to us, so the first non-ASCII text always
selects its page. Control characters in text are sent as spaces, so text can never smuggle a
command to the printer.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cache

from escpos.magicencode import Encoder

ESC_T = b"\x1bt"
#: Widely supported tables first: PC437, PC858 (PC850 with the euro sign), PC850, WPC1252,
#: PC852 (Latin 2), PC866 and WPC1251 (Cyrillic), PC737 (Greek), PC857 (Turkish).
PREFERRED = ("CP437", "CP858", "CP850", "CP1252", "CP852", "CP866", "CP1251", "CP737", "CP857")
#: Bidi classes of text a printer cannot lay out itself (right-to-left letters, Arabic digits).
RTL_CLASSES = frozenset({"R", "AL", "AN", "RLE", "RLO", "RLI"})


def clean(text: str) -> str:
    """``text`` in NFC with control characters (C0, DEL, C1) as spaces."""
    text = unicodedata.normalize("NFC", text)
    return "".join(" " if unicodedata.category(c) == "Cc" else c for c in text)


def needs_layout(text: str) -> bool:
    """Whether a printer's character generator cannot print ``text`` as it should look.

    Right-to-left text must be reordered, Arabic joined, combining marks placed and wide (CJK)
    characters take two cells: all need shaping that only the image path does.
    """
    for char in text:
        if unicodedata.bidirectional(char) in RTL_CLASSES:
            return True
        if unicodedata.category(char) in ("Mn", "Mc", "Me"):
            return True
        if unicodedata.east_asian_width(char) in ("W", "F"):
            return True
    return False


@dataclass
class CodePageWriter:
    """Encodes lines for one printer, remembering the page selected so far."""

    code_pages: dict[str, int]
    current: str | None = None
    #: The command that selects a page, before its number: ESC/POS ``ESC t``, Star ``ESC GS t``.
    select: bytes = ESC_T
    _encoder: Encoder = field(init=False, repr=False)
    _order: list[str] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._encoder = Encoder({name: str(slot) for name, slot in self.code_pages.items()})
        # The encoder caches each page's table per instance; a page's table depends on its name
        # only, so every writer shares the tables built once (building one decodes 128 bytes,
        # and a test page used to rebuild them all: most of its rendering time).
        self._encoder.available_characters = _TABLES
        rest = sorted(self.code_pages, key=lambda name: self.code_pages[name])
        self._order = [n for n in PREFERRED if n in self.code_pages]
        self._order += [n for n in rest if n not in self._order]

    def reset(self) -> None:
        """The printer was initialised (``ESC @``): its page is unknown again."""
        self.current = None

    def fits(self, text: str) -> bool:
        """Whether every character of ``text`` is in some page of this printer."""
        return all(ord(c) < 0x80 or self._page_for(c) is not None for c in clean(text))

    def encode(self, text: str, fallback: str | None = None) -> bytes | None:
        """``text`` as bytes with the page switches it needs; None when it does not fit.

        With ``fallback`` (e.g. "?"), characters no page holds become that instead.
        """
        text, out, i = clean(text), bytearray(), 0
        if text.isascii():
            return text.encode("ascii")  # every page holds ASCII: no switch, the same bytes
        while i < len(text):
            page = self._page_at(text, i)
            if page is None:
                if fallback is None:
                    return None
                text = text[:i] + fallback + text[i + 1 :]
                continue
            j = self._span(text, i, page)
            if page != self.current and not text[i:j].isascii():
                out += self.select + bytes((self.code_pages[page],))
                self.current = page
            out += self._encoder.encode(text[i:j], page)
            i = j
        return bytes(out)

    def _page_at(self, text: str, i: int) -> str | None:
        """The page for the run from ``i``: the one holding most of it, the current one on a tie."""
        candidates = [p for p in self._order if self._encoder.can_encode(p, text[i])]
        if not candidates:
            return None
        spans = {page: self._span(text, i, page) for page in candidates}
        best = max(spans.values())
        if self.current in spans and spans[self.current] == best:
            return self.current
        return next(page for page in candidates if spans[page] == best)

    def _page_for(self, char: str) -> str | None:
        return next((p for p in self._order if self._encoder.can_encode(p, char)), None)

    def _span(self, text: str, i: int, page: str) -> int:
        """Where the run of ``text`` from ``i`` that ``page`` can hold ends."""
        j = i
        while j < len(text) and self._encoder.can_encode(page, text[j]):
            j += 1
        return j


#: Every page's character table ({character: byte}), shared by all writers (see CodePageWriter).
_TABLES: dict[str, dict[str, int]] = {}


def profile_code_pages(profile_pages: dict[str, str]) -> dict[str, int]:
    """A profile's ``codePages`` ({slot: name}) as {name: lowest slot}, usable pages only."""
    return dict(_usable_pages(tuple(sorted(profile_pages.items(), key=lambda kv: int(kv[0])))))


@cache
def _usable_pages(slots: tuple[tuple[str, str], ...]) -> tuple[tuple[str, int], ...]:
    """The usable pages of a profile's slots, in slot order (cached: profiles are few)."""
    pages: dict[str, int] = {}
    for slot, name in slots:
        if name != "Unknown" and name not in pages and _usable(name):
            pages[name] = int(slot)
    return tuple(pages.items())


@cache
def _usable(name: str) -> bool:
    """Whether python-escpos has a character table for the page."""
    try:
        Encoder({name: "0"})._get_codepage_char_map(name)
    except (LookupError, KeyError, AssertionError):
        return False
    return True
