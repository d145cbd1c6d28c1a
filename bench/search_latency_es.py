"""Search latency of the Elasticsearch backend, measured against osmem-server.

osmem-server is an in-memory OpenSearch-compatible server: a *functional stand-in*
used because no Elasticsearch node can run on our machines. Its figures say how the
backend code and the server's query path behave on this catalog, not how a real
Elasticsearch cluster would perform; the result file says so.

Same catalog and same query mix as ``bench/search_latency.py`` (the embedded FTS5
figure): the CNPDS portal catalogs converted by ``bench.cnpds_documents``, the mix
built by ``bench.search_latency.query_mix`` from the catalog's own most common
values, each query with the default facets, first round as warm-up. Results go to
``bench/results/search_es.json``.

    .venv/bin/python bench/search_latency_es.py [--limit N] [--rounds N] [--url URL]

``--url`` measures an existing cluster instead (the label then says which).
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.cnpds_documents import DEFAULT_DATA, documents  # noqa: E402
from bench.search_latency import BENCH_NOW, percentile, query_mix  # noqa: E402
from search.backends.base import FACET_FIELDS  # noqa: E402
from search.backends.elasticsearch import ElasticsearchBackend  # noqa: E402
from search.backends.elasticsearch.client import make_client, parse_search_url  # noqa: E402
from search.query import parse_query  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "search_es.json"
ALIAS = "bench-datasets"


def sample_values(docs: list[dict[str, Any]]) -> dict[str, list[str]]:
    """The inputs of ``query_mix``: the 40 commonest values of each filter field (count,
    then value) and the case-folded titles of the first 40,000 documents."""
    out: dict[str, list[str]] = {}
    for name in ("region", "open_type", "formats", "publisher", "themes"):
        counts: Counter[str] = Counter()
        for doc in docs:
            raw = doc.get(name)
            for value in raw if isinstance(raw, list) else [raw]:
                if isinstance(value, str) and value.strip():
                    counts[value.strip().lower() if name == "formats" else value.strip()] += 1
        out[name] = [v for v, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:40]]
    out["titles"] = [(d.get("title") or "").casefold() for d in docs[:40000]]
    return out


def start_server() -> tuple[Any, str, str]:
    from osmem_server import OsmemServer, __version__

    server = OsmemServer.start(japanese=False, startup_timeout=60)
    return server, server.url, f"osmem-server {__version__} (OpenSearch API {server.version}), in-memory"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_DATA, help="the cnpds-china-portals folder")
    parser.add_argument("--limit", type=int, default=0, help="index only the first N documents (0: all)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--url", default="", help="an existing cluster (default: start osmem-server)")
    args = parser.parse_args()

    server = None
    if args.url:
        url, label = args.url, "the cluster at --url (not osmem-server)"
    else:
        server, url, label = start_server()
    backend = ElasticsearchBackend(make_client(parse_search_url(url + ("&" if "?" in url else "?") + "timeout=300")),
                                   ALIAS)
    try:
        docs = list(islice(documents(args.source), args.limit or None))
        started = time.perf_counter()
        report = backend.rebuild(iter(docs), progress=True)
        elapsed = time.perf_counter() - started
        print(f"indexed {report.indexed} of {len(docs)} documents in {elapsed:.0f}s "
              f"({report.indexed / elapsed:.0f} docs/s); {len(report.failed)} failed")
        mix = query_mix(sample_values(docs))
        timings: list[float] = []
        by_kind: dict[str, list[float]] = {}
        queries = [(kind, parse_query(q), sort) for kind, q, sort in mix]
        for round_no in range(args.rounds + 1):
            for n, (kind, query, sort) in enumerate(queries):
                t0 = time.perf_counter()
                backend.search(query, limit=20, offset=20 * (n % 3), facets=FACET_FIELDS, sort=sort, now=BENCH_NOW)
                ms = (time.perf_counter() - t0) * 1000
                if round_no:  # round 0 warms up
                    timings.append(ms)
                    by_kind.setdefault(kind, []).append(ms)
        summary = {
            "server": label,
            "note": "osmem-server is a functional stand-in for Elasticsearch: these figures are not "
                    "Elasticsearch performance" if server else "measured against the cluster given",
            "queries_in_mix": len(mix), "rounds": args.rounds, "documents": backend.count(),
            "catalog_documents": len(docs), "limited": bool(args.limit),
            "p50_ms": round(statistics.median(timings), 1), "p95_ms": round(percentile(timings, 0.95), 1),
            "max_ms": round(max(timings), 1), "mean_ms": round(statistics.fmean(timings), 1),
            "by_kind": {kind: {"n": len(v), "p50_ms": round(statistics.median(v), 1),
                               "p95_ms": round(percentile(v, 0.95), 1), "max_ms": round(max(v), 1)}
                        for kind, v in by_kind.items()},
            "build": {"indexed": report.indexed, "failed": len(report.failed), "index_seconds": round(elapsed, 1),
                      "docs_per_second": round(report.indexed / elapsed)},
            "python": platform.python_version(), "machine": platform.machine(),
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
        }
    finally:
        for name in backend._versioned_indices():  # by name: clusters refuse wildcard deletes
            backend.client.options(ignore_status=404).indices.delete(index=name)
        backend.close()
        if server is not None:
            server.close()
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(summary, ensure_ascii=False, indent=2) + "\n", "utf-8")
    print(f"[{label}] {len(mix)} queries x {args.rounds} rounds on {summary['documents']} documents: "
          f"p50 {summary['p50_ms']} ms, p95 {summary['p95_ms']} ms, max {summary['max_ms']} ms")
    for kind, row in summary["by_kind"].items():
        print(f"  {kind:<24} n={row['n']:<4} p50 {row['p50_ms']:>7} ms  p95 {row['p95_ms']:>7} ms")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
