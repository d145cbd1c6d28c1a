"""URL parameters ⇄ scene query dict, shared by the search page and the scene form.

Parameters: ``q`` (text), ``f.<field>`` (filter values, repeatable), ``x.<field>``
(excluded values), ``modified_from`` / ``modified_to`` (ISO date or ``now-Nd``),
``min_completeness`` (0–1). Keeping the query in the URL makes every search a link
that can be bookmarked, shared, and saved as a scene.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict

FILTER_PREFIX = "f."
EXCLUDE_PREFIX = "x."
RANGE_PARAMS = ("modified_from", "modified_to", "min_completeness")
QUERY_PARAMS = ("q", *RANGE_PARAMS)


def _number_or_text(raw: str) -> float | str:
    # A number goes to the query model as a number; anything else is passed on as
    # typed so the model's validation names the bad value.
    try:
        return float(raw)
    except ValueError:
        return raw


def build_query(args: MultiDict[str, str]) -> dict[str, Any]:
    """The scene query dict described by the URL parameters ``args``."""
    query: dict[str, Any] = {}
    text = (args.get("q") or "").strip()
    if text:
        query["text"] = text
    for prefix, key in ((FILTER_PREFIX, "filters"), (EXCLUDE_PREFIX, "exclude")):
        values: dict[str, list[str]] = {}
        for name in args:
            if name.startswith(prefix) and len(name) > len(prefix):
                kept = [v.strip() for v in args.getlist(name) if v.strip()]
                if kept:
                    values[name.removeprefix(prefix)] = list(dict.fromkeys(kept))
        if values:
            query[key] = values
    ranges: dict[str, dict[str, Any]] = {}
    low, high = (args.get("modified_from") or "").strip(), (args.get("modified_to") or "").strip()
    if low or high:
        ranges["modified"] = {**({"gte": low} if low else {}), **({"lte": high} if high else {})}
    completeness = (args.get("min_completeness") or "").strip()
    if completeness:
        ranges["quality.completeness"] = {"gte": _number_or_text(completeness)}
    if ranges:
        query["ranges"] = ranges
    return query


def query_to_params(query: dict[str, Any]) -> list[tuple[str, str]]:
    """The URL parameters of a query dict (the inverse of :func:`build_query` for the
    parts the page can express)."""
    params: list[tuple[str, str]] = []
    if query.get("text"):
        params.append(("q", str(query["text"])))
    for key, prefix in (("filters", FILTER_PREFIX), ("exclude", EXCLUDE_PREFIX)):
        for name, values in (query.get(key) or {}).items():
            for value in values if isinstance(values, list) else [values]:
                params.append((f"{prefix}{name}", str(value)))
    ranges = query.get("ranges") or {}
    modified = ranges.get("modified") or {}
    if modified.get("gte") is not None:
        params.append(("modified_from", str(modified["gte"])))
    if modified.get("lte") is not None:
        params.append(("modified_to", str(modified["lte"])))
    completeness = (ranges.get("quality.completeness") or {}).get("gte")
    if completeness is not None:
        params.append(("min_completeness", str(completeness)))
    return params


def query_params(args: MultiDict[str, str]) -> list[tuple[str, str]]:
    """Only the parameters that define the query (no page, sort or language)."""
    return [
        (k, v)
        for k, v in args.items(multi=True)
        if (k in QUERY_PARAMS or k.startswith((FILTER_PREFIX, EXCLUDE_PREFIX))) and v.strip()
    ]


def with_params(params: Iterable[tuple[str, str]], **changes: str | None) -> str:
    """A query string: ``params`` with single-valued parameters replaced (None drops)."""
    kept = [(k, v) for k, v in params if k not in changes]
    kept += [(k, v) for k, v in changes.items() if v not in (None, "")]  # type: ignore[misc]
    return "?" + urlencode(kept) if kept else "?"


def toggle_filter(params: Iterable[tuple[str, str]], field: str, value: str) -> str:
    """A query string with ``value`` added to or removed from the ``field`` filter
    (back to page one: the old page number means nothing for a new result set)."""
    name = f"{FILTER_PREFIX}{field}"
    items = [(k, v) for k, v in params if k != "page"]
    if (name, value) in items:
        items = [(k, v) for k, v in items if (k, v) != (name, value)]
    else:
        items.append((name, value))
    return "?" + urlencode(items) if items else "?"


def highlight_terms(text: str) -> list[str]:
    """The words of a text query worth marking in results (no excluded words, no operators)."""
    terms: list[str] = []
    for phrase in re.findall(r'"([^"]+)"', text or ""):
        terms.append(phrase.strip())
    rest = re.sub(r'"[^"]*"', " ", text or "")
    for word in rest.split():
        if word.startswith("-") or word in {"|", "OR", "AND"}:
            continue
        terms.extend(part for part in word.split("|") if part)
    return sorted({t for t in terms if t}, key=len, reverse=True)


def highlight(value: str | None, terms: list[str], limit: int | None = None) -> Markup:
    """``value`` escaped, shortened to ``limit`` characters, with ``terms`` in <mark>."""
    text = value or ""
    if limit is not None and len(text) > limit:
        text = text[:limit].rstrip() + "…"
    if not terms:
        return Markup(escape(text))
    pattern = re.compile("|".join(re.escape(t) for t in terms), re.IGNORECASE)
    out: list[str] = []
    last = 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[last:match.start()])))
        out.append(f"<mark>{escape(match.group(0))}</mark>")
        last = match.end()
    out.append(str(escape(text[last:])))
    return Markup("".join(out))
