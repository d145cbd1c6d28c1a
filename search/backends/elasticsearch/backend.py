"""The production search backend: an Elasticsearch 8/9 index behind an alias.

The index layout and the rebuild protocol (versioned indices, the building alias,
tombstones) are described in :mod:`search.backends.elasticsearch.layout`; query and
document shapes live in :mod:`search.backends.elasticsearch.query`, bulk writes in
:mod:`search.backends.elasticsearch.bulk`, the client in
:mod:`search.backends.elasticsearch.client`.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from elasticsearch import ApiError, Elasticsearch, NotFoundError
from tqdm import tqdm

from search.backends.base import BaseSearchBackend, Hit, IndexReport, SearchResult
from search.backends.elasticsearch.bulk import Action, BulkOutcome, BulkWriter
from search.backends.elasticsearch.client import client_from_settings
from search.backends.elasticsearch.layout import IS_TOMBSTONE, live, load_mapping, tombstone
from search.backends.elasticsearch.query import (
    compile_facets,
    compile_query,
    compile_sort,
    es_document,
    is_ranked,
    read_facets,
    source_document,
)
from search.query import SceneQuery

log = logging.getLogger(__name__)

PAGE_SIZE = 1000  # ids per request when iterating a scene's members
MSEARCH_BATCH = 200  # searches per _msearch request when checking candidates
PIT_KEEP_ALIVE = "2m"


class ElasticsearchBackend(BaseSearchBackend):
    """SearchBackend on Elasticsearch (layout and rebuild: see the ``layout`` module)."""

    def __init__(self, client: Elasticsearch, alias: str = "scenewatch-datasets", *,
                 writer: BulkWriter | None = None) -> None:
        self.client = client
        self.alias = alias
        self.building_alias = f"{alias}-building"
        self.writer = writer or BulkWriter(client)
        self._version_re = re.compile(rf"^{re.escape(alias)}-v(\d+)$")
        self._mapping = load_mapping()
        self._pit_supported: bool | None = None
        self._ready = False
        self._window: int = int(self._mapping["settings"].get("max_result_window", 10000))

    @classmethod
    def from_settings(cls, settings: Any) -> ElasticsearchBackend:
        """The backend for ``settings.search_url`` and ``settings.search_index``."""
        return cls(client_from_settings(settings), settings.search_index)

    def close(self) -> None:
        """Close the client's connections."""
        self.client.close()

    # -- index management ------------------------------------------------------------

    def ensure_index(self) -> None:
        """Create ``<alias>-v<N>`` with the alias if the alias does not exist yet."""
        self._ready = True
        if self.client.indices.exists_alias(name=self.alias):
            self._warn_if_mapping_is_old()
            return
        if self.client.indices.exists(index=self.alias):
            return  # a concrete index under the alias name (made by hand); rebuild() replaces it
        name = self._next_index_name()
        try:
            self.client.indices.create(index=name, settings=self._mapping["settings"],
                                       mappings=self._mapping["mappings"], aliases={self.alias: {}})
        except ApiError as exc:
            # Another process got there first: fine as long as the alias now exists.
            if not self.client.indices.exists_alias(name=self.alias):
                raise RuntimeError(f"cannot create search index {name}: {exc}") from exc

    def _ensure_ready(self) -> None:
        # The first use in a process creates the index if needed: writing to a missing
        # alias would make the server create a plain index without our mapping.
        if not self._ready:
            self.ensure_index()

    def indices(self) -> list[str]:
        """The concrete indices behind the alias."""
        try:
            return sorted(self.client.indices.get_alias(name=self.alias).body)
        except NotFoundError:
            return []

    def _versioned_indices(self) -> list[str]:
        found = self.client.indices.get(index=f"{self.alias}-v*", allow_no_indices=True,
                                        ignore_unavailable=True).body
        return sorted(name for name in found if self._version_re.match(name))

    def _next_index_name(self) -> str:
        numbers = [int(m.group(1)) for name in self._versioned_indices()
                   if (m := self._version_re.match(name))]
        return f"{self.alias}-v{max(numbers, default=0) + 1}"

    def _warn_if_mapping_is_old(self) -> None:
        wanted = self._mapping["mappings"].get("_meta", {}).get("mapping_version")
        for name, body in self.client.indices.get_mapping(index=self.alias).body.items():
            have = body.get("mappings", {}).get("_meta", {}).get("mapping_version")
            if wanted is not None and have != wanted:
                log.warning("search index %s has mapping version %s, config has %s: "
                            "run `scenewatch reindex`", name, have, wanted)

    def refresh(self) -> None:
        """Make every write so far visible to searches."""
        self.client.indices.refresh(index=self.alias)

    # -- writes ----------------------------------------------------------------------

    def index(self, documents: Iterable[dict[str, Any]]) -> IndexReport:
        """Add or replace documents; each one the server refuses is reported by id with
        its reason, and the others are indexed. Visible to searches on return."""
        self._ensure_ready()
        report = IndexReport()
        actions: list[Action] = []
        for document in documents:
            try:
                source = es_document(document)
            except ValueError as exc:
                doc_id = document.get("id") if isinstance(document, dict) else None
                report.failed.append((str(doc_id or "?"), str(exc)))
                continue
            actions.append(Action("index", self.alias, source["id"], source))
        outcome = self._write(actions, lambda a, target: Action("index", target, a.id, a.source))
        report.indexed = outcome.indexed
        report.failed.extend(outcome.failed)
        return report

    def delete(self, ids: Iterable[str]) -> IndexReport:
        """Remove documents by id; unknown ids are ignored."""
        self._ensure_ready()
        actions = [Action("delete", self.alias, doc_id) for doc_id in dict.fromkeys(ids)]
        outcome = self._write(actions, tombstone)
        return IndexReport(deleted=outcome.deleted, failed=outcome.failed)

    def _write(self, actions: list[Action], mirror: Callable[[Action, str], Action]) -> BulkOutcome:
        """Apply ``actions`` to the live index, and ``mirror`` of them to an index
        being rebuilt, if any; then refresh."""
        if not actions:
            return BulkOutcome()
        outcome = self.writer.write(actions)
        building = self._building_index()
        if building:
            copied = self.writer.write(mirror(a, building) for a in actions)
            outcome.failed.extend(
                (doc_id, f"not written to the index being rebuilt ({building}): {reason}")
                for doc_id, reason in copied.failed if "index_not_found" not in reason)
        self.refresh()
        return outcome

    def _building_index(self) -> str | None:
        try:
            names = list(self.client.indices.get_alias(name=self.building_alias).body)
        except NotFoundError:
            return None
        return names[0] if names else None

    def rebuild(self, documents: Iterable[dict[str, Any]], *, progress: bool = False,
                total: int | None = None) -> IndexReport:
        """Build a new versioned index from ``documents``, then point the alias at it
        atomically and delete the old one. Searches keep working throughout.

        If documents were given and none could be indexed, the new index is dropped,
        the alias left as it was, and RuntimeError raised."""
        report = IndexReport()
        name = self._next_index_name()
        # No refreshes while loading: the index is searched only after the swap.
        settings = {**self._mapping["settings"], "refresh_interval": "-1"}
        self.client.indices.create(index=name, settings=settings,
                                   mappings=self._mapping["mappings"],
                                   aliases={self.building_alias: {}})
        seen = 0
        bar = tqdm(total=total, unit="ds", desc=f"reindex {name}", disable=not progress)
        try:
            def actions() -> Iterator[Action]:
                nonlocal seen
                for document in documents:
                    seen += 1
                    try:
                        source = es_document(document)
                    except ValueError as exc:
                        doc_id = document.get("id") if isinstance(document, dict) else None
                        report.failed.append((str(doc_id or "?"), str(exc)))
                        bar.update(1)
                        continue
                    # create, not index: a writer's copy, newer than ours, stays.
                    yield Action("create", name, source["id"], source)

            outcome = self.writer.write(actions(), on_chunk=bar.update)
        except BaseException:
            self.client.options(ignore_status=404).indices.delete(index=name)
            raise
        finally:
            bar.close()
        # A create that found its id already there lost to a newer write: still indexed.
        report.indexed = outcome.indexed + outcome.existing
        report.failed.extend(outcome.failed)
        if seen and not report.indexed:
            self.client.options(ignore_status=404).indices.delete(index=name)
            first = report.failed[0][1] if report.failed else "unknown reason"
            raise RuntimeError(f"reindex indexed none of {seen} documents (first failure: "
                               f"{first}); the search index was left as it was")
        self.client.indices.put_settings(index=name, settings={"index": {"refresh_interval": None}})
        self._purge_tombstones(name)
        self._swap_alias(name)
        self._purge_tombstones(self.alias)  # any written between the purge and the swap
        return report

    def _purge_tombstones(self, index: str) -> None:
        self.client.indices.refresh(index=index)
        self.client.delete_by_query(index=index, query=IS_TOMBSTONE, refresh=True,
                                    conflicts="proceed")

    def _swap_alias(self, new: str) -> None:
        """Point the alias at ``new`` in one atomic call, then drop the old indices."""
        old = self.indices()
        actions: list[dict[str, Any]] = [{"remove": {"index": i, "alias": self.alias}} for i in old]
        if not old and self.client.indices.exists(index=self.alias):
            actions.append({"remove_index": {"index": self.alias}})  # a hand-made index in the way
        actions += [
            {"remove": {"index": new, "alias": self.building_alias}},
            {"add": {"index": new, "alias": self.alias}},
        ]
        self.client.indices.update_aliases(actions=actions)
        # Older versions (and leftovers of interrupted rebuilds) are no longer reachable.
        for name in self._versioned_indices():
            if name != new:
                self.client.options(ignore_status=404).indices.delete(index=name)

    def clear(self) -> None:
        """Drop every document: an empty index takes the alias over."""
        self.rebuild([])

    # -- reads -----------------------------------------------------------------------

    def count(self) -> int:
        self._ensure_ready()
        return int(self.client.count(index=self.alias, query=live({"match_all": {}}))["count"])

    def _search(
        self,
        query: SceneQuery,
        *,
        limit: int,
        offset: int,
        facets: list[str],
        facet_size: int,
        sort: str,
        now: datetime | None,
    ) -> SearchResult:
        """One page of hits with the total and facet counts (see BaseSearchBackend)."""
        self._ensure_ready()
        ranked = is_ranked(query)
        body: dict[str, Any] = {
            "query": live(compile_query(query, now)),
            "sort": compile_sort(sort, ranked),
            "track_total_hits": True,
        }
        if facets:
            body["aggs"] = compile_facets(facets, facet_size)
        common: dict[str, Any] = {"index": self.alias, "track_scores": ranked,
                                  "source_excludes": ["derived"]}
        if offset + limit <= self._window:
            response = self.client.search(**body, **common, from_=offset, size=limit).body
            raw_hits = response["hits"]["hits"]
        else:
            response, raw_hits = self._deep_page(body, common, offset, limit)
        hits = [
            Hit(id=h["_id"], score=float(h.get("_score") or 0.0) if ranked else 0.0,
                document=source_document(h.get("_source", {})))
            for h in raw_hits
        ]
        total = int(response["hits"]["total"]["value"])
        counts = read_facets(response.get("aggregations"), facets, facet_size)
        return SearchResult(total=total, hits=hits, facets=counts)

    def _deep_page(self, body: dict[str, Any], common: dict[str, Any], offset: int,
                   limit: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """A page past the server's max_result_window (from + size is capped there):
        walk the sort order with search_after, skipping ``offset`` hits, then collect
        ``limit`` of them. Returns the first response (total, facets) and the hits."""
        first = self.client.search(**body, **common, size=0).body
        after: list[Any] | None = None
        skip = offset
        while skip > 0:
            step = self.client.search(index=self.alias, query=body["query"], sort=body["sort"],
                                      size=min(skip, self._window), search_after=after,
                                      source=False).body["hits"]["hits"]
            if not step:
                return first, []  # fewer hits than the offset
            after, skip = step[-1]["sort"], skip - len(step)
        hits: list[dict[str, Any]] = []
        while len(hits) < limit:
            step = self.client.search(index=self.alias, query=body["query"], sort=body["sort"],
                                      size=min(limit - len(hits), self._window), search_after=after,
                                      track_scores=common["track_scores"],
                                      source_excludes=["derived"]).body["hits"]["hits"]
            if not step:
                break
            hits.extend(step)
            after = step[-1]["sort"]
        return first, hits

    def _iter_ids(self, query: SceneQuery, *, now: datetime | None) -> Iterator[str]:
        """Every matching id in id order: search_after over a point in time where the
        server has one (one consistent view), else over the live alias (each id still
        comes at most once, since the order is by the unique id)."""
        self._ensure_ready()
        compiled = live(compile_query(query, now))
        pit = self._open_pit()
        after: list[Any] | None = None
        try:
            while True:
                page: dict[str, Any] = {"query": compiled, "sort": [{"id": "asc"}], "size": PAGE_SIZE,
                                        "search_after": after, "source": False,
                                        "track_total_hits": False}
                if pit is not None:
                    pit_ref = {"id": pit, "keep_alive": PIT_KEEP_ALIVE}
                    response = self.client.search(pit=pit_ref, **page).body
                    pit = response.get("pit_id", pit)
                else:
                    response = self.client.search(index=self.alias, **page).body
                hits = response["hits"]["hits"]
                for hit in hits:
                    yield hit["_id"]
                if len(hits) < PAGE_SIZE:
                    return
                after = hits[-1]["sort"]
        finally:
            if pit is not None:
                self.client.options(ignore_status=(400, 404)).close_point_in_time(id=pit)

    def _match_ids(
        self,
        requests: Sequence[tuple[SceneQuery, Sequence[str]]],
        *,
        now: datetime | None,
    ) -> list[set[str]]:
        """For each (query, candidate ids): the candidates that match the query.

        Reverse matching evaluates a scene only on its candidates: each query gets an
        ``ids`` filter, and the queries go to the server together (``_msearch``)."""
        self._ensure_ready()
        answers: list[set[str]] = [set() for _ in requests]
        pending: list[tuple[int, dict[str, Any]]] = []
        for position, (query, ids) in enumerate(requests):
            compiled = live(compile_query(query, now))
            for start in range(0, len(ids), PAGE_SIZE):
                chunk = list(ids[start:start + PAGE_SIZE])
                body = dict(compiled["bool"])
                body["filter"] = [*body.get("filter", []), {"ids": {"values": chunk}}]
                pending.append((position, {"query": {"bool": body}, "size": len(chunk),
                                           "_source": False, "track_total_hits": False}))
        for start in range(0, len(pending), MSEARCH_BATCH):
            batch = pending[start:start + MSEARCH_BATCH]
            searches: list[dict[str, Any]] = []
            for _position, body in batch:
                searches.extend(({"index": self.alias}, body))
            response = self.client.msearch(searches=searches).body
            for (position, _body), result in zip(batch, response["responses"], strict=True):
                if "error" in result:
                    raise RuntimeError(f"search failed: {result['error']}")
                answers[position].update(hit["_id"] for hit in result["hits"]["hits"])
        return answers

    def _open_pit(self) -> str | None:
        if self._pit_supported is False:
            return None
        try:
            pit = self.client.open_point_in_time(index=self.alias, keep_alive=PIT_KEEP_ALIVE)
        except NotFoundError as exc:
            if "index_not_found" in str(exc.message):
                raise
            self._pit_supported = False  # no such endpoint on this server
            return None
        except ApiError as exc:
            if exc.status_code in (400, 405, 501):
                self._pit_supported = False
                return None
            raise
        self._pit_supported = True
        return str(pit["id"])
