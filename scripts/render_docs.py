"""Write docs/events.md and docs/asyncapi.yaml from the event catalog (shared/events.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub import __version__  # noqa: E402
from hub.api.openapi import openapi_document  # noqa: E402
from shared.catalog_docs import asyncapi_document, events_markdown  # noqa: E402


def rendered() -> dict[Path, str]:
    """What the docs files should contain."""
    asyncapi = yaml.safe_dump(asyncapi_document(__version__), sort_keys=False, allow_unicode=True)
    return {
        ROOT / "docs" / "events.md": events_markdown(__version__),
        ROOT / "docs" / "asyncapi.yaml": asyncapi,
        ROOT / "docs" / "openapi.json": json.dumps(openapi_document(), indent=2) + "\n",
    }


def main() -> int:
    """Write the files."""
    for path, text in rendered().items():
        path.write_text(text, encoding="utf-8")
        print(f"wrote {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
