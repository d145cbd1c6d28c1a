"""/api/v1/scenes: the caller's scenes, created and changed with the web form's rules."""
from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from flask.views import MethodView
from sqlalchemy import func, select

from config.extensions import db, search
from notifier.channel_admin import channel_info
from subscriptions.api.auth import caller, current_owner
from subscriptions.api.common import Blueprint, owned
from subscriptions.api.datasets import parse_scene_query
from subscriptions.api.paging import keyset_page
from subscriptions.api.problems import invalid
from subscriptions.api.schemas import (
    PageArgs,
    PreviewIn,
    PreviewOut,
    SceneCreate,
    SceneOut,
    ScenePage,
    ScenePatch,
)
from subscriptions.models import Scene, SceneRun

bp = Blueprint("api_scenes", __name__, url_prefix="/api/v1/scenes",
               description="Saved searches: create, change, preview and delete them.")
log = logging.getLogger("scenewatch.api")


def run_info(run: SceneRun) -> dict[str, Any]:
    """A run's summary (no diff document)."""
    return {
        "id": run.id, "state": run.state, "scheduled_for": run.scheduled_for, "started_at": run.started_at,
        "finished_at": run.finished_at, "matched": run.matched, "added": run.added, "removed": run.removed,
        "changed": run.changed, "moved": run.moved, "error": run.error,
    }


def scene_info(scene: Scene, last_run: SceneRun | None) -> dict[str, Any]:
    """A scene as the API shows it: never a webhook secret."""
    return {
        "id": scene.id, "name": scene.name, "query": scene.query or {}, "schedule": scene.schedule,
        "timezone": scene.timezone, "tracked_fields": list(scene.tracked_fields or []),
        "paused": bool(scene.paused), "next_run_at": scene.next_run_at, "created_at": scene.created_at,
        "channels": [channel_info(c) for c in scene.channels],
        "last_run": run_info(last_run) if last_run else None,
    }


def _last_runs(session: Any, scene_ids: list[int]) -> dict[int, SceneRun]:
    latest = select(func.max(SceneRun.id)).where(SceneRun.scene_id.in_(scene_ids)).group_by(SceneRun.scene_id)
    return {run.scene_id: run for run in session.scalars(select(SceneRun).where(SceneRun.id.in_(latest)))}


def scene_errors(exc: Any) -> Any:
    """The 422 for a SceneError: its problems, field by field, as the CLI prints them."""
    return invalid([{"field": p.field, "message": p.message} for p in exc.problems])


def _send_confirmations(channel_ids: list[int]) -> None:
    """Double opt-in for addresses given through the API, after the scene is saved (a
    mail server that is down must not lose the scene)."""
    if not channel_ids:
        return
    from notifier.confirmation import send_confirmations

    try:
        send_confirmations(channel_ids, current_app.config["SCENEWATCH"])
    except Exception:  # logged; the address stays unconfirmed and can be re-sent
        log.exception("confirmation mail failed for channels %s", channel_ids)


@bp.route("")
class Scenes(MethodView):
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, ScenePage)
    @bp.problems(401, 403, 422, 429)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List your scenes

        Newest first, each with its channels and last run.
        """
        with db.session() as session:
            stmt = select(Scene).where(Scene.owner_id == caller().user_id)
            items, next_cursor = keyset_page(session, stmt, Scene.id, "scenes", args["limit"], args["cursor"])
            last = _last_runs(session, [s.id for s in items])
            return {"items": [scene_info(s, last.get(s.id)) for s in items], "next_cursor": next_cursor}

    @bp.arguments(SceneCreate, location="json")
    @bp.response(201, SceneOut)
    @bp.problems(401, 403, 409, 422, 429)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a scene

        Validated exactly as the web form. A webhook's signing secret is in this
        response only (`channels[].secret`): store it. An email address gets a
        confirmation mail first. Send an `Idempotency-Key` to make retries safe.
        """
        from subscriptions.scenes import SceneError, create_scene

        try:
            with db.session() as session:
                made = create_scene(
                    session, current_owner(session), name=body.get("name", ""), query=body.get("query", {}),
                    schedule=body.get("schedule") or "daily", timezone_name=body.get("timezone") or None,
                    tracked_fields=body.get("tracked_fields") or None, email=body.get("email") or None,
                    email_verified=False, email_cadence=body.get("email_cadence") or "immediate",
                    webhook=body.get("webhook") or None, send_when_empty=bool(body.get("send_when_empty")),
                )
                data = scene_info(made.scene, None)
                secrets = {c.id: c.secret for c in made.channels if c.kind == "webhook" and c.secret}
                for channel in data["channels"]:
                    if channel["id"] in secrets:
                        channel["secret"] = secrets[channel["id"]]
                unconfirmed = [c.id for c in made.channels if c.kind == "email" and not c.verified]
        except SceneError as exc:
            raise scene_errors(exc) from None
        _send_confirmations(unconfirmed)
        return data, 201, {"Location": f"/api/v1/scenes/{data['id']}"}


@bp.route("/<int:scene_id>")
class SceneItem(MethodView):
    @bp.response(200, SceneOut)
    @bp.problems(401, 403, 404, 429)
    def get(self, scene_id: int) -> dict[str, Any]:
        """One of your scenes"""
        with db.session() as session:
            scene = owned(session, Scene, scene_id)
            return scene_info(scene, _last_runs(session, [scene.id]).get(scene.id))

    @bp.arguments(ScenePatch, location="json")
    @bp.response(200, SceneOut)
    @bp.problems(401, 403, 404, 422, 429)
    def patch(self, body: dict[str, Any], scene_id: int) -> dict[str, Any]:
        """Change a scene

        Only the fields given change, with the web editor's rules: a new query records
        a new baseline, so the next run reports changes against the new query.
        """
        from subscriptions.api.scene_edit import apply_patch

        with db.session() as session:
            scene = owned(session, Scene, scene_id)
            apply_patch(session, scene, body)
        with db.session() as session:
            scene = owned(session, Scene, scene_id)
            return scene_info(scene, _last_runs(session, [scene.id]).get(scene.id))

    @bp.response(204)
    @bp.problems(401, 403, 404, 429)
    def delete(self, scene_id: int) -> None:
        """Delete a scene

        Its runs and members go with it, and every channel no other scene uses.
        """
        from subscriptions.scenes import delete_scene

        with db.session() as session:
            delete_scene(session, owned(session, Scene, scene_id))


@bp.route("/<int:scene_id>/preview")
class ScenePreview(MethodView):
    @bp.arguments(PreviewIn, location="json")
    @bp.response(200, PreviewOut)
    @bp.problems(401, 403, 404, 422, 429)
    def post(self, body: dict[str, Any], scene_id: int) -> dict[str, Any]:
        """Preview matches

        The datasets the scene's query (or the `query` given here) matches now;
        nothing is saved or sent. Needs only the read scope.
        """
        with db.session() as session:
            scene = owned(session, Scene, scene_id)
            saved = dict(scene.query or {})
        query = parse_scene_query(body.get("query", saved))
        result = search.get().search(query, limit=body["limit"], offset=0, facets=())
        return {"total": result.total, "query": query.to_dict(), "items": result.to_dict()["hits"]}
