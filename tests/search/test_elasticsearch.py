"""The Elasticsearch backend against a running server (osmem-server, or the cluster
named by SCENEWATCH_TEST_ES_URL): indexing, rejections, deletes, paging, iteration
and the zero-downtime reindex."""
from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

import pytest

from search.backends.elasticsearch import ElasticsearchBackend
from search.backends.elasticsearch import backend as es_module
from search.query import parse_query

pytest_plugins = ("tests.search.es_fixtures",)  # es_url, es_backend: one server for all


def doc(n: int, **fields: Any) -> dict[str, Any]:
    base = {
        "id": f"t:{n:05d}", "source": "t", "title": f"数据集 {n}", "description": "", "publisher": "统计局",
        "region": "杭州市", "themes": [], "tags": [], "formats": ["csv"], "machine_readable": True,
        "open_type": "conditional", "update_frequency": "monthly", "license": "",
        "created": "2020-01-01", "modified": f"2023-{1 + n % 12:02d}-{1 + n % 28:02d}",
        "record_count": n, "resources": [], "landing_page": "", "quality": {"completeness": 0.5},
        "size": None,
    }
    return {**base, **fields}


def ids(backend: ElasticsearchBackend, query: dict[str, Any]) -> list[str]:
    return list(backend.iter_ids(parse_query(query)))


def test_index_search_facets_and_delete(es_backend: ElasticsearchBackend) -> None:
    docs = [
        doc(1, title="北京市公共交通线路数据", tags=["交通", "出行"], formats=["CSV", " json "]),
        doc(2, title="外交部新闻", publisher="外交部", machine_readable=False),
        doc(3, title="Bus stops of the city", description="Café opening hours", region="宁波市",
            publisher="City Hall"),
    ]
    report = es_backend.index(docs)
    assert (report.indexed, report.failed) == (3, [])
    assert es_backend.count() == 3  # visible at once: index() refreshes

    result = es_backend.search(parse_query({"text": "交通"}))
    assert [h.id for h in result.hits] == ["t:00001"]
    assert result.hits[0].document == docs[0]  # the document as given, nothing added
    assert ids(es_backend, {"text": "cafe"}) == ["t:00003"]  # accents folded
    assert ids(es_backend, {"text": '"bus stops city"'}) == ["t:00003"]  # stop words dropped
    assert ids(es_backend, {"text": "交通 | 新闻"}) == ["t:00001", "t:00002"]
    assert ids(es_backend, {"filters": {"formats": ["json"]}}) == ["t:00001"]  # trimmed, lower-cased
    assert ids(es_backend, {"exclude": {"machine_readable": [False]}}) == ["t:00001", "t:00003"]

    facets = es_backend.search(parse_query({}), facets=["publisher", "region", "formats"]).facets
    assert facets["publisher"] == [("City Hall", 1), ("外交部", 1), ("统计局", 1)]
    assert facets["region"] == [("杭州市", 2), ("宁波市", 1)]
    assert facets["formats"] == [("csv", 3), ("json", 1)]

    report = es_backend.delete(["t:00002", "t:99999"])
    assert (report.deleted, report.failed) == (1, [])
    assert es_backend.count() == 2
    assert ids(es_backend, {"text": "新闻"}) == []
    # Replacing a document keeps one copy, with the new content.
    es_backend.index([doc(1, title="地铁线路")])
    assert ids(es_backend, {"text": "交通"}) == [] and ids(es_backend, {"text": "地铁"}) == ["t:00001"]


def test_rejected_documents_are_reported_and_the_rest_indexed(es_backend: ElasticsearchBackend) -> None:
    docs = [doc(n) for n in range(10)]
    docs[3]["record_count"] = "about a thousand"  # not a number: the server refuses it
    docs[7]["quality"] = {"completeness": "high"}
    docs.append({"title": "no id at all"})
    report = es_backend.index(docs)
    assert report.indexed == 8
    failed = dict(report.failed)
    assert set(failed) == {"t:00003", "t:00007", "?"}
    assert "record_count" in failed["t:00003"] and "mapper_parsing_exception" in failed["t:00003"]
    assert "quality.completeness" in failed["t:00007"]
    assert failed["?"] == "document has no id"
    assert es_backend.count() == 8
    assert "t:00003" not in ids(es_backend, {})


def test_ranges_with_dates_datetimes_and_now(es_backend: ElasticsearchBackend) -> None:
    es_backend.index([
        doc(1, modified="2023-06-30"),
        doc(2, modified="2023-06-30T23:59:59"),
        doc(3, modified="2023-07-01T00:00:00+08:00"),  # 2023-06-30T16:00 UTC
        doc(4, modified="not a date"),
        doc(5, modified=None),
    ])
    assert ids(es_backend, {"ranges": {"modified": {"lte": "2023-06-30"}}}) == ["t:00001", "t:00002", "t:00003"]
    assert ids(es_backend, {"ranges": {"modified": {"gt": "2023-06-29"}}}) == ["t:00001", "t:00002", "t:00003"]
    assert ids(es_backend, {"ranges": {"modified": {"gt": "2023-06-30"}}}) == []
    assert ids(es_backend, {"ranges": {"modified": {"gte": "2023-06-30T12:00:00"}}}) == ["t:00002", "t:00003"]
    query = parse_query({"ranges": {"modified": {"gte": "now-1d"}}})
    now = datetime(2023, 7, 1, 12, 0, 0)
    assert list(es_backend.iter_ids(query, now=now)) == ["t:00002", "t:00003"]
    assert es_backend.search(query, now=now).total == 2


