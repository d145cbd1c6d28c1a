"""The exact-match values a document offers to filters and facets, shared by the
backends that store them as plain keyword lists (Elasticsearch, PostgreSQL).

Strings are stripped and empty ones left out, ``formats`` are lower-cased, ``region``
is every level of the region path, and ``machine_readable`` is ``"true"``/``"false"``
when it is a boolean at all; this is the reading of :mod:`search.query` that the
parity suite holds every backend to.
"""
from __future__ import annotations

from typing import Any

from search.regions import document_regions


def term_values(document: dict[str, Any], name: str) -> list[str]:
    """The exact-match values of filter field ``name`` (sorted, without duplicates)."""
    raw = document.get(name)
    if name == "machine_readable":
        return [bool_term(raw)] if isinstance(raw, bool) else []
    if name == "region":
        raw = document_regions(document)
    out: set[str] = set()
    for value in raw if isinstance(raw, (list, tuple)) else [raw]:
        if isinstance(value, str) and value.strip():
            value = value.strip()
            out.add(value.lower() if name == "formats" else value)
    return sorted(out)


def bool_term(value: bool) -> str:
    """A boolean as the keyword filters and facets use."""
    return "true" if value else "false"


def filter_term(value: str | bool) -> str:
    """A query's filter value as the keyword it is compared with."""
    return bool_term(value) if isinstance(value, bool) else value
