"""Reverse matching: which scenes can a changed dataset enter, without running them.

Each scene's query is reduced to *necessary* conditions that can be checked on a
document in memory:

- every positive text clause: one of its alternatives has all its analysed tokens
  (CJK bigrams, words) among the document's tokens — a phrase match needs at least
  that;
- every filter: the document has one of the values;
- every range bound (relative dates evaluated at the harvest's ``now``).

Exclusions and negated text only ever remove matches, so they are left to the
search backend. A scene is filed under one *anchor* key — a filter value of its most
selective filter, else one token of each alternative of its rarest text clause —
so that a batch of changed documents only visits the scenes whose anchor occurs in
it; scenes with nothing to anchor on (only ranges or exclusions, or ``{}``) are
visited for every batch. The conditions are necessary, not sufficient: the
candidates they leave are checked exactly by the search backend (``match_ids``).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from search.query import DATE_RANGE_FIELDS, ResolvedBound, SceneQuery
from search.query_values import normalise_datetime
from search.regions import document_regions
from search.text import TEXT_FIELDS, tokens

# Filter fields worth anchoring on, most selective first (open_type and friends have
# a handful of values shared by large parts of the catalog).
ANCHOR_FIELDS: tuple[str, ...] = (
    "source", "publisher", "region", "tags", "themes", "license", "formats",
    "update_frequency", "open_type",
)
# region: every level of the region path (search.regions), as the backends store it.
LIST_FIELDS: frozenset[str] = frozenset(("region", "themes", "tags", "formats"))
_SEP = "\x1f"

Key = tuple[str, ...]  # ("t", token) or ("v", field, value)


def _value(value: Any) -> str:
    # As the backends store it: trimmed, the list separator cannot occur inside.
    return value.strip().replace(_SEP, " ") if isinstance(value, str) else ""


def document_values(document: Mapping[str, Any]) -> dict[str, set[Any]]:
    """The filter values of a search document, normalised as the backends store them."""
    values: dict[str, set[Any]] = {}
    for name in ANCHOR_FIELDS:
        raw = document_regions(document) if name == "region" else document.get(name)
        if name in LIST_FIELDS:
            items = [raw] if isinstance(raw, str) else raw if isinstance(raw, (list, tuple)) else []
            found = {v for v in map(_value, items) if v}
            values[name] = {v.lower() for v in found} if name == "formats" else found
        else:
            value = _value(raw)
            values[name] = {value} if value else set()
    machine = document.get("machine_readable")
    values["machine_readable"] = {machine} if isinstance(machine, bool) else set()
    return values


def document_tokens(document: Mapping[str, Any]) -> set[str]:
    """Every analysed token of the document's text fields."""
    found: set[str] = set()
    for name in TEXT_FIELDS:
        value = document.get(name)
        if isinstance(value, str):
            found.update(tokens(value))
        elif isinstance(value, (list, tuple)):
            for item in value:
                if isinstance(item, str):
                    found.update(tokens(item))
    return found


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def document_ranges(document: Mapping[str, Any]) -> dict[str, Any]:
    """The values range bounds compare, normalised as the backends store them."""
    quality = document.get("quality")
    quality = quality if isinstance(quality, Mapping) else {}
    record_count = _number(document.get("record_count"))
    size = _number(document.get("size"))
    return {
        "created": normalise_datetime(document.get("created")),
        "modified": normalise_datetime(document.get("modified")),
        "record_count": int(record_count) if record_count is not None else None,
        "size": int(size) if size is not None else None,
        "quality.completeness": _number(quality.get("completeness")),
        "quality.timeliness": _number(quality.get("timeliness")),
        "quality.accuracy": _number(quality.get("accuracy")),
    }


@dataclass
class ChangedDocuments:
    """A batch of changed documents, inverted: token → ids, (field, value) → ids."""

    ids: set[str] = field(default_factory=set)
    by_token: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    by_value: dict[tuple[str, Any], set[str]] = field(default_factory=lambda: defaultdict(set))
    ranges: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def of(cls, documents: Iterable[Mapping[str, Any]]) -> ChangedDocuments:
        batch = cls()
        for document in documents:
            doc_id = str(document["id"])
            batch.ids.add(doc_id)
            for token in document_tokens(document):
                batch.by_token[token].add(doc_id)
            for name, values in document_values(document).items():
                for value in values:
                    batch.by_value[(name, value)].add(doc_id)
            batch.ranges[doc_id] = document_ranges(document)
        return batch

    def keys(self) -> Iterable[Key]:
        yield from (("t", token) for token in self.by_token)
        yield from (("v", name, value) for name, value in self.by_value)


