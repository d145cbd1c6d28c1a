"""Stable dataset ids within one snapshot, and what to do with duplicates.

A dataset id is ``<source>:<native id>``. The native id is, in order:

1. the record's own id (DCAT ``identifier``, or a column mapped to ``native_id``);
2. its detail URL (详情页网址, ``landingPage``) when no other distinct record of the
   file carries the same URL (Shanghai gives one URL for all 4,494 rows);
3. ``key-`` + a hash of title, publisher and created date: stable as long as those
   three are, which is what a person would call "the same dataset";
4. ``content-`` + a hash of the whole content, for the rare records that share all
   three (Chizhou lists yearly tables with the same title and no date).

Records identical to an earlier one (the raw record, byte for byte once parsed) are
quarantined as duplicates naming the id they duplicate. Records that end up with an
id already taken by a different record (ArcGIS portals reuse identifier slugs for
different layers) are quarantined as conflicts naming the earlier record.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass
from typing import Any

from search.harvest.records import SourceRecord
from search.models import CONTENT_FIELDS

ID_MAX = 512


@dataclass(slots=True)
class Prepared:
    """A record that normalised: the source record and its dataset fields."""

    record: SourceRecord
    doc: dict[str, Any]
    dataset_id: str = ""
    native_id: str = ""


def _digest(*parts: str, length: int = 20) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:length]


_encode = json.JSONEncoder(ensure_ascii=False, default=str, separators=(",", ":")).encode


def _fingerprint(raw: Any) -> str:
    # Key order is kept (not sorted): the rows of one export share their key order, and
    # this runs on every record. Two orderings of the same values still cannot both be
    # stored: they get the same id and the second is quarantined as a conflict.
    return _encode(raw)


def _content_key(doc: dict[str, Any]) -> str:
    content = {name: doc.get(name) for name in CONTENT_FIELDS}
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, default=str,
                      separators=(",", ":"))
    return "content-" + _digest(text)


def _title_key(doc: dict[str, Any]) -> str:
    title, publisher = doc.get("title") or "", doc.get("publisher") or ""
    return "key-" + _digest(title, publisher, doc.get("created") or "")


def _bounded(source: str, native: str) -> str:
    if len(source) + 1 + len(native) <= ID_MAX:
        return native
    return "sha-" + _digest(native, length=40)  # ids longer than the column are hashed


Rejects = list[tuple[SourceRecord, str]]


def assign_ids(source: str, prepared: list[Prepared]) -> tuple[list[Prepared], Rejects]:
    """Give each record its id; return the keepers and the (record, reason) rejects."""
    rejected: Rejects = []
    originals: dict[str, Prepared] = {}
    unique: list[Prepared] = []
    duplicates: list[tuple[Prepared, Prepared]] = []
    for item in prepared:
        fingerprint = _fingerprint(item.record.raw)
        first = originals.get(fingerprint)
        if first is None:
            originals[fingerprint] = item
            unique.append(item)
        else:
            duplicates.append((item, first))

    own = {id(item): (item.doc.get("native_id") or "").strip() for item in unique}
    url_counts = Counter(item.doc["landing_page"] for item in unique
                         if not own[id(item)] and item.doc.get("landing_page"))
    title_keys = {id(item): _title_key(item.doc) for item in unique
                  if not own[id(item)]
                  and url_counts.get(item.doc.get("landing_page") or "", 0) != 1}
    title_counts = Counter(title_keys.values())

    kept: list[Prepared] = []
    taken: dict[str, Prepared] = {}
    for item in unique:
        native = own[id(item)]
        if not native:
            url = item.doc.get("landing_page") or ""
            if url and url_counts[url] == 1:
                native = url
            else:
                key = title_keys[id(item)]
                native = key if title_counts[key] == 1 else _content_key(item.doc)
        native = _bounded(source, native)
        dataset_id = f"{source}:{native}"
        earlier = taken.get(dataset_id)
        if earlier is not None:
            rejected.append((item.record, (
                f"conflicting record: id {dataset_id} is already used by the record at "
                f"{earlier.record.position}, and the two records differ")))
            continue
        item.native_id, item.dataset_id = native, dataset_id
        taken[dataset_id] = item
        kept.append(item)

    for item, first in duplicates:
        if first.dataset_id:
            reason = (f"duplicate of {first.dataset_id} "
                      f"(identical to the record at {first.record.position})")
        else:
            reason = f"duplicate of the record at {first.record.position}, itself quarantined"
        rejected.append((item.record, reason))
    return kept, rejected
