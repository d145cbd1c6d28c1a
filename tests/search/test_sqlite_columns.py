"""The embedded backend's per-generation column checks (filters, exclusions, ranges,
sorted and relevance pages) against the reference reading, on real CNPDS records."""
from __future__ import annotations

import json
from collections import Counter
from typing import Any

import pytest

from search.backends.sqlite import SqliteSearchBackend
from tests.parity.make_golden import filter_values
from tests.search.sqlite_fixtures import expected_ids, search

pytest_plugins = ("tests.search.sqlite_fixtures",)  # documents, backend, loaded


# Bounds whose edges the column checks must draw exactly as SQL does: fractional
# bounds on integer columns, strict date bounds, missing values, unknown keys.
EDGE_QUERIES = [
    {"ranges": {"record_count": {"gt": 65.5}}},
    {"ranges": {"record_count": {"gte": 66.0, "lt": 18578.5}}},
    {"ranges": {"record_count": {"lte": 0}}},
    {"ranges": {"modified": {"gt": "2022-06-01", "lt": "2023-01-01"}}},
    {"ranges": {"created": {"lte": "2021-12-31"}}},
    {"ranges": {"quality.completeness": {"lt": 0.5}}},
    {"filters": {"machine_readable": [True, False]}},
    {"exclude": {"machine_readable": [False]}, "filters": {"formats": ["xls", "nothing"]}},
    {"text": "-交通", "filters": {"open_type": "conditional"}},
]


@pytest.mark.parametrize(
    "query", EDGE_QUERIES, ids=[json.dumps(q, ensure_ascii=False) for q in EDGE_QUERIES]
)
def test_searches_agree_with_the_reference_at_the_edges(
    loaded: SqliteSearchBackend, documents: list[dict[str, Any]], query: dict[str, Any]
) -> None:
    want = expected_ids(query, documents)
    assert 0 < len(want) < len(documents)
    result = search(loaded, query, sort="modified", limit=len(documents), facets=("formats",),
                    facet_size=100)
    members = [d for d in documents if d["id"] in set(want)]
    dated = sorted((d for d in members if d["modified"]), key=lambda d: (d["modified"], d["id"]))
    undated = sorted(d["id"] for d in members if not d["modified"])
    assert [h.id for h in result.hits] == [d["id"] for d in dated] + undated
    assert dict(result.facets["formats"]) == dict(
        Counter(v for d in members for v in filter_values(d, "formats"))
    )


def test_filters_keep_the_relevance_order_of_the_text(
    loaded: SqliteSearchBackend, documents: list[dict[str, Any]]
) -> None:
    text = {"text": "交通 | 数据"}
    query = {**text, "filters": {"open_type": ["conditional"]}}
    want = set(expected_ids(query, documents))
    assert 0 < len(want) < len(expected_ids(text, documents))
    ranked = [(h.id, h.score) for h in search(loaded, text, limit=len(documents)).hits]
    for offset in (0, 3):
        page = search(loaded, query, limit=5, offset=offset).hits
        assert [(h.id, h.score) for h in page] == [r for r in ranked if r[0] in want][offset:offset + 5]


def test_a_write_is_seen_by_the_next_search(
    loaded: SqliteSearchBackend, documents: list[dict[str, Any]]
) -> None:
    query = {"filters": {"region": "新区"}, "ranges": {"record_count": {"gte": 5}}}
    assert search(loaded, query).total == 0
    target = documents[0]
    loaded.index([{**target, "region": "新区", "record_count": 7, "formats": ["geojson"]}])
    result = search(loaded, query, facets=("formats",), sort="title")
    assert [h.id for h in result.hits] == [target["id"]]
    assert result.facets["formats"] == [("geojson", 1)]
    loaded.index([{**target, "record_count": 4}])
    assert search(loaded, query).total == 0