def test_sorts_and_pages(es_backend: ElasticsearchBackend) -> None:
    es_backend.index([doc(n, title=title, modified=modified) for n, (title, modified) in enumerate(
        [("beta", "2023-01-02"), ("Alpha", None), ("alpha", "2023-01-01"), ("gamma", "2023-01-02")])])
    page = lambda sort, **kw: [h.id[-1] for h in es_backend.search(parse_query({}), sort=sort, **kw).hits]  # noqa: E731
    assert page("title") == ["1", "2", "0", "3"]  # case-folded title, then id
    assert page("modified") == ["2", "0", "3", "1"]  # missing dates last
    assert page("-modified") == ["3", "0", "2", "1"]
    assert page("relevance") == page("-modified")  # nothing to rank by
    assert page("title", limit=2, offset=1) == ["2", "0"]
    with pytest.raises(ValueError):
        es_backend.search(parse_query({}), sort="size")


def test_pages_beyond_the_result_window_and_iteration(es_backend: ElasticsearchBackend,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    es_backend.index(doc(n) for n in range(1234))
    monkeypatch.setattr(es_module, "PAGE_SIZE", 100)
    every = ids(es_backend, {})
    assert every == sorted(every) and len(every) == len(set(every)) == 1234
    assert len(ids(es_backend, {"ranges": {"record_count": {"gte": 1000}}})) == 234
    ordered = [h.id for h in es_backend.search(parse_query({}), sort="title", limit=1234).hits]
    es_backend._window = 100  # as if the server's max_result_window were 100
    deep = es_backend.search(parse_query({}), sort="title", limit=20, offset=1000)
    assert [h.id for h in deep.hits] == ordered[1000:1020] and deep.total == 1234
    assert [h.id for h in es_backend.search(parse_query({}), sort="title", limit=250).hits] == ordered[:250]
    assert es_backend.search(parse_query({}), sort="title", offset=1300).hits == []
    assert es_backend.search(parse_query({"text": "nothing-like-this"}), offset=500).total == 0


def test_reindex_under_search_load_swaps_alias_and_drops_old_index(es_backend: ElasticsearchBackend,
                                                                   es_backends) -> None:
    docs = [doc(n, title=f"公共交通 {n}" if n % 3 == 0 else f"其他 {n}") for n in range(600)]
    es_backend.index(docs)
    old = es_backend.indices()
    expected = len([d for d in docs if d["title"].startswith("公共交通")])
    failures: list[str] = []
    totals: list[int] = []
    stop = threading.Event()

    readers = [es_backends(es_backend.alias) for _ in range(4)]

    def searcher(reader: ElasticsearchBackend) -> None:
        while not stop.is_set():
            try:
                totals.append(reader.search(parse_query({"text": "交通"}), facets=["region"]).total)
            except Exception as exc:  # every failure counts, whatever its kind
                failures.append(repr(exc))

    threads = [threading.Thread(target=searcher, args=(reader,)) for reader in readers]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)
        report = es_backend.rebuild(iter(docs))
        time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert report.indexed == 600 and report.failed == []
    assert failures == []
    assert len(totals) > 10 and set(totals) == {expected}  # every search saw a complete index
    new = es_backend.indices()
    assert len(new) == 1 and new != old and new[0].endswith("-v2")
    assert not es_backend.client.indices.exists(index=old[0])
    assert es_backend._versioned_indices() == new


def test_writes_during_a_rebuild_reach_the_new_index(es_backend: ElasticsearchBackend, es_backends) -> None:
    es_backend.index([doc(1), doc(2)])

    def catalog():
        yield doc(1)
        # A harvest in another worker indexes and deletes while the rebuild reads.
        other = es_backends(es_backend.alias)
        other.index([doc(3, title="新数据")])
        other.delete(["t:00001"])
        yield doc(2)

    es_backend.rebuild(catalog())
    assert ids(es_backend, {}) == ["t:00002", "t:00003"]


def test_rebuild_that_indexes_nothing_keeps_the_old_index(es_backend: ElasticsearchBackend) -> None:
    es_backend.index([doc(1)])
    before = es_backend.indices()
    with pytest.raises(RuntimeError, match="indexed none"):
        es_backend.rebuild([doc(2, record_count="many"), doc(3, record_count="few")])
    assert es_backend.indices() == before and ids(es_backend, {}) == ["t:00001"]
    assert es_backend._versioned_indices() == before


def test_clear_and_ensure_index_are_idempotent(es_backend: ElasticsearchBackend) -> None:
    es_backend.index([doc(1), doc(2)])
    es_backend.ensure_index()
    assert es_backend.count() == 2
    es_backend.clear()
    assert es_backend.count() == 0 and len(es_backend.indices()) == 1


def test_a_hand_made_index_under_the_alias_name_is_replaced_by_rebuild(es_backends) -> None:
    backend = es_backends()
    backend.client.indices.create(index=backend.alias)
    backend.ensure_index()  # leaves it alone
    backend.rebuild([doc(1)])
    assert backend.indices() == [f"{backend.alias}-v1"] and backend.count() == 1


def test_from_settings_uses_the_search_url_and_index(es_url: str, es_backends, settings) -> None:
    from dataclasses import replace

    alias = es_backends().alias  # a fresh name, cleaned up afterwards
    backend = ElasticsearchBackend.from_settings(replace(settings, search_url=es_url, search_index=alias))
    backend.ensure_index()
    assert backend.indices() == [f"{alias}-v1"]
    backend.close()
