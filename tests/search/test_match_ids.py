"""``match_ids``: which of some candidate ids a query matches, on both backends.

Reverse matching evaluates scenes only on candidates; the answer must be exactly
the full query's matches among them (SQLite checks the text per candidate, the
Elasticsearch backend batches ids-filtered searches into ``_msearch``)."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from search.backends.elasticsearch import ElasticsearchBackend
from search.backends.sqlite import SqliteSearchBackend
from search.query import parse_query
from tests.search.test_elasticsearch import doc

pytest_plugins = ("tests.search.es_fixtures",)

NOW = datetime(2023, 12, 1, tzinfo=UTC)
QUERIES: list[dict[str, Any]] = [
    {},
    {"text": "交通"},
    {"text": "交通 | 教育", "filters": {"formats": ["csv"]}},
    {"text": "数据 -外交"},
    {"text": "-交通"},
    {"filters": {"publisher": ["统计局"]}, "ranges": {"record_count": {"gte": 5}}},
    {"ranges": {"modified": {"gte": "now-120d"}}},
    {"text": '"公共交通"', "exclude": {"region": ["宁波市"]}},
]
DOCS = [
    doc(n, title=title, region=region, formats=formats)
    for n, (title, region, formats) in enumerate([
        ("北京市公共交通线路数据", "杭州市", ["csv"]),
        ("外交部数据", "杭州市", ["xls"]),
        ("教育统计数据", "宁波市", ["csv"]),
        ("公共交通站点", "宁波市", ["json"]),
        ("交通流量", "杭州市", ["csv"]),
        ("天气", "杭州市", ["csv"]),
        ("交流与通知", "杭州市", ["csv"]),
        ("中小学教育数据", "杭州市", ["xls"]),
    ], start=1)
]


def _check(backend: Any) -> None:
    backend.index(DOCS)
    everything = [d["id"] for d in DOCS] + ["t:missing"]
    picks = [everything, everything[::2], everything[1::3], [], ["t:missing"]]
    requests = [(parse_query(q), ids) for q in QUERIES for ids in picks]
    answers = backend.match_ids(requests, now=NOW)
    assert len(answers) == len(requests)
    nonempty = 0
    for (query, ids), answer in zip(requests, answers, strict=True):
        expected = set(backend.iter_ids(query, now=NOW)) & set(ids)
        assert answer == expected, (query, ids)
        nonempty += bool(answer)
    assert nonempty > len(requests) // 3  # the check is not vacuous


def test_sqlite_match_ids() -> None:
    _check(SqliteSearchBackend("sqlite://"))


def test_elasticsearch_match_ids(es_backend: ElasticsearchBackend) -> None:
    _check(es_backend)


@pytest.mark.postgres
def test_postgres_match_ids() -> None:
    from tests.search.pg_fixtures import drop_backend, new_backend

    backend = new_backend()
    try:
        _check(backend)
    finally:
        drop_backend(backend)
