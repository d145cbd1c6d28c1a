"""The catalog the search benches query: CNPDS indexed once into a data dir by the
embedded backend (reused on later runs), optionally replicated with perturbed copies
to reach a 1M-record catalog."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.cnpds_documents import documents
from search.backends.sqlite import SqliteSearchBackend

SUFFIXES = ["（年度）", "（汇总）", "明细", "统计表", "目录", "（公开版）", "清单", "数据集", "名录", "（更新）"]


def replicated(docs: list[dict[str, Any]], copies: int, seed: int = 8) -> Iterator[dict[str, Any]]:
    """``docs`` and ``copies - 1`` perturbed copies: other ids, titles with an extra word,
    some publishers split into branches, dates moved by up to a year."""
    rng = random.Random(seed)
    yield from docs
    for copy in range(1, copies):
        for doc in docs:
            twin = dict(doc)
            twin["id"] = f"{doc['id']}-r{copy}"
            twin["title"] = f"{doc.get('title') or ''}{rng.choice(SUFFIXES)}"
            if doc.get("publisher") and rng.random() < 0.3:
                twin["publisher"] = f"{doc['publisher']}第{copy}分局"
            for name in ("created", "modified"):
                value = doc.get(name)
                if isinstance(value, str) and len(value) >= 10:
                    try:
                        moved = date.fromisoformat(value[:10]) - timedelta(days=rng.randint(0, 365))
                    except ValueError:
                        continue
                    twin[name] = moved.isoformat()
            yield twin


def build_index(
    data_dir: Path, source: Path, rebuild: bool, copies: int = 1
) -> tuple[SqliteSearchBackend, dict[str, Any]]:
    """The backend over ``data_dir/search.sqlite``, indexed from ``source`` if needed."""
    data_dir.mkdir(parents=True, exist_ok=True)
    backend = SqliteSearchBackend(f"sqlite:///{data_dir / 'search.sqlite'}")
    backend.ensure_index()
    info: dict[str, Any] = {"reused": True}
    if rebuild or backend.count() == 0:
        backend.clear()
        docs = list(documents(source))
        started, cpu = time.perf_counter(), time.process_time()
        report = backend.index(replicated(docs, copies))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        backend.optimize()
        info = {
            "reused": False,
            "indexed": report.indexed,
            "failed": len(report.failed),
            "index_seconds": round(elapsed, 2),
            "docs_per_second": round(report.indexed / elapsed),
            "cpu_docs_per_second": round(report.indexed / cpu),
        }
        print(
            f"indexed {report.indexed} documents in {elapsed:.1f}s "
            f"({info['docs_per_second']} docs/s wall, {info['cpu_docs_per_second']} docs/s CPU)"
        )
    return backend, info
