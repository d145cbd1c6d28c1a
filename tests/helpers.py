"""Small helpers shared by tests: the bundled sample catalog and snapshot files."""
from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

SAMPLE_DIR = Path(__file__).resolve().parents[1] / "data" / "sample"


def sample_file() -> Path:
    """The bundled sample catalog (a real portal export)."""
    return sorted(SAMPLE_DIR.glob("*.json*"))[0]


def sample_records() -> list[dict[str, Any]]:
    """The sample catalog's raw records."""
    path = sample_file()
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        return json.load(handle)


def write_snapshot(path: Path, records: list[dict[str, Any]]) -> str:
    """Write ``records`` as a portal JSON export and return its path."""
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    return str(path)
