"""Both search backends give the golden answers on the same real-data catalog.

The golden queries and their expected ids, facet counts and sorted first pages are in
``golden.json`` (made by ``make_golden.py`` from the reference reading of the query
model, not by any backend). Every query runs on the embedded FTS5 backend, on the
Elasticsearch backend (osmem-server, or SCENEWATCH_TEST_ES_URL) and on the PostgreSQL
backend (SCENEWATCH_TEST_POSTGRES_URL; marker postgres) through the same code; any
difference from the golden answer, on any side, fails.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from search.query import parse_query
from search.query_values import parse_datetime
from tests.parity.make_golden import CATALOG, FACET_SIZE, FACETS, GOLDEN, PAGE, load_catalog

ENTRIES: list[dict[str, Any]] = json.loads(GOLDEN.read_text("utf-8"))["queries"]
BACKENDS = ("sqlite", "elasticsearch", pytest.param("postgres", marks=pytest.mark.postgres))


@pytest.fixture(scope="module")
def catalog() -> list[dict[str, Any]]:
    return load_catalog()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest, catalog: list[dict[str, Any]],
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One backend with the whole fixture catalog indexed."""
    if request.param == "sqlite":
        from search.backends.sqlite import SqliteSearchBackend

        path: Path = tmp_path_factory.mktemp("parity") / "search.sqlite"
        instance: Any = SqliteSearchBackend(f"sqlite:///{path}")
    elif request.param == "postgres":
        from tests.search.pg_fixtures import new_backend as new_pg_backend

        instance = new_pg_backend()
    else:
        from tests.search.es_fixtures import new_backend, server_url

        instance = new_backend(server_url())
    instance.ensure_index()
    try:
        report = instance.index(catalog)
        assert report.failed == [] and report.indexed == len(catalog)
        assert instance.count() == len(catalog)
        yield instance
    finally:
        if request.param == "elasticsearch":
            from tests.search.es_fixtures import drop_backend

            drop_backend(instance)
        elif request.param == "postgres":
            from tests.search.pg_fixtures import drop_backend as drop_pg_backend

            drop_pg_backend(instance)
        else:
            instance.close()


def _now(entry: dict[str, Any]) -> datetime | None:
    return parse_datetime(entry["now"]) if entry.get("now") else None


def test_golden_file_is_well_formed() -> None:
    names = [e["name"] for e in ENTRIES]
    assert len(names) >= 40 and len(set(names)) == len(names)
    assert CATALOG.stat().st_size < 2 * 1024 * 1024
    sizes = [len(e["expected"]["ids"]) for e in ENTRIES]
    # Discriminating: most queries pick a handful to a few hundred of the 3,300 documents.
    assert sum(1 <= n <= 700 for n in sizes) >= 0.75 * len(sizes)
    assert sum(n == 0 for n in sizes) >= 3  # and some are empty on purpose


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["name"] for e in ENTRIES])
def test_golden_query(backend: Any, entry: dict[str, Any]) -> None:
    query = parse_query(entry["query"])
    now = _now(entry)
    want = entry["expected"]
    assert list(backend.iter_ids(query, now=now)) == want["ids"]
    result = backend.search(query, limit=PAGE, facets=FACETS, facet_size=FACET_SIZE, sort="title", now=now)
    assert result.total == len(want["ids"])
    assert {name: [list(pair) for pair in pairs] for name, pairs in result.facets.items()} == want["facets"]
    assert [h.id for h in result.hits] == want["pages"]["title"]
    for sort in ("modified", "-modified"):
        page = backend.search(query, limit=PAGE, facets=(), sort=sort, now=now)
        assert [h.id for h in page.hits] == want["pages"][sort], sort
    ranked = backend.search(query, limit=PAGE, facets=(), now=now)  # relevance: order may differ, members not
    assert {h.id for h in ranked.hits} <= set(want["ids"]) and len(ranked.hits) == min(PAGE, len(want["ids"]))
