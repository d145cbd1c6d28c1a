"""/api/v1/sources (administrators): the catalogs harvested, their harvests, harvest now."""
from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask.views import MethodView
from marshmallow import fields
from sqlalchemy import select

from config.extensions import db
from search.models import Harvest, Source
from subscriptions.api.auth import ADMIN_BLUEPRINTS
from subscriptions.api.common import Blueprint
from subscriptions.api.paging import keyset_page
from subscriptions.api.problems import ApiProblem, invalid
from subscriptions.api.schemas import Bool, Int, PageArgs, Str, When, nullable

bp = Blueprint("api_sources", __name__, url_prefix="/api/v1/sources",
               description="Sources (administrators only, with an admin token): the portals harvested.")
ADMIN_BLUEPRINTS.add(bp.name)

class HarvestOut(ma.Schema):
    id = Int(required=True)
    source = Str(required=True)
    status = Str(required=True, metadata={"description": "working | done | not_modified | held | error …"})
    http_status = nullable(Int())
    bytes = nullable(Int())
    started_at = When(required=True)
    finished_at = nullable(When())
    location = Str()
    format = Str()
    trigger = Str()
    counts = fields.Dict(keys=Str(), values=Int())
    error = nullable(Str())


class HarvestPage(ma.Schema):
    items = fields.List(fields.Nested(HarvestOut), required=True)
    next_cursor = nullable(Str(required=True))


class HarvestRunArgs(ma.Schema):
    accept_removals = Bool(load_default=False, metadata={"description": "Apply removals a suspect harvest would hold"})
    full = Bool(load_default=False, metadata={"description": "Fetch everything, not conditionally"})


class HarvestRunOut(HarvestOut):
    scenes = fields.List(fields.Dict(), metadata={"description": "On-change scenes evaluated: id and state"})


class SourceOut(ma.Schema):
    name = Str(required=True)
    location = Str(required=True)
    format = Str()
    mapping = nullable(Str())
    schedule = Str()
    timezone = Str()
    headers = fields.Dict(keys=Str(), values=Str(), metadata={"description": "Values masked"})
    paused = Bool()
    next_harvest_at = nullable(When())
    harvesting = Bool()
    etag = nullable(Str())
    last_modified = nullable(Str())
    last_harvest = nullable(fields.Nested(HarvestOut))


class SourcePage(ma.Schema):
    items = fields.List(fields.Nested(SourceOut), required=True)
    next_cursor = nullable(Str(required=True))


def _source(session: Any, name: str) -> Source:
    from search.sources import find_source

    source = find_source(session, name) if len(name) <= 128 else None
    if source is None:
        raise ApiProblem(404, "not found")
    return source


@bp.route("")
class Sources(MethodView):
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, SourcePage)
    @bp.problems(401, 403, 422, 429)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List sources

        Each with its schedule, conditional-fetch state and last harvest (headers masked).
        """
        from search.sources import recent_harvests, source_record

        with db.session() as session:
            items, next_cursor = keyset_page(session, select(Source), Source.id, "sources",
                                             args["limit"], args["cursor"])
            rows = []
            for source in items:
                last = recent_harvests(session, source.name, limit=1)
                rows.append(source_record(source, last[0] if last else None))
            return {"items": rows, "next_cursor": next_cursor}


@bp.route("/<name>")
class SourceItem(MethodView):
    @bp.response(200, SourceOut)
    @bp.problems(401, 403, 404, 429)
    def get(self, name: str) -> dict[str, Any]:
        """One source with its last harvest"""
        from search.sources import recent_harvests, source_record

        with db.session() as session:
            source = _source(session, name)
            last = recent_harvests(session, source.name, limit=1)
            return source_record(source, last[0] if last else None)


@bp.route("/<name>/harvests")
class SourceHarvests(MethodView):
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, HarvestPage)
    @bp.problems(401, 403, 404, 422, 429)
    def get(self, args: dict[str, Any], name: str) -> dict[str, Any]:
        """A source's harvests

        Newest first, with counts, HTTP status and bytes read.
        """
        from search.sources import harvest_record

        with db.session() as session:
            source = _source(session, name)
            stmt = select(Harvest).where(Harvest.source == source.name)
            items, next_cursor = keyset_page(session, stmt, Harvest.id, f"harvests{source.id}",
                                             args["limit"], args["cursor"])
            return {"items": [harvest_record(h) for h in items], "next_cursor": next_cursor}

    @bp.arguments(HarvestRunArgs, location="json")
    @bp.response(201, HarvestRunOut)
    @bp.problems(401, 403, 404, 409, 422, 429)
    def post(self, body: dict[str, Any], name: str) -> tuple[dict[str, Any], int]:
        """Harvest a source now

        Fetches the source (conditionally, unless `full`), records the harvest, and runs
        the on-change scenes it affected. A harvest that looks cut short holds its
        removals unless `accept_removals`. 409 while the source is being harvested.
        """
        from search.harvest import HarvestError
        from search.sources import SourceBusy, SourceNotFound
        from subscriptions.on_change import harvest_and_evaluate

        with db.session() as session:
            source_name = _source(session, name).name
        try:
            outcome = harvest_and_evaluate(source_name, accept_removals=body["accept_removals"],
                                           full=body["full"], trigger="manual")
        except SourceNotFound:
            raise ApiProblem(404, "not found") from None
        except SourceBusy as exc:
            raise ApiProblem(409, str(exc), kind="conflict") from None
        except HarvestError as exc:
            raise invalid([{"field": "source", "message": str(exc)}]) from None
        return outcome.record, 201

