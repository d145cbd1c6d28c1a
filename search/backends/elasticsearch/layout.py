"""How the Elasticsearch backend lays out its index, and what keeps a rebuild lossless.

Index layout: the concrete index ``<alias>-v<N>`` (settings and mappings from
``config/index_mapping.json``) is reached only through the alias
``settings.search_index``, so ``ElasticsearchBackend.rebuild`` can fill
``<alias>-v<N+1>`` aside and swap the alias in one atomic ``update_aliases`` call.

Writes during a rebuild: the new index also carries the alias ``<alias>-building``
and every writer, in any process, sends its changes there too: documents as they
are, deletions as *tombstones* (a document holding only ``derived.tombstone``). The
rebuild itself only *creates* documents, so whatever a writer put there first, newer
than the rebuild's copy, wins; tombstones are purged around the swap and never
match a search. Nothing written while a rebuild runs is lost at the swap.
"""
from __future__ import annotations

import json
from importlib import resources
from typing import Any

from search.backends.elasticsearch.bulk import Action

TOMBSTONE = "derived.tombstone"
IS_TOMBSTONE = {"exists": {"field": TOMBSTONE}}


def live(query: dict[str, Any]) -> dict[str, Any]:
    """``query`` restricted to real documents (tombstones exist only around a rebuild)."""
    if "bool" in query:
        body = dict(query["bool"])
        body["must_not"] = [*body.get("must_not", []), IS_TOMBSTONE]
        return {"bool": body}
    return {"bool": {"must": [query], "must_not": [IS_TOMBSTONE]}}


def tombstone(action: Action, target: str) -> Action:
    """What a deletion leaves in an index being rebuilt (see the module docstring)."""
    return Action("index", target, action.id, {"id": action.id, "derived": {"tombstone": True}})


def load_mapping() -> dict[str, Any]:
    """Settings and mappings of the index, from ``config/index_mapping.json``."""
    return json.loads(resources.files("config").joinpath("index_mapping.json").read_text("utf-8"))