_COMPARE = {
    "gte": lambda a, b: a >= b, "gt": lambda a, b: a > b,
    "lte": lambda a, b: a <= b, "lt": lambda a, b: a < b,
}


@dataclass(frozen=True)
class Predicate:
    """The necessary conditions of one scene's query (see the module docstring)."""

    scene_id: int
    query: SceneQuery
    clauses: tuple[tuple[tuple[str, ...], ...], ...]  # clause → alternative → tokens
    filters: tuple[tuple[str, frozenset[Any]], ...]

    @classmethod
    def of(cls, scene_id: int, query: SceneQuery) -> Predicate:
        clauses = tuple(tuple(term.tokens for term in clause.alternatives)
                        for clause in query.text_query().positive)
        filters = tuple((name, frozenset(values)) for name, values in query.filters)
        return cls(scene_id, query, clauses, filters)

    @property
    def relative(self) -> bool:
        """True when a range bound moves with the clock (``now-90d``)."""
        return any(b.field in DATE_RANGE_FIELDS and str(b.value).startswith("now")
                   for b in self.query.ranges)

    def anchor(self) -> list[Key]:
        """Keys under which every matching document is found; [] when none exists."""
        by_field = dict(self.filters)
        for name in ANCHOR_FIELDS:
            if name in by_field:
                return [("v", name, value) for value in sorted(by_field[name], key=str)]
        if not self.clauses:
            return []
        # The clause with the fewest alternatives; in each, the longest token (a
        # word or late bigram is rarer, on average, than a short common one).
        clause = min(self.clauses, key=len)
        return [("t", max(alternative, key=len)) for alternative in clause]

    def candidates(self, batch: ChangedDocuments, bounds: tuple[ResolvedBound, ...]) -> set[str]:
        """The documents of ``batch`` that pass every necessary condition."""
        docs: set[str] | None = None
        for clause in self.clauses:
            hits: set[str] = set()
            for alternative in clause:
                found = _intersection(batch.by_token.get(t) for t in alternative)
                hits |= found
            docs = hits if docs is None else docs & hits
            if not docs:
                return set()
        for name, values in self.filters:
            hits = set()
            for value in values:
                hits |= batch.by_value.get((name, value), set())
            docs = hits if docs is None else docs & hits
            if not docs:
                return set()
        if docs is None:
            docs = set(batch.ids)
        for bound in bounds:
            compare = _COMPARE[bound.op]
            docs = {d for d in docs
                    if (v := batch.ranges[d][bound.field]) is not None and compare(v, bound.value)}
        return docs


def _intersection(sets: Iterable[set[str] | None]) -> set[str]:
    result: set[str] | None = None
    for found in sets:
        if not found:
            return set()
        result = set(found) if result is None else result & found
    return result or set()


class SceneIndex:
    """Scenes filed by anchor key, so a batch of changes visits only scenes it can affect."""

    def __init__(self, predicates: Iterable[Predicate] = ()) -> None:
        self.predicates: dict[int, Predicate] = {}
        self._by_key: dict[Key, set[int]] = defaultdict(set)
        self._unanchored: set[int] = set()
        for predicate in predicates:
            self.add(predicate)

    def add(self, predicate: Predicate) -> None:
        """File a scene (replacing its earlier predicate)."""
        self.remove(predicate.scene_id)
        self.predicates[predicate.scene_id] = predicate
        keys = predicate.anchor()
        if not keys:
            self._unanchored.add(predicate.scene_id)
        for key in keys:
            self._by_key[key].add(predicate.scene_id)

    def remove(self, scene_id: int) -> None:
        old = self.predicates.pop(scene_id, None)
        if old is None:
            return
        self._unanchored.discard(scene_id)
        for key in old.anchor():
            self._by_key[key].discard(scene_id)

    def __len__(self) -> int:
        return len(self.predicates)

    def candidates(self, batch: ChangedDocuments, now: datetime) -> dict[int, set[str]]:
        """scene id → the documents of ``batch`` it may now match (non-empty only)."""
        visit = set(self._unanchored)
        if len(self._by_key) < len(batch.by_token) + len(batch.by_value):
            for key, scenes in self._by_key.items():
                if scenes and _in_batch(batch, key):
                    visit |= scenes
        else:
            for key in batch.keys():
                visit |= self._by_key.get(key, set())
        found: dict[int, set[str]] = {}
        for scene_id in visit:
            predicate = self.predicates[scene_id]
            docs = predicate.candidates(batch, predicate.query.resolve_ranges(now))
            if docs:
                found[scene_id] = docs
        return found


def _in_batch(batch: ChangedDocuments, key: Key) -> bool:
    if key[0] == "t":
        return key[1] in batch.by_token
    return (key[1], key[2]) in batch.by_value
