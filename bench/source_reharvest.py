"""Re-harvesting an unchanged source: what the conditional fetch saves.

    .venv/bin/python bench/source_reharvest.py [--file PATH] [--out FILE] [--repeat N]

A real portal export (default: the largest CNPDS catalog, Jiangsu Taizhou) is
registered twice in a fresh installation: as a URL source served by a local HTTP
portal with ETag / Last-Modified (tests/http_catalog.py), and as a file source. For
each it times the first harvest, the unchanged re-harvest (304 for the URL, the file
validator for the file: nothing read, nothing written) and, for comparison, a forced
full re-read of the unchanged snapshot (`sources run --full`). Prints the figures and
writes them to ``bench/results/source_reharvest.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "cnpds-china-portals" / "datacrawler" / \
    "jiangsu_taizhou.json.gz"
DEFAULT_OUT = ROOT / "bench" / "results" / "source_reharvest.json"


def _timed(name: str, **options: Any) -> tuple[float, dict[str, Any]]:
    from search.source_runs import harvest_source

    started = time.perf_counter()
    outcome = harvest_source(name, **options)
    return time.perf_counter() - started, outcome.record


def _measure(name: str, repeat: int) -> dict[str, Any]:
    first_s, first = _timed(name)
    assert first["status"] == "ok", first
    unchanged, full = [], []
    for _ in range(repeat):
        seconds, record = _timed(name)
        assert record["status"] == "not_modified", record
        unchanged.append(seconds)
        seconds, record = _timed(name, full=True)
        assert record["status"] == "ok" and record["counts"]["new"] == 0, record
        full.append(seconds)
    unchanged_s, full_s = statistics.median(unchanged), statistics.median(full)
    return {"records": first["counts"]["seen"], "bytes": first["bytes"],
            "first_harvest_s": round(first_s, 3), "unchanged_reharvest_s": round(unchanged_s, 4),
            "forced_full_reread_s": round(full_s, 3),
            "first_over_unchanged": round(first_s / unchanged_s, 1),
            "full_reread_over_unchanged": round(full_s / unchanged_s, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    if not args.file.is_file():
        raise SystemExit(f"{args.file} is missing (the bench reads ../shared/data)")

    from config.app import create_app
    from config.extensions import db
    from config.migrate import upgrade
    from config.settings import load_settings
    from search.sources import SourceSpec, add_source
    from tests.http_catalog import HttpCatalog

    with tempfile.TemporaryDirectory() as tmp, HttpCatalog() as portal:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
        env["SCENEWATCH_DATA_DIR"] = str(Path(tmp) / "instance")
        app = create_app(load_settings(env))
        with app.app_context():
            upgrade()
            portal.put(args.file.name, args.file)
            with db.session() as session:
                add_source(session, SourceSpec(name="url", location=portal.url(args.file.name)))
                add_source(session, SourceSpec(name="file", location=str(args.file)))
            figures = {"url": _measure("url", args.repeat), "file": _measure("file", args.repeat)}
            statuses = [r.status for r in portal.requests_for("/" + args.file.name)]
    result = {
        "bench": "source_reharvest", "file": args.file.name,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "repeat": args.repeat, "portal_statuses": {str(s): statuses.count(s) for s in set(statuses)},
        **figures,
    }
    for kind in ("url", "file"):
        f = figures[kind]
        print(f"{kind:>4}: {f['records']:,} records  first {f['first_harvest_s']:.2f} s  "
              f"unchanged {f['unchanged_reharvest_s'] * 1000:.1f} ms "
              f"(×{f['first_over_unchanged']:,} faster)  forced full re-read "
              f"{f['forced_full_reread_s']:.2f} s")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
