"""Write BENCHMARKS.md from the latest ``bench/results/*.json`` (one row per bench).

    .venv/bin/python bench/benchmarks_table.py

Every bench writes its own result file; this only reads them, so the table shows
what was last measured, when, and with which command.
"""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
OUT = ROOT / "BENCHMARKS.md"


def _get(data: dict[str, Any], *path: str) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)  # type: ignore[assignment]
    return data


def _harvest(d: dict[str, Any]) -> str:
    first = d["first_harvest"]
    floor = _get(d, "fts5_floor", "records_per_second")
    share = f"; raw FTS5 floor {floor:,}/s in the same run, harvest at {d['share_of_floor']:.0%} of it" \
        if floor else ""
    before = d.get("baseline")
    speedup = (f"; {before['speedup']}× the {before['records_per_second']:,}/s of {before['revision']} "
               f"in the same run (CPU {before['cpu_speedup']}×)") if before else ""
    return (f"{first['records']:,} records: {first['records_per_second']:,} records/s with indexing "
            f"({first['seconds']} s, {first.get('cpu_seconds', '–')} s CPU){share}{speedup}; "
            f"peak RSS {d['peak_rss_mb']} MB")


def _search(d: dict[str, Any]) -> str:
    text, floor = d.get("text_queries"), d.get("fts5_floor")
    ratio = (f"; text queries p95 {text['p95_ms']} ms (CPU {text['cpu_p95_ms']} ms) vs raw FTS5 floor "
             f"{floor['p95_ms']} ms (CPU {floor['cpu_p95_ms']} ms) in the same run"
             if text and floor else "")
    return (f"{d['documents']:,} docs, {d['queries_in_mix']} queries × {d['rounds']}: p50 {d['p50_ms']} ms, "
            f"p95 {d['p95_ms']} ms (CPU p50 {d.get('cpu_p50_ms', '–')} ms, p95 {d.get('cpu_p95_ms', '–')} ms; "
            f"load {d.get('load_average')}){ratio}")


def _search_es(d: dict[str, Any]) -> str:
    return f"{d['documents']:,} docs: p50 {d['p50_ms']} ms, p95 {d.get('p95_ms')} ms (osmem-server stand-in)"


def _webhook(d: dict[str, Any]) -> str:
    fan, change = d["fanout"], d["change_to_webhook"]
    return (f"{fan['notifications']:,} notifications: {fan['deliveries_per_s']:,} deliveries/s; "
            f"change → webhook p50 {change['p50_ms']} ms, p95 {change['p95_ms']} ms")


def _scale(d: dict[str, Any]) -> str:
    return (f"{d['scenes']:,} scenes, {len(d['rounds'])} rounds: harvest end → last affected diff p95 "
            f"{d['last_diff_recorded_p95_s']} s (median {d['last_diff_recorded_median_s']} s), last webhook "
            f"p95 {d['last_webhook_received_p95_s']} s; {d['speedup_vs_full']}× faster than recomputing every "
            f"scene (CPU {d.get('cpu_speedup_vs_full')}×); identical diffs: {d['identical_diffs']}; "
            f"peak RSS {d['peak_rss_mb']} MB")


def _growth(d: dict[str, Any]) -> str:
    keep, bounded = d["keep_everything"], d["with_retention"]
    return (f"{keep['rows']['runs']:,} runs: {keep['store_mb']} MB keeping everything, {bounded['store_mb']} MB "
            f"with {bounded['retention_days']}-day retention and its weekly VACUUM "
            f"({bounded['store_mb_after_vacuum']} MB after one more by hand)")


BENCHES: list[tuple[str, str, str, str, Callable[[dict[str, Any]], str]]] = [
    ("harvest throughput", "harvest.json", "≥ 5,000 records/s, RSS ≤ 1 GB",
     ".venv/bin/python bench/harvest_throughput.py [--baseline REV]", _harvest),
    ("search preview, 128k", "search_sqlite.json", "p95 < 50 ms",
     ".venv/bin/python bench/search_latency.py", _search),
    ("search preview, 1M", "search_sqlite_1m.json", "p95 < 200 ms",
     ".venv/bin/python bench/search_latency.py --replicate 8 --data-dir instance/bench-search-1m", _search),
    ("search on osmem-server", "search_es.json", "(functional stand-in)",
     ".venv/bin/python bench/search_latency_es.py", _search_es),
    ("webhook fan-out", "webhook.json", "≥ 1,000 deliveries/s",
     ".venv/bin/python bench/webhook_fanout.py", _webhook),
    ("10,000 on-change scenes", "scene_scale.json", "p95 < 5 s, ≥ 20×, identical, RSS ≤ 1 GB",
     "nohup .venv/bin/python bench/scene_scale.py --scenes 10000 --rounds 5 --instance DIR &", _scale),
    ("store growth, a year", "store_growth.json", "bounded with retention",
     ".venv/bin/python bench/store_growth.py", _growth),
]


def render() -> str:
    lines = [
        "# Benchmarks",
        "",
        "Latest figures of every bench (written by `.venv/bin/python bench/benchmarks_table.py` from",
        "`bench/results/*.json`). The machine is 2 cores shared with other work: wall-clock figures",
        "move with its load (each result file records the load average); compare ratios measured",
        "in one run (share of the FTS5 floor, speed-up over the full recompute, CPU time) rather",
        "than seconds across runs. Long benches run in the background and are not part of `make test`.",
        "",
        "| bench | target | latest | measured | command |",
        "|---|---|---|---|---|",
    ]
    for name, filename, target, command, describe in BENCHES:
        path = RESULTS / filename
        if not path.exists():
            lines.append(f"| {name} | {target} | not measured yet | – | `{command}` |")
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        when = data.get("measured_at") or data.get("when") or data.get("at") or "–"
        lines.append(f"| {name} | {target} | {describe(data)} | {when} | `{command}` |")
    return "\n".join(lines) + "\n"


def main() -> None:
    OUT.write_text(render(), encoding="utf-8")
    print(f"written to {OUT}")


if __name__ == "__main__":
    main()
