"""The embedded FTS5 backend (search.backends.sqlite) on real CNPDS records.

``tests/fixtures/search/cnpds_sample.json`` is a small extract of the CNPDS portal
catalogs (Apache-2.0, see NOTICE), converted by ``bench/cnpds_documents.py``.
Expected answers come from the reference reading of the query model
(``tests.parity.make_golden.matches``), never from the backend itself.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from search.backends.sqlite import SqliteSearchBackend
from search.query import parse_query
from tests.parity.make_golden import filter_values
from tests.search.sqlite_fixtures import NOW, expected_ids, search

pytest_plugins = ("tests.search.sqlite_fixtures",)  # documents, backend, loaded


def text_of(document: dict[str, Any]) -> str:
    """The searchable text of a fixture document, as one string."""
    fields = [document["title"], document["description"], document["publisher"]]
    return " ".join(fields + document["tags"] + document["themes"])


def doc(doc_id: str, **fields: Any) -> dict[str, Any]:
    return {"id": doc_id, "source": doc_id.split(":")[0], "title": "", **fields}


QUERIES: list[dict[str, Any]] = [
    {"text": "交通"},
    {"text": "外交"},
    {"text": "公共交通"},
    {"text": "交通 -出租"},
    {"text": "公交 | 地铁"},
    {"text": '"公共资源交易"'},
    {"text": "-交通"},
    {"filters": {"region": ["淮安市", "苏州市"]}},
    {"filters": {"formats": ["CSV"], "open_type": ["conditional"]}},
    {"filters": {"machine_readable": False}},
    {"filters": {"themes": ["交通运输"]}, "exclude": {"formats": ["xls"]}},
    {"exclude": {"open_type": ["unconditional", "conditional"]}},
    {"ranges": {"modified": {"gte": "now-30d"}}},
    {
        "ranges": {
            "created": {"gte": "2022-01-01", "lte": "2022-12-31"},
            "record_count": {"gte": 100},
        }
    },
    {"ranges": {"quality.completeness": {"gte": 0.9}}},
    {
        "text": "数据",
        "filters": {"open_type": "unconditional"},
        "ranges": {"modified": {"lt": "2023-01-01"}},
    },
    {"filters": {"region": "nowhere"}},
]


@pytest.mark.parametrize("query", QUERIES, ids=[json.dumps(q, ensure_ascii=False) for q in QUERIES])
def test_matches_the_reference_reading(
    loaded: SqliteSearchBackend, documents: list[dict[str, Any]], query: dict[str, Any]
) -> None:
    want = expected_ids(query, documents)
    assert list(loaded.iter_ids(parse_query(query), now=NOW)) == want
    assert search(loaded, query, limit=0).total == len(want)


def test_the_query_mix_is_discriminating(documents: list[dict[str, Any]]) -> None:
    sizes = [len(expected_ids(q, documents)) for q in QUERIES]
    assert sum(0 < n < len(documents) for n in sizes) >= len(QUERIES) - 3


def test_jiaotong_and_waijiao_on_real_titles(
    loaded: SqliteSearchBackend, documents: list[dict[str, Any]]
) -> None:
    titles = {d["id"]: d["title"] for d in documents}
    hits = [titles[i] for i in loaded.iter_ids(parse_query({"text": "交通"}))]
    assert "对外交通量（机场航班信息）" in hits
    assert "涉外交流活动信息" not in hits
    assert "淮阴区_关于印发淮阴区城乡公交一体化改造实施方案的通知" not in hits  # 交…通 apart
    by_id = {d["id"]: d for d in documents}
    transit = list(loaded.iter_ids(parse_query({"text": "公共交通"})))
    assert "关于有序恢复公共交通运营的通告" in [titles[i] for i in transit]
    assert all("公共交通" in text_of(by_id[i]) for i in transit)
    trading = [d for d in documents if "公共资源交易" in d["title"] and "公共交通" not in text_of(d)]
    assert trading and not {d["id"] for d in trading} & set(transit)


def test_filters_or_within_a_field_and_across_fields(
    loaded: SqliteSearchBackend, documents: list[dict[str, Any]]
) -> None:
    one = len(expected_ids({"filters": {"formats": ["csv"]}}, documents))
    either = search(loaded, {"filters": {"formats": ["csv", "xlsx"]}}, limit=0).total
    both = search(
        loaded, {"filters": {"formats": ["csv"], "machine_readable": True}}, limit=0
    ).total
    assert either > one > 0
    assert both == len(
        [d for d in documents if "csv" in d["formats"] and d["machine_readable"] is True]
    )


def test_relative_dates_are_evaluated_when_the_search_runs(loaded: SqliteSearchBackend) -> None:
    query = parse_query({"ranges": {"modified": {"gte": "now-30d"}}})
    at_crawl = loaded.search(query, limit=0, now=NOW).total
    a_year_later = loaded.search(
        query, limit=0, now=datetime(2024, 6, 20, tzinfo=UTC)
    ).total
    assert at_crawl > 0 and a_year_later == 0


def test_facets_count_the_matching_set(
    loaded: SqliteSearchBackend, documents: list[dict[str, Any]]
) -> None:
    query = {"text": "交通"}
    hits = [d for d in documents if d["id"] in set(expected_ids(query, documents))]
    result = search(
        loaded, query, facets=("formats", "region", "open_type", "machine_readable"), facet_size=50
    )
    for name, pairs in result.facets.items():
        counts = Counter(v for d in hits for v in filter_values(d, name))
        assert dict(pairs) == dict(counts), name
        assert [n for _, n in pairs] == sorted((n for _, n in pairs), reverse=True)
    top2 = search(loaded, query, facets=("formats",), facet_size=2).facets["formats"]
    assert top2 == result.facets["formats"][:2]


def test_unknown_facet_or_sort_is_refused(loaded: SqliteSearchBackend) -> None:
    with pytest.raises(ValueError, match="regoin"):
        search(loaded, {}, facets=("regoin",))
    with pytest.raises(ValueError, match="sort"):
        search(loaded, {}, sort="newest")


def test_match_all_fast_path_agrees_with_the_general_path(loaded: SqliteSearchBackend) -> None:
    everything = {"exclude": {"region": ["nowhere"]}}  # matches all, but not through the fast path
    for sort in ("relevance", "modified", "-modified", "title"):
        fast = search(loaded, {}, sort=sort, limit=15, offset=5)
        general = search(loaded, everything, sort=sort, limit=15, offset=5)
        assert fast.total == general.total == loaded.count()
        assert fast.facets == general.facets
        assert [h.id for h in fast.hits] == [h.id for h in general.hits], sort


def test_sorts(loaded: SqliteSearchBackend, documents: list[dict[str, Any]]) -> None:
    query = {"filters": {"open_type": "conditional"}}
    members = [d for d in documents if d["open_type"] == "conditional"]
    dated = sorted((d for d in members if d["modified"]), key=lambda d: (d["modified"], d["id"]))
    undated = sorted(d["id"] for d in members if not d["modified"])
    ids = lambda result: [h.id for h in result.hits]  # noqa: E731
    assert (
        ids(search(loaded, query, sort="modified", limit=500)) == [d["id"] for d in dated] + undated
    )
    assert ids(search(loaded, query, sort="-modified", limit=500)) == (
        [d["id"] for d in reversed(dated)] + undated[::-1]
    )
    assert ids(search(loaded, query, sort="title", limit=500)) == [
        d["id"] for d in sorted(members, key=lambda d: (d["title"].casefold(), d["id"]))
    ]


def test_relevance_weights_titles(backend: SqliteSearchBackend) -> None:
    backend.index(
        [
            doc("a:1", title="人口统计", description="地铁 " + "说明 " * 30),
            doc("a:2", title="地铁线路", description="线路"),
            doc("a:3", title="公交", description="地铁站点与公交站点"),
        ]
    )
    result = backend.search(parse_query({"text": "地铁"}))
    assert result.hits[0].id == "a:2"
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


def test_paging(loaded: SqliteSearchBackend) -> None:
    query = {"text": "信息"}
    whole = search(loaded, query, limit=60)
    pages = [search(loaded, query, limit=20, offset=o) for o in (0, 20, 40)]
    assert [h.id for p in pages for h in p.hits] == [h.id for h in whole.hits]
    assert {p.total for p in pages} == {whole.total}
    assert whole.total > 60
    past_end = search(loaded, query, limit=20, offset=whole.total)
    assert past_end.hits == [] and past_end.total == whole.total


def test_hits_carry_the_stored_document(
    loaded: SqliteSearchBackend, documents: list[dict[str, Any]]
) -> None:
    by_id = {d["id"]: d for d in documents}
    for hit in search(loaded, {"text": "公交"}).hits:
        assert hit.document == by_id[hit.id]


def test_iter_ids_streams_every_match(backend: SqliteSearchBackend) -> None:
    backend.index(
        doc(f"s:{n:05d}", title=f"公交线路 {n}", region="杭州市" if n % 2 else "宁波市")
        for n in range(2600)
    )
    ids = list(backend.iter_ids(parse_query({"text": "公交", "filters": {"region": "杭州市"}})))
    assert ids == [f"s:{n:05d}" for n in range(1, 2600, 2)]


def test_replace_and_delete(loaded: SqliteSearchBackend, documents: list[dict[str, Any]]) -> None:
    target = next(d for d in documents if d["title"] == "对外交通量（机场航班信息）")
    total = loaded.count()
    changed = {
        **target,
        "title": "机场航班信息",
        "description": "",
        "publisher": "机场",
        "tags": [],
        "themes": [],
        "formats": ["geojson"],
        "region": "新区",
    }
    assert loaded.index([changed]).indexed == 1
    assert loaded.count() == total
    assert target["id"] not in set(loaded.iter_ids(parse_query({"text": "交通"})))
    assert list(loaded.iter_ids(parse_query({"filters": {"formats": "geojson"}}))) == [target["id"]]
    assert ("新区", 1) in search(loaded, {}, facets=("region",), facet_size=100).facets["region"]
    assert search(loaded, {"text": "机场航班"}).hits[0].document == changed

    report = loaded.delete([target["id"], "nobody:1"])
    assert (report.deleted, loaded.count()) == (1, total - 1)
    assert list(loaded.iter_ids(parse_query({"filters": {"formats": "geojson"}}))) == []
    assert "新区" not in dict(
        search(loaded, {}, facets=("region",), facet_size=100).facets["region"]
    )
    loaded.clear()
    assert loaded.count() == 0 and search(loaded, {"text": "交通"}).total == 0


def test_bad_documents_are_reported_not_fatal(backend: SqliteSearchBackend) -> None:
    batch: list[Any] = [doc("a:1", title="公交"), {"title": "no id"}, "junk", doc("a:2", title="地铁")]
    report = backend.index(batch)
    assert report.indexed == 2
    assert [reason for _, reason in report.failed] == [
        "document has no id",
        "document is not an object",
    ]


def test_last_version_of_an_id_in_one_call_wins(backend: SqliteSearchBackend) -> None:
    backend.index([doc("a:1", title="公交"), doc("a:1", title="地铁")])
    assert backend.count() == 1
    assert (
        search(backend, {"text": "地铁"}).total == 1
        and search(backend, {"text": "公交"}).total == 0
    )


def test_two_processes_sharing_one_file_stay_consistent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.sqlite'}"
    writer, reader = SqliteSearchBackend(url), SqliteSearchBackend(url)
    writer.index([doc("a:1", title="公交", region="杭州市", formats=["csv"])])
    assert search(reader, {}, facets=("region",)).facets["region"] == [("杭州市", 1)]
    writer.index([doc("a:2", title="地铁", region="宁波市", formats=["csv", "json"])])
    assert (
        search(reader, {"filters": {"region": "宁波市"}}).total == 1
    )  # a value the reader never saw
    assert search(reader, {}, facets=("region",)).facets["region"] == [("宁波市", 1), ("杭州市", 1)]
    writer.clear()
    writer.index([doc("b:1", title="轮渡", region="舟山市", formats=["xml"])])  # codes start over
    result = search(reader, {}, facets=("region", "formats"))
    assert result.facets == {"region": [("舟山市", 1)], "formats": [("xml", 1)]}
    assert search(reader, {"filters": {"region": "杭州市"}}).total == 0


def test_threads_use_their_own_connections(loaded: SqliteSearchBackend) -> None:
    errors: list[BaseException] = []
    totals: list[int] = []

    def work() -> None:
        try:
            for _ in range(5):
                totals.append(search(loaded, {"text": "交通"}, limit=5).total)
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    loaded.index([doc("t:1", title="交通新数据")])  # a write while they read
    for t in threads:
        t.join()
    assert errors == []
    assert len(totals) == 20 and max(totals) - min(totals) <= 1


def test_lives_beside_the_catalog_tables(tmp_path: Path) -> None:
    path = tmp_path / "scenewatch.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE dataset (id TEXT PRIMARY KEY)")
    backend = SqliteSearchBackend(f"sqlite:///{path}")
    backend.ensure_index()
    SqliteSearchBackend(f"sqlite:///{path}").ensure_index()  # idempotent
    backend.index([doc("a:1", title="公交")])
    with sqlite3.connect(path) as conn:
        tables = {
            name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert (
        "dataset" in tables
        and {"search_doc", "search_fts", "search_body", "search_value"} <= tables
    )
    assert all(
        name == "dataset" or name.startswith("search_") or name.startswith("sqlite_")
        for name in tables
    )


def test_in_memory_url() -> None:
    backend = SqliteSearchBackend("sqlite://")
    backend.index([doc("a:1", title="公交", formats=["CSV"])])
    assert search(backend, {"filters": {"formats": "csv"}}).total == 1


def test_an_index_of_another_schema_version_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE search_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
        conn.execute("INSERT INTO search_meta VALUES ('schema', '0'), ('generation', '7')")
        conn.execute("CREATE TABLE search_doc (doc INTEGER PRIMARY KEY, old_column TEXT)")
    backend = SqliteSearchBackend(f"sqlite:///{path}")
    backend.index([doc("a:1", title="公交", region="杭州市")])
    assert search(backend, {"text": "公交", "filters": {"region": "杭州市"}}).total == 1
