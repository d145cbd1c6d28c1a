"""Every value of one facet, with counts, and a filter box (filter-as-you-type when
scripts run, on submit when they do not); plus the site icon."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for

from subscriptions.views.query_params import build_query, query_params, toggle_filter, with_params

bp = Blueprint("facets", __name__, static_folder="../static", static_url_path="/static")
ALL_VALUES = 10_000  # the whole vocabulary of one field: a few thousand publishers at most
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32">'
    '<rect width="32" height="32" rx="7" fill="#1f5fbf"/>'
    '<circle cx="14" cy="14" r="7" fill="none" stroke="#fff" stroke-width="3"/>'
    '<path d="M19 19l7 7" stroke="#fff" stroke-width="3.5" stroke-linecap="round"/></svg>'
)


def facet_values(query: dict[str, Any], field: str) -> list[tuple[str, int]]:
    """Every value of ``field`` with its count among the query's matches, counted as if
    ``field`` were not filtered (its values are OR-ed, so each shows what it adds)."""
    from config.extensions import search
    from search.query import parse_query

    others = {k: v for k, v in (query.get("filters") or {}).items() if k != field}
    widened = parse_query({**query, "filters": others})
    result = search.get().search(widened, limit=0, offset=0, facets=(field,), facet_size=ALL_VALUES)
    return [(str(v), c) for v, c in result.facets.get(field, []) if str(v) != ""]


@bp.route("/facets/<field>")
def all_values(field: str) -> Any:
    """The page behind a facet's "show all"."""
    from search.backends.base import FACET_FIELDS
    from search.query import QueryError
    from subscriptions.views.search_page import FACET_ORDER

    if field not in FACET_FIELDS or field not in FACET_ORDER:
        abort(404)
    args = request.args
    params = query_params(args)
    keep = [(k, v) for k, v in args.items(multi=True) if k in ("edit", "sort")]
    query = build_query(args)
    try:
        counts = facet_values(query, field)
    except (QueryError, ValueError):
        counts = []
    chosen = {str(v) for v in (query.get("filters") or {}).get(field, [])}
    needle = (args.get("filter") or "").strip().lower()
    items: list[dict[str, Any]] = [
        {"value": v, "count": c, "selected": v in chosen, "href": url_for("search_page.index")
         + toggle_filter([*params, *keep], field, v)}
        for v, c in counts
    ]
    known = {v for v, _ in counts}
    items += [{"value": v, "count": None, "selected": True,
               "href": url_for("search_page.index") + toggle_filter([*params, *keep], field, v)}
              for v in sorted(chosen - known)]
    shown = [i for i in items if not needle or needle in i["value"].lower()]
    return render_template(
        "facet_values.html", field=field, items=shown, total=len(items), needle=args.get("filter") or "",
        hidden_params=[*params, *keep], back_href=url_for("search_page.index") + with_params([*params, *keep]),
    )


@bp.route("/favicon.ico")
@bp.route("/favicon.svg")
def icon() -> Response:
    """The site icon (browsers ask for /favicon.ico on every page)."""
    return Response(ICON, mimetype="image/svg+xml", headers={"Cache-Control": "public, max-age=86400"})
