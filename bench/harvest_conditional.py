"""First harvest vs unchanged re-harvest, for a URL source and for a file source.

    .venv/bin/python bench/harvest_conditional.py [--file PATH] [--rounds N] [--out FILE]

A fresh installation (SQLite store + FTS5 index, embedded default) in a temporary
directory. The URL source is a real catalog served by a local HTTP server with ETag /
Last-Modified (tests/http_catalog.py on 127.0.0.1): its re-harvest sends
If-None-Match / If-Modified-Since, gets 304 and parses nothing. The file source is the
same catalog as a path: its validator (size, mtime, inode) is unchanged, so its
re-harvest reads nothing either; a forced full re-read (``sources run --full``), which
reads, maps and compares every record and finds them all unchanged, is timed too.
Each re-harvest is run ``rounds`` times; the median is reported with the ratio
first / re-harvest. Prints the figures and writes them to
``bench/results/harvest_conditional.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DEFAULT_FILE = ROOT.parent / "shared" / "data" / "cnpds-china-portals" / "datacrawler" / \
    "jiangsu_taizhou.json.gz"
DEFAULT_OUT = ROOT / "bench" / "results" / "harvest_conditional.json"


def _timed(name: str, full: bool = False) -> tuple[float, dict[str, Any]]:
    from search.source_runs import harvest_source

    started = time.perf_counter()
    outcome = harvest_source(name, trigger="bench", full=full)
    return time.perf_counter() - started, outcome.record


def _pair(name: str, rounds: int) -> dict[str, Any]:
    first_seconds, first = _timed(name)
    assert first["status"] == "ok", first
    again = [_timed(name) for _ in range(rounds)]
    median = statistics.median(seconds for seconds, _ in again)
    last = again[-1][1]
    full = [_timed(name, full=True) for _ in range(rounds)]
    full_median = statistics.median(seconds for seconds, _ in full)
    return {
        "full_reread_seconds_median": round(full_median, 4),
        "full_reread_status": full[-1][1]["status"], "full_reread_counts": full[-1][1]["counts"],
        "ratio_first_to_full_reread": round(first_seconds / full_median, 1),
        "first_seconds": round(first_seconds, 4), "first_status": first["status"],
        "first_counts": first["counts"], "first_bytes": first["bytes"],
        "reharvest_seconds_median": round(median, 4),
        "reharvest_seconds": [round(s, 4) for s, _ in again],
        "reharvest_status": last["status"], "reharvest_http_status": last["http_status"],
        "reharvest_bytes": last["bytes"], "reharvest_counts": last["counts"],
        "ratio_first_to_reharvest": round(first_seconds / median, 1) if median else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=DEFAULT_FILE, help="a real catalog file")
    parser.add_argument("--rounds", type=int, default=5, help="re-harvests to time (median)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    if not args.file.is_file():
        raise SystemExit(f"no catalog file at {args.file} (is ../shared/data there?)")

    from config.app import create_app
    from config.extensions import db
    from config.migrate import upgrade
    from config.settings import load_settings
    from search.sources import SourceSpec, add_source
    from tests.http_catalog import HttpCatalog

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="scenewatch-bench-") as tmp, HttpCatalog() as portal:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
        env.update(SCENEWATCH_DATA_DIR=tmp, SCENEWATCH_SCHEDULER="0")
        app = create_app(load_settings(env))
        with app.app_context():
            upgrade()
            portal.put(args.file.name, args.file)
            with db.session() as session:
                add_source(session, SourceSpec(name="by-url", location=portal.url(args.file.name)))
                add_source(session, SourceSpec(name="by-file", location=str(args.file)))
            url = _pair("by-url", args.rounds)
            conditional = [r for r in portal.requests_for(args.file.name)
                           if "if-none-match" in r.headers]
            url["conditional_requests"] = len(conditional)
            url["answers_304"] = sum(r.status == 304 for r in conditional)
            file = _pair("by-file", args.rounds)
            if db.engine is not None:
                db.engine.dispose()

    result = {
        "benchmark": "first harvest vs unchanged re-harvest: URL source (conditional GET, 304) "
                     "and file source (validator unchanged); forced full re-reads for comparison",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "catalog": args.file.name, "records": url["first_counts"]["seen"],
        "url_source": url, "file_source": file,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{args.file.name}: {result['records']} records")
    for label, key in (("URL source ", "url_source"), ("file source", "file_source")):
        part = result[key]
        print(f"  {label}: first {part['first_seconds']:.3f} s, unchanged re-harvest "
              f"{part['reharvest_seconds_median']:.4f} s median of {args.rounds} "
              f"({part['reharvest_status']}, HTTP {part['reharvest_http_status']}, "
              f"{part['reharvest_bytes']} bytes): {part['ratio_first_to_reharvest']}× faster; "
              f"forced full re-read {part['full_reread_seconds_median']:.3f} s "
              f"({part['ratio_first_to_full_reread']}×)")
    print(f"  peak RSS {result['peak_rss_mb']} MB; written to {args.out}")


if __name__ == "__main__":
    main()
