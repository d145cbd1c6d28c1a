"""The search page: text, facet filters with counts, ranges, paged results."""

from __future__ import annotations

from math import ceil
from typing import Any

from flask import Blueprint, render_template, request

from config.extensions import search
from subscriptions.views.query_params import (
    build_query,
    highlight,
    highlight_terms,
    query_params,
    toggle_filter,
    with_params,
)

bp = Blueprint("search_page", __name__)
PAGE_SIZE = 20
# Deep pages are costly on Elasticsearch (10,000-hit window); nobody reads page 500.
MAX_PAGE = 10_000 // PAGE_SIZE
SORTS = ("relevance", "-modified", "modified", "title")
# The order facets appear in on the page: where, who, what, how, then where it came from.
FACET_ORDER = (
    "region",
    "publisher",
    "themes",
    "formats",
    "open_type",
    "update_frequency",
    "source",
)
FACETS_SHOWN = 8  # more values fold into a <details> list
FACET_SIZE = 20  # values asked of the backend per facet; "show all" lists the rest


def error_slot(field: str | None) -> str:
    """Which form input a query error belongs next to."""
    name = field or ""
    if name.startswith("text"):
        return "q"
    if name.startswith("ranges.modified") or name == "modified":
        return "modified"
    if "completeness" in name:
        return "min_completeness"
    if name.startswith(("filters", "exclude")):
        return "filters"
    return "general"


def _page_number(raw: str | None) -> int:
    try:
        return min(max(int(raw or 1), 1), MAX_PAGE)
    except ValueError:
        return 1


def facet_groups(
    query: dict[str, Any], facets: dict[str, list[tuple[str, int]]], params: list[tuple[str, str]]
) -> list[dict[str, Any]]:
    """Facet fields with their values, counts, whether each is selected and the link
    that toggles it. Selected values stay listed even when the backend's top values
    no longer include them, so they can be unticked."""
    selected = query.get("filters") or {}
    groups = []
    for name in FACET_ORDER:
        counts = [(str(v), c) for v, c in facets.get(name, []) if str(v) != ""]
        chosen = [str(v) for v in selected.get(name, [])]
        known = {v for v, _ in counts}
        items = [(v, c) for v, c in counts] + [(v, None) for v in chosen if v not in known]
        if not items:
            continue
        groups.append(
            {
                "field": name,
                "values": [
                    {
                        "value": v,
                        "count": c,
                        "selected": v in chosen,
                        "href": toggle_filter(params, name, v),
                    }
                    for v, c in items
                ],
            }
        )
    return groups


def own_field_facets(
    query: dict[str, Any], fields: tuple[str, ...]
) -> dict[str, list[tuple[str, int]]]:
    """Counts for each filtered field as if that field were not filtered.

    Values of one field are OR-ed, so ticking 杭州市 must leave 桐庐县 on the list with
    the number it would add; counting over the filtered hits would show only 杭州市.
    One small extra search per filtered field (no hits, one facet)."""
    from search.query import parse_query

    counts: dict[str, list[tuple[str, int]]] = {}
    for name in query.get("filters") or {}:
        if name not in fields:
            continue
        others = {k: v for k, v in query["filters"].items() if k != name}
        widened = parse_query({**query, "filters": others})
        counts[name] = (
            search.get().search(widened, limit=1, offset=0, facets=(name,)).facets.get(name, [])
        )
    return counts


def _facets_without(query: dict[str, Any], bad_fields: list[str]) -> dict[str, list[tuple[str, int]]]:
    """Facet counts for ``query`` minus the parts with errors, so a mistake in one box
    does not take the filter column away (the page still asks to fix the mistake)."""
    from search.backends.base import FACET_FIELDS
    from search.query import QueryError, parse_query

    kept = dict(query)
    for field in bad_fields:
        head = field.split(".", 1)[0].split("[", 1)[0]
        kept.pop(head if head in ("text", "filters", "exclude", "ranges") else "", None)
    if any(not f for f in bad_fields):
        kept = {}
    try:
        parsed = parse_query(kept)
    except QueryError:
        parsed = parse_query({})
    return search.get().search(parsed, limit=0, offset=0, facets=FACET_FIELDS).facets


def _edited_scene(raw: str | None) -> dict[str, Any] | None:
    """The logged-in user's scene whose query this search is changing (``?edit=ID``)."""
    from flask import g

    from config.extensions import db
    from config.routing import id_from
    from subscriptions.models import Scene

    user = getattr(g, "user", None)
    scene_id = id_from(raw)
    if user is None or scene_id is None:
        return None
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        if scene is None or scene.owner_id != user.id:
            return None
        return {"id": scene.id, "name": scene.name}


@bp.route("/")
def index() -> tuple[str, int]:
    """Search the catalog; every part of the search is in the URL."""
    from search.backends.base import FACET_FIELDS
    from search.query import QueryError, parse_query

    args = request.args
    params = query_params(args)
    query = build_query(args)
    page = _page_number(args.get("page"))
    sort = args.get("sort", "relevance")
    if sort not in SORTS:
        sort = "relevance"
    errors: dict[str, list[Any]] = {}
    result = None
    facets_only: dict[str, list[tuple[str, int]]] = {}
    try:
        parsed = parse_query(query)
    except QueryError as exc:
        for error in exc.errors:
            errors.setdefault(error_slot(getattr(error, "field", None)), []).append(error)
        facets_only = _facets_without(query, [str(getattr(e, "field", "") or "") for e in exc.errors])
    else:
        result = search.get().search(
            parsed, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, facets=FACET_FIELDS, sort=sort
        )
        result.facets.update(own_field_facets(query, FACET_FIELDS))
    editing = _edited_scene(args.get("edit"))
    total = result.total if result else 0
    pages = min(max(ceil(total / PAGE_SIZE), 1), MAX_PAGE)
    if result is not None and page > pages:
        # A page past the end (an old link, a hand-edited URL) shows the last page.
        page = pages
        hits = search.get().search(parsed, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE, facets=(), sort=sort)
        result.hits = hits.hits
    terms = highlight_terms(query.get("text", ""))
    sort_params = params + ([("sort", sort)] if sort != "relevance" else [])
    if editing:
        sort_params.append(("edit", str(editing["id"])))
    return render_template(
        "search.html",
        form=args,
        query=query,
        result=result,
        errors=errors,
        page=page,
        pages=pages,
        total=total,
        sort=sort,
        sorts=SORTS,
        params=params,
        sort_params=sort_params,
        facets=facet_groups(query, result.facets if result else facets_only, sort_params),
        facets_shown=FACETS_SHOWN,
        facet_size=FACET_SIZE,
        terms=terms,
        highlight=highlight,
        with_params=with_params,
        toggle_filter=toggle_filter,
        save_href="/scenes/new" + with_params(params),
        editing=editing,
        page_size=PAGE_SIZE,
    ), (400 if errors else 200)
