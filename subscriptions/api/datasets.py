"""/api/v1/datasets: search the catalog with a scene query, one dataset, its versions."""
from __future__ import annotations

import json
from typing import Any

from flask.views import MethodView
from sqlalchemy import select

from config.extensions import db, search
from subscriptions.api.common import Blueprint
from subscriptions.api.paging import decode_cursor, offset_cursor
from subscriptions.api.problems import ApiProblem, invalid
from subscriptions.api.schemas import (
    DatasetDetail,
    QueryBody,
    SearchArgs,
    SearchGetArgs,
    SearchPage,
    VersionDiff,
)

bp = Blueprint("api_datasets", __name__, url_prefix="/api/v1/datasets",
               description="The catalog: search with a scene query, datasets and their versions.")
CURSOR_KIND = "datasets"


def parse_scene_query(raw: Any, field: str = "query") -> Any:
    """The validated scene query; a 422 naming each bad field (the CLI's messages)."""
    from search.query import QueryError, parse_query

    try:
        return parse_query(raw)
    except QueryError as exc:
        errors = []
        for problem in exc.errors:
            name = field if problem.field == "query" else problem.field
            entry: dict[str, Any] = {"field": name, "message": problem.reason}
            if problem.value is not None:
                entry["value"] = problem.value
            errors.append(entry)
        raise invalid(errors) from None


def run_search(query: Any, args: dict[str, Any]) -> dict[str, Any]:
    """One page of hits for ``query`` with facets and the next cursor."""
    from search.backends import FACET_FIELDS

    offset = decode_cursor(CURSOR_KIND, args.get("cursor")) or 0
    limit = int(args["limit"])
    facets = FACET_FIELDS if args.get("facets", True) else ()
    result = search.get().search(query, limit=limit, offset=offset, facets=facets, sort=args["sort"])
    data = result.to_dict()
    return {
        "total": data["total"],
        "facets": data["facets"],
        "items": data["hits"],
        "next_cursor": offset_cursor(CURSOR_KIND, offset, limit, result.total),
    }


@bp.route("")
class DatasetSearch(MethodView):
    @bp.arguments(SearchGetArgs, location="query")
    @bp.response(200, SearchPage)
    @bp.problems(401, 403, 422, 429)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """Search datasets

        `q` is a scene query as JSON text (`{}` matches everything). Page with `cursor`.
        """
        return run_search(parse_scene_query(args["q"], "q"), args)


@bp.route("/search")
class DatasetSearchBody(MethodView):
    @bp.arguments(QueryBody, location="json")
    @bp.arguments(SearchArgs, location="query")
    @bp.response(200, SearchPage)
    @bp.problems(401, 403, 422, 429)
    def post(self, body: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        """Search datasets (query in the body)

        The body is the scene query itself; `limit`, `cursor` and `sort` stay in the URL.
        Nothing is saved, so this needs only the read scope.
        """
        return run_search(parse_scene_query(body), args)


def _versions(session: Any, dataset_id: str) -> list[Any]:
    from search.models import DatasetVersion

    return list(session.scalars(
        select(DatasetVersion).where(DatasetVersion.dataset_id == dataset_id)
        .order_by(DatasetVersion.seen_at, DatasetVersion.id)
    ))


def _dataset(session: Any, dataset_id: str) -> Any:
    from search.models import Dataset

    dataset = session.get(Dataset, dataset_id) if len(dataset_id) <= 512 else None
    if dataset is None:
        raise ApiProblem(404, "not found")
    return dataset


@bp.route("/<path:dataset_id>", merge_slashes=False)
class DatasetItem(MethodView):
    @bp.response(200, DatasetDetail)
    @bp.problems(401, 403, 404, 429)
    def get(self, dataset_id: str) -> dict[str, Any]:
        """One dataset with its versions

        Versions are numbered from 1 (the first content seen) in the order they were seen.
        """
        with db.session() as session:
            dataset = _dataset(session, dataset_id)
            versions = _versions(session, dataset_id)
            return {
                **dataset.to_document(),
                "deleted_at": dataset.deleted_at,
                "first_seen_at": dataset.first_seen_at,
                "last_changed_at": dataset.last_changed_at,
                "versions": [
                    {"number": n, "content_hash": v.content_hash, "seen_at": v.seen_at,
                     "harvest_id": v.harvest_id}
                    for n, v in enumerate(versions, start=1)
                ],
            }


@bp.route("/<path:dataset_id>/versions/<int:old>/diff/<int:new>", merge_slashes=False)
class DatasetVersionDiff(MethodView):
    @bp.response(200, VersionDiff)
    @bp.problems(401, 403, 404, 429)
    def get(self, dataset_id: str, old: int, new: int) -> dict[str, Any]:
        """What changed between two versions

        Field by field, as in notifications; word lists and resources also say what
        came and went.
        """
        from subscriptions.views.history import display_changes

        with db.session() as session:
            _dataset(session, dataset_id)
            versions = _versions(session, dataset_id)
            if not (1 <= old <= len(versions) and 1 <= new <= len(versions)):
                raise ApiProblem(404, "not found")
            before, after = versions[old - 1], versions[new - 1]
            changes = display_changes(before.content or {}, after.content or {})
        # Values are catalog JSON; round-trip so the response holds plain JSON types only.
        return {"dataset_id": dataset_id, "old": old, "new": new,
                "changes": json.loads(json.dumps(changes, default=str))}
