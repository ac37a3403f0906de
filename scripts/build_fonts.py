"""Build the agent's fonts (agent/fonts/) from Debian's Noto packages with fontTools.

The agent renders text its printer's code pages cannot hold as an image, so it must find fonts
on a till that has none of its own: it ships these, subset to what receipts need.

- ``ChitSans-Regular.ttf``: Noto Sans (Latin, Greek, Cyrillic, punctuation, currency) merged with
  Noto Sans Arabic, Hebrew, Thai and Devanagari, so one font (and one libraqm call) lays out a
  line mixing them with full bidi and shaping.
- ``ChitSansCJK-Regular.otf``: Noto Sans CJK SC cut to GB 2312, Big5 level 1, JIS X 0208,
  KS X 1001 Hangul, kana and full-width forms (about 13,600 glyphs, under 3 MB, where the whole
  face is 20 MB). It cannot be merged into the first: its outlines are CID-keyed CFF.
- ``ChitEmoji-Regular.ttf``: Noto Color Emoji cut to food, drink, faces, hands and the symbols a
  receipt uses (bitmaps, turned into black dots at print time).
- ``coverage.json``: the code points each font maps, so the agent picks a font per character
  without fontTools at run time.

All three are SIL Open Font License 1.1 (OFL.txt beside them); they are renamed "Chit ..." as
modified versions. Run on Debian after ``apt-get install fonts-noto-core fonts-noto-cjk
fonts-noto-color-emoji`` with ``pip install fonttools``; the output is committed.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable
from pathlib import Path

from fontTools import subset
from fontTools.merge import Merger
from fontTools.ttLib import TTFont

NOTO = Path("/usr/share/fonts/truetype/noto")
CJK = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
CJK_SC_INDEX = 2
OUT = Path(__file__).resolve().parent.parent / "agent" / "fonts"

LATIN_RANGES = (
    (0x20, 0x24F),
    (0x2B0, 0x2FF),
    (0x300, 0x36F),
    (0x370, 0x3FF),
    (0x400, 0x52F),
    (0x1E00, 0x1EFF),
    (0x2000, 0x206F),
    (0x20A0, 0x20CF),
    (0x2100, 0x214F),
    (0x2190, 0x21FF),
    (0x2200, 0x22FF),
    (0x25A0, 0x25FF),
    (0xFB00, 0xFB06),
)
SCRIPTS = ("NotoSansArabic", "NotoSansHebrew", "NotoSansThai", "NotoSansDevanagari")
EMOJI = (
    *range(0x1F600, 0x1F650),  # faces
    *range(0x1F32D, 0x1F380),  # food and drink
    *range(0x1F950, 0x1F970),
    *range(0x1F9C0, 0x1F9CC),
    *range(0x1FAD0, 0x1FADC),
    *range(0x1F446, 0x1F451),  # hands
    *(0x1F404, 0x1F413, 0x1F414, 0x1F416, 0x1F41F, 0x1F411, 0x1F983, 0x1F986, 0x1F980),
    *(0x1F990, 0x1F991, 0x1F99E, 0x1F331, 0x1F33F, 0x1F340, 0x1F337, 0x1F338, 0x1F339),
    *(0x1F33A, 0x1F33B, 0x1F525, 0x2B50, 0x1F31F, 0x1F389, 0x1F38A, 0x1F381, 0x1F382),
    *(0x2764, 0x1F496, 0x1F49A, 0x1F499, 0x1F49B, 0x1F49C, 0x1F5A4, 0x1F90D, 0x263A),
    *(0x2705, 0x274C, 0x2714, 0x2716, 0x26A0, 0x1F6AB, 0x1F4DE, 0x1F4F1, 0x1F697),
    *(0x1F6F5, 0x1F6B2, 0x1F3C3, 0x23F0, 0x231B, 0x23F3, 0x1F4B0, 0x1F4B3, 0x1F4B5),
    *(0x1F514, 0x1F4E6, 0x1F3E0, 0x1F3EA, 0x2615, 0x1F37D),
)


def _options(layout: list[str], index: int = 0) -> subset.Options:
    opts = subset.Options()
    opts.hinting = False
    opts.layout_features = layout
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.font_number = index
    opts.drop_tables += ["DSIG", "VORG", "vhea", "vmtx"]
    return opts


def cut(
    src: Path, out: Path, unicodes: Iterable[int] | None, layout: list[str], index: int = 0
) -> None:
    """Subset ``src`` to ``unicodes`` (all it maps when None) into ``out``."""
    opts = _options(layout, index)
    font = subset.load_font(str(src), opts)
    wanted = list(unicodes) if unicodes is not None else sorted(font.getBestCmap())
    subsetter = subset.Subsetter(opts)
    subsetter.populate(unicodes=wanted)
    subsetter.subset(font)
    subset.save_font(font, str(out), opts)


def rename(path: Path, family: str) -> None:
    """Give a modified font its own family name (OFL: modified versions are renamed)."""
    font = TTFont(str(path))
    names = {
        1: family,
        3: f"{family} Regular; chit",
        4: f"{family} Regular",
        6: family.replace(" ", "") + "-Regular",
    }
    for record in font["name"].names:
        if record.nameID in names:
            record.string = names[record.nameID]
        if record.nameID in (16, 17, 21, 22):
            record.string = family if record.nameID in (16, 21) else "Regular"
    font.save(str(path))


def cjk_chars() -> set[int]:
    """GB 2312, Big5 level 1, JIS X 0208, KS X 1001 Hangul with their symbols; kana; full width."""

    def table(codec: str, leads: range, trails: range) -> set[int]:
        chars: set[int] = set()
        for lead in leads:
            for trail in trails:
                try:
                    text = bytes([lead, trail]).decode(codec)
                except UnicodeDecodeError:
                    continue
                chars.update(ord(c) for c in text)
        return chars

    wanted = table("gb2312", range(0xA1, 0xF8), range(0xA1, 0xFF))
    wanted |= table("big5", range(0xA1, 0xC7), range(0x40, 0xFF))
    wanted |= table("euc_jp", range(0xA1, 0xF5), range(0xA1, 0xFF))
    wanted |= table("euc_kr", range(0xA1, 0xC9), range(0xA1, 0xFF))
    wanted |= set(range(0x3000, 0x3100)) | set(range(0xFF00, 0xFFF0)) | set(range(0x20, 0x7F))
    return wanted


def ranges(codepoints: Iterable[int]) -> list[list[int]]:
    """Sorted code points as [first, last] runs."""
    out: list[list[int]] = []
    for cp in sorted(set(codepoints)):
        if out and out[-1][1] == cp - 1:
            out[-1][1] = cp
        else:
            out.append([cp, cp])
    return out


def build(out: Path, work: Path) -> None:
    """Write the three fonts and coverage.json into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    latin = [cp for a, b in LATIN_RANGES for cp in range(a, b + 1)]
    parts = [work / "latin.ttf"]
    cut(NOTO / "NotoSans-Regular.ttf", parts[0], latin, ["*"])
    for name in SCRIPTS:
        parts.append(work / f"{name}.ttf")
        cut(NOTO / f"{name}-Regular.ttf", parts[-1], None, ["*"])
    merged = Merger().merge([str(p) for p in parts])
    merged.save(str(out / "ChitSans-Regular.ttf"))
    rename(out / "ChitSans-Regular.ttf", "Chit Sans")
    cut(CJK, out / "ChitSansCJK-Regular.otf", cjk_chars(), ["ccmp", "kern", "liga"], CJK_SC_INDEX)
    rename(out / "ChitSansCJK-Regular.otf", "Chit Sans CJK")
    cut(NOTO / "NotoColorEmoji.ttf", out / "ChitEmoji-Regular.ttf", (*EMOJI, 0xFE0F, 0x200D), ["*"])
    rename(out / "ChitEmoji-Regular.ttf", "Chit Emoji")
    coverage = {
        name: ranges(TTFont(str(out / name)).getBestCmap())
        for name in ("ChitSans-Regular.ttf", "ChitSansCJK-Regular.otf", "ChitEmoji-Regular.ttf")
    }
    (out / "coverage.json").write_text(json.dumps(coverage, separators=(",", ":")) + "\n")


def main() -> None:
    """Command line: build into agent/fonts (or --out)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--work", type=Path, default=Path("/tmp/chit-fonts"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    build(args.out, args.work)


if __name__ == "__main__":
    main()
