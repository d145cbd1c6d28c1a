"""Search latency of the PostgreSQL backend on the full CNPDS catalog, beside the
embedded FTS5 backend on the same catalog, with the same query mix.

Both indexes are built from the same documents (the SQLite one is reused from
``--data-dir`` when it is there, as ``search_latency.py`` leaves it); the mix is the
one of ``search_latency.py``. Each round times every query on both backends in turn,
so both see the same machine load. Prints p50 / p95 / max per backend and writes
``bench/results/search_postgres.json``.

    SCENEWATCH_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/bench \\
        .venv/bin/python bench/search_latency_pg.py [--data-dir DIR] [--rebuild] [--rounds N]

The PostgreSQL index goes into the schema ``bench_search`` of that database (created
if missing; ``--rebuild`` refills it).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cnpds_documents import DEFAULT_DATA, documents  # noqa: E402
from bench.search_catalog import build_index  # noqa: E402
from bench.search_latency import BENCH_NOW, percentile, query_mix, sample_values  # noqa: E402
from search.backends.base import FACET_FIELDS, SearchBackend  # noqa: E402
from search.backends.postgres import PostgresSearchBackend  # noqa: E402
from search.query import parse_query  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "search_postgres.json"
SCHEMA = "bench_search"


def build_postgres(url: str, source: Path, rebuild: bool) -> tuple[PostgresSearchBackend, dict[str, Any]]:
    """The PostgreSQL backend in schema :data:`SCHEMA`, filled from ``source`` if needed."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    engine.dispose()
    backend = PostgresSearchBackend(url, schema=SCHEMA)
    backend.ensure_index()
    info: dict[str, Any] = {"reused": True}
    if rebuild or backend.count() == 0:
        docs = list(documents(source))
        started, cpu = time.perf_counter(), time.process_time()
        report = backend.rebuild(docs, progress=True, total=len(docs))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        info = {"reused": False, "indexed": report.indexed, "failed": len(report.failed),
                "index_seconds": round(elapsed, 2), "docs_per_second": round(report.indexed / elapsed),
                "client_cpu_seconds": round(cpu, 2)}
        print(f"postgres: indexed {report.indexed} documents in {elapsed:.1f}s")
    return backend, info


def timed(backends: dict[str, SearchBackend], mix: list[tuple[str, dict[str, Any], str]],
          rounds: int) -> dict[str, dict[str, Any]]:
    """Every query of the mix on each backend in turn, ``rounds`` times after a warm-up
    round; wall-clock milliseconds per backend, overall and by kind. Also checks that
    both backends agree on every total (the parity suite checks far more)."""
    queries = [(kind, parse_query(q), sort) for kind, q, sort in mix]
    out: dict[str, dict[str, Any]] = {name: {"timings": [], "by_kind": {}} for name in backends}
    for round_no in range(rounds + 1):
        for n, (kind, query, sort) in enumerate(queries):
            totals = set()
            for name, backend in backends.items():
                started = time.perf_counter()
                result = backend.search(query, limit=20, offset=20 * (n % 3), facets=FACET_FIELDS,
                                        sort=sort, now=BENCH_NOW)
                elapsed = (time.perf_counter() - started) * 1000
                totals.add(result.total)
                if round_no:
                    out[name]["timings"].append(elapsed)
                    out[name]["by_kind"].setdefault(kind, []).append(elapsed)
            if len(totals) != 1:
                raise SystemExit(f"backends disagree on the total of {mix[n][1]}: {totals}")
    return out


def summary(measured: dict[str, Any]) -> dict[str, Any]:
    timings = measured["timings"]
    return {
        "p50_ms": round(statistics.median(timings), 1),
        "p95_ms": round(percentile(timings, 0.95), 1),
        "max_ms": round(max(timings), 1),
        "mean_ms": round(statistics.fmean(timings), 1),
        "by_kind": {kind: {"n": len(v), "p50_ms": round(statistics.median(v), 1),
                           "p95_ms": round(percentile(v, 0.95), 1), "max_ms": round(max(v), 1)}
                    for kind, v in measured["by_kind"].items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", type=Path, default=Path("instance/bench-search"))
    parser.add_argument("--source", type=Path, default=DEFAULT_DATA, help="the cnpds-china-portals folder")
    parser.add_argument("--rebuild", action="store_true", help="index again even if the indexes exist")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    url = os.environ.get("SCENEWATCH_BENCH_POSTGRES_URL") or os.environ.get("SCENEWATCH_TEST_POSTGRES_URL")
    if not url:
        raise SystemExit("set SCENEWATCH_BENCH_POSTGRES_URL to a PostgreSQL database for the bench")

    sqlite_backend, sqlite_build = build_index(args.data_dir, args.source, args.rebuild)
    pg_backend, pg_build = build_postgres(url, args.source, args.rebuild)
    if pg_backend.count() != sqlite_backend.count():
        raise SystemExit(f"the indexes differ: {pg_backend.count()} vs {sqlite_backend.count()} documents")
    mix = query_mix(sample_values(sqlite_backend, args.data_dir / "search.sqlite"))
    measured = timed({"postgres": pg_backend, "sqlite": sqlite_backend}, mix, args.rounds)
    result = {
        "benchmark": "search with the default facets, full CNPDS catalog, same mix on both backends",
        "queries_in_mix": len(mix),
        "rounds": args.rounds,
        "documents": pg_backend.count(),
        "postgres": {**summary(measured["postgres"]), "build": pg_build},
        "sqlite": {**summary(measured["sqlite"]), "build": sqlite_build},
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"{len(mix)} queries x {args.rounds} rounds on {result['documents']} documents "
          f"(load {result['load_average']}):")
    for name in ("postgres", "sqlite"):
        row = result[name]
        print(f"  {name:<9} p50 {row['p50_ms']:>7} ms  p95 {row['p95_ms']:>7} ms  max {row['max_ms']:>7} ms")
    for kind in result["postgres"]["by_kind"]:
        pg, lite = result["postgres"]["by_kind"][kind], result["sqlite"]["by_kind"][kind]
        print(f"    {kind:<24} postgres p50 {pg['p50_ms']:>7} / p95 {pg['p95_ms']:>7}   "
              f"sqlite p50 {lite['p50_ms']:>7} / p95 {lite['p95_ms']:>7}")
    print(f"written to {RESULTS}")
    pg_backend.close()
    sqlite_backend.close()


if __name__ == "__main__":
    main()
