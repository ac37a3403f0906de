"""The committed docs are exactly what the catalog renders."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _renderer():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("render_docs", ROOT / "scripts/render_docs.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_docs_match_the_catalog() -> None:
    stale = [
        str(path.relative_to(ROOT))
        for path, text in _renderer().rendered().items()
        if not path.exists() or path.read_text(encoding="utf-8") != text
    ]
    assert stale == [], f"regenerate with: python scripts/render_docs.py ({stale})"


def test_asyncapi_document_shape() -> None:
    doc = yaml.safe_load((ROOT / "docs/asyncapi.yaml").read_text())
    assert doc["asyncapi"] == "3.0.0"
    assert {c["address"] for c in doc["channels"].values()} == {
        "/printing-ws",
        "/orders",
        "/availability",
    }
    refs = [m["payload"]["$ref"] for m in doc["components"]["messages"].values()]
    schemas = doc["components"]["schemas"]
    assert all(ref.rsplit("/", 1)[1] in schemas for ref in refs)
    for op in doc["operations"].values():
        assert op["action"] in ("send", "receive")
