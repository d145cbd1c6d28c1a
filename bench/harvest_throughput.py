"""Harvest throughput: every CNPDS portal file into a fresh installation.

    .venv/bin/python bench/harvest_throughput.py [--data DIR] [--out FILE] [--no-rerun]
                                                 [--baseline REV]

A fresh data dir is made in a temporary directory, migrated like ``scenewatch init``
(SQLite store + embedded FTS5 index), and the 68 portal files are harvested one
after another in this process, through the full path: read, map, normalise,
identify, store, index. Prints records/s and peak RSS, and writes them as JSON to
``bench/results/harvest.json``. The rerun harvests the same files again (everything
unchanged), which is what a scheduled harvest mostly sees.

Requirements: at least 5,000 records/s including indexing; peak RSS at most 1 GB. The raw
FTS5 floor (the same text analysed and put in a bare FTS5 table) is measured in the same
run: the share of it is the figure to compare on a shared machine. ``--baseline REV``
also runs this bench as it was at git revision REV (an exported tree, in a child
process, first harvest only) right after this one, and reports the speed-up over it:
a before/after pair measured under the same load.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import platform
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "cnpds-china-portals"
DEFAULT_OUT = ROOT / "bench" / "results" / "harvest.json"
FOLDERS = ("datacrawler", "guangxi_hainan", "sichuan_guizhou", "tamakow")  # not older_versions/
NOW = datetime(2023, 7, 1, tzinfo=UTC)  # just after the crawl, so timeliness is meaningful


def portal_files(data_dir: Path) -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (data_dir / folder).glob("*.json*")
                  if p.is_file())


def peak_rss_mb() -> float:
    # ru_maxrss is in kilobytes on Linux (bytes on macOS).
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


def harvest_all(files: list[Path], now: datetime) -> dict[str, Any]:
    from search.harvest import run_harvest

    totals = {"records": 0, "new": 0, "changed": 0, "unchanged": 0, "removed": 0, "quarantined": 0,
              "index_failures": 0}
    slowest: list[tuple[float, str, int]] = []
    wall, cpu = time.perf_counter(), time.process_time()
    for path in files:
        started = time.perf_counter()
        summary = run_harvest(path.name.split(".")[0], str(path), now=now)
        slowest.append((time.perf_counter() - started, path.name, summary.seen))
        totals["records"] += summary.seen
        for key in ("new", "changed", "unchanged", "removed", "quarantined"):
            totals[key] += getattr(summary, key)
        totals["index_failures"] += len(summary.index_failures)
    seconds = time.perf_counter() - wall
    slowest.sort(reverse=True)
    return {
        **totals,
        "seconds": round(seconds, 2),
        "cpu_seconds": round(time.process_time() - cpu, 2),
        "records_per_second": round(totals["records"] / seconds),
        "slowest_files": [{"file": name, "records": seen, "seconds": round(s, 2)}
                          for s, name, seen in slowest[:5]],
    }


def fts5_floor(tmp: str) -> dict[str, Any]:
    """The raw floor: the same datasets' text analysed (CJK bigrams) and inserted into a
    bare FTS5 table, nothing else — what indexing alone costs on this machine now."""
    import sqlite3

    from sqlalchemy import select

    from config.extensions import db
    from search.models import Dataset
    from search.text import index_text

    with db.session() as session:
        rows = session.execute(select(Dataset.title, Dataset.description, Dataset.tags,
                                      Dataset.themes)).all()
    conn = sqlite3.connect(os.path.join(tmp, "floor.sqlite"), isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE VIRTUAL TABLE f USING fts5(title, description, keywords, "
                 "tokenize = \"unicode61 remove_diacritics 0 tokenchars '._,'''\")")
    wall, cpu = time.perf_counter(), time.process_time()
    for start in range(0, len(rows), 2000):
        conn.execute("BEGIN")
        conn.executemany("INSERT INTO f (title, description, keywords) VALUES (?, ?, ?)", [
            (index_text(title), index_text(description),
             " _ ".join(index_text(k) for k in [*(tags or []), *(themes or [])]))
            for title, description, tags, themes in rows[start:start + 2000]])
        conn.execute("COMMIT")
    seconds = time.perf_counter() - wall
    cpu = time.process_time() - cpu
    conn.close()
    return {"records": len(rows), "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2),
            "records_per_second": round(len(rows) / seconds)}


def baseline(rev: str, data_dir: Path) -> dict[str, Any]:
    """This bench as it was at ``rev``, run on its own exported tree in a child process."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", "--format=tar", rev],
                             capture_output=True, check=True).stdout
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", rev],
                            capture_output=True, check=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory(prefix="scenewatch-baseline-") as tree:
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(tree, filter="data")
        out = Path(tree) / "baseline.json"
        # The exported tree comes first on the path, ahead of this checkout's install.
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
        env["PYTHONPATH"] = tree
        subprocess.run([sys.executable, str(Path(tree) / "bench" / "harvest_throughput.py"),
                        "--no-rerun", "--data", str(data_dir), "--out", str(out)],
                       cwd=tree, env=env, check=True, stdout=subprocess.DEVNULL)
        found = json.loads(out.read_text(encoding="utf-8"))
    first = found["first_harvest"]
    return {"revision": commit, "records": first["records"], "seconds": first["seconds"],
            "cpu_seconds": first["cpu_seconds"], "records_per_second": first["records_per_second"],
            # Not its peak RSS: Linux carries ru_maxrss over from the parent through exec.
            "fts5_floor_records_per_second": found["fts5_floor"]["records_per_second"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA,
                        help="the cnpds-china-portals folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--no-rerun", dest="rerun", action="store_false",
                        help="skip the unchanged rerun")
    parser.add_argument("--baseline", metavar="REV",
                        help="also run this bench as it was at git revision REV, for the speed-up")
    args = parser.parse_args()
    files = portal_files(args.data)
    if not files:
        raise SystemExit(f"no portal files under {args.data} (is ../shared/data there?)")

    from config.app import init_services
    from config.extensions import db, search
    from config.migrate import upgrade
    from config.settings import load_settings

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="scenewatch-bench-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCENEWATCH_")}
        env["SCENEWATCH_DATA_DIR"] = tmp
        settings = load_settings(env)
        init_services(settings)
        upgrade()
        first = harvest_all(files, NOW)
        rerun = harvest_all(files, NOW) if args.rerun else None
        floor = fts5_floor(tmp)
        indexed = search.get().count()
        if db.engine is not None:
            db.engine.dispose()
        search.get().close()
    before = baseline(args.baseline, args.data) if args.baseline else None

    result = {
        "benchmark": "harvest every CNPDS portal file into a fresh installation "
                     "(store + FTS5 index)",
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": len(files),
        "first_harvest": first,
        "unchanged_rerun": rerun,
        "documents_indexed": indexed,
        "fts5_floor": floor,
        "share_of_floor": round(first["records_per_second"] / floor["records_per_second"], 3),
        "peak_rss_mb": peak_rss_mb(),
        "baseline": before and {
            **before,
            "speedup": round(first["records_per_second"] / before["records_per_second"], 2),
            "cpu_speedup": round(before["cpu_seconds"] / first["cpu_seconds"], 2)},
        "requirement": {"records_per_second": 5000, "peak_rss_mb": 1024},
        "note": "the machine is shared: compare share_of_floor (same run), not seconds across runs",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(),
                    "load_average_before": [round(x, 2) for x in load_before],
                    "load_average_after": [round(x, 2) for x in os.getloadavg()]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(files)} files, {first['records']} records in {first['seconds']} s "
          f"({first['cpu_seconds']} s CPU): "
          f"{first['records_per_second']} records/s including indexing "
          f"({first['quarantined']} quarantined, {first['index_failures']} index failures)")
    if rerun:
        print(f"unchanged rerun: {rerun['records_per_second']} records/s")
    print(f"raw FTS5 floor {floor['records_per_second']} records/s in the same run: the harvest runs at "
          f"{result['share_of_floor']:.0%} of it")
    if before:
        print(f"baseline {before['revision']}: {before['records_per_second']} records/s, "
              f"{before['cpu_seconds']} s CPU: {result['baseline']['speedup']}x faster now "
              f"({result['baseline']['cpu_speedup']}x less CPU)")
    print(f"peak RSS {result['peak_rss_mb']} MB; {indexed} documents indexed; "
          f"written to {args.out}")


if __name__ == "__main__":
    main()
