"""The PostgreSQL search backend on its own: writes, odd input, concurrency, schema
changes. (Query semantics are held by the parity suite, the whole loop by
test_pg_end_to_end.)"""
from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest

from search.backends.postgres import PostgresSearchBackend
from search.query import parse_query
from tests.search.pg_fixtures import drop_backend, new_backend

pytestmark = pytest.mark.postgres


@pytest.fixture
def backend() -> Iterator[PostgresSearchBackend]:
    instance = new_backend()
    try:
        yield instance
    finally:
        drop_backend(instance)


def doc(n: int, **fields: Any) -> dict[str, Any]:
    return {"id": f"t:{n}", "title": f"公共交通线路 {n}", "source": "t", "region": "杭州市",
            "tags": ["交通", "公交"], "formats": ["CSV"], "modified": f"2024-01-{n % 28 + 1:02d}", **fields}


def ids(backend: PostgresSearchBackend, query: dict[str, Any]) -> list[str]:
    return list(backend.iter_ids(parse_query(query)))


def test_upsert_delete_and_reported_failures(backend: PostgresSearchBackend) -> None:
    report = backend.index([doc(1), doc(2), {"title": "no id"}, "not a document", doc(1, title="改名 1")])  # type: ignore[list-item]
    assert report.indexed == 2 and [reason for _, reason in report.failed] == [
        "document has no id", "document is not an object"]
    assert ids(backend, {"text": "改名"}) == ["t:1"]  # the last version of an id in a batch wins
    assert ids(backend, {"text": "公共交通"}) == ["t:2"]
    assert backend.delete(["t:2", "t:unknown", "t:2"]).deleted == 1
    assert backend.count() == 1


def test_phrases_do_not_span_two_tags_or_two_fields(backend: PostgresSearchBackend) -> None:
    backend.index([{"id": "a", "title": "公共", "description": "交通", "tags": ["公共", "交通"]}])
    assert ids(backend, {"text": "公共交通"}) == []
    assert ids(backend, {"text": "公共 交通"}) == ["a"]


def test_nul_characters_in_documents_and_filters_are_no_error(backend: PostgresSearchBackend) -> None:
    report = backend.index([doc(1, publisher="交通\x00局"), {"id": "bad\x00id", "title": "x"}])
    assert report.indexed == 1 and report.failed == [("bad\x00id", "document id contains a NUL character")]
    assert ids(backend, {"filters": {"publisher": ["交通\x00局"]}}) == ["t:1"]
    result = backend.search(parse_query({"filters": {"region": ["\x00"]}}))
    assert result.total == 0 and result.hits == []


def test_checks_belong_to_the_base_class(backend: PostgresSearchBackend) -> None:
    with pytest.raises(ValueError, match="sort must be one of"):
        backend.search(parse_query({}), sort="random")
    with pytest.raises(ValueError, match="unknown facet field"):
        backend.search(parse_query({}), facets=("colour",))
    with pytest.raises(TypeError, match="SceneQuery"):
        backend.search({"text": "交通"})  # type: ignore[arg-type]


def test_searches_during_a_rebuild_see_the_old_index_whole(backend: PostgresSearchBackend) -> None:
    backend.index([doc(n) for n in range(300)])
    seen: list[int] = []
    started = threading.Event()

    def documents() -> Iterator[dict[str, Any]]:
        for n in range(300, 900):
            if n == 450:
                started.set()
                seen.extend(backend.search(parse_query({}), limit=0, facets=()).total for _ in range(5))
            yield doc(n)

    report = backend.rebuild(documents())
    assert started.is_set() and report.indexed == 600
    assert set(seen) == {300}  # never empty, never half-built
    assert backend.count() == 600 and ids(backend, {"text": "线路"})[:1] == ["t:300"]


def test_two_processes_creating_the_index_at_once(backend: PostgresSearchBackend) -> None:
    others = [PostgresSearchBackend(backend.url, schema=backend.schema) for _ in range(4)]
    errors: list[BaseException] = []

    def start(instance: PostgresSearchBackend) -> None:
        try:
            instance.ensure_index()
        except BaseException as exc:  # noqa: BLE001 - collected for the assertion
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(o,)) for o in others]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for instance in others:
        instance.close()
    assert errors == []


def test_an_index_of_another_schema_version_is_replaced_empty(backend: PostgresSearchBackend) -> None:
    backend.index([doc(1)])
    with backend.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE search_meta SET value = 'old' WHERE key = 'schema'")
    fresh = PostgresSearchBackend(backend.url, schema=backend.schema)
    fresh.ensure_index()
    assert fresh.count() == 0  # start-up then refills it from the catalog
    fresh.close()


def test_landing_counts_are_cached_until_any_process_writes(backend: PostgresSearchBackend) -> None:
    backend.index([doc(n) for n in range(5)])
    first = backend.search(parse_query({}), facets=("formats", "region"))
    assert first.total == 5 and first.facets["formats"] == [("csv", 5)]
    writer = PostgresSearchBackend(backend.url, schema=backend.schema)  # as another process
    writer.index([doc(9, formats=["JSON"], region="宁波市")])
    writer.delete(["t:0"])
    writer.close()
    again = backend.search(parse_query({}), facets=("formats", "region"), sort="-modified", limit=2)
    assert again.total == 5
    assert again.facets == {"formats": [("csv", 4), ("json", 1)], "region": [("杭州市", 4), ("宁波市", 1)]}
    assert [h.id for h in again.hits] == ["t:9", "t:4"]  # 2024-01-10, then 2024-01-05


def test_absurd_pages_are_empty_not_errors(backend: PostgresSearchBackend) -> None:
    backend.index([doc(1), doc(2)])
    result = backend.search(parse_query({"text": "交通"}), limit=10**30, offset=10**30, facet_size=10**30)
    assert result.total == 2 and result.hits == [] and result.facets["formats"] == [("csv", 2)]
