"""/api/v1/scenes/{id}/runs: a scene's runs, one run's diff document, run now."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import select

from config.extensions import db
from subscriptions.api.auth import caller
from subscriptions.api.common import Blueprint, owned
from subscriptions.api.paging import keyset_page
from subscriptions.api.problems import ApiProblem
from subscriptions.api.scenes import run_info
from subscriptions.api.schemas import PageArgs, RunDetail, RunPage
from subscriptions.models import Scene, SceneRun

bp = Blueprint("api_runs", __name__, url_prefix="/api/v1/scenes",
               description="Runs of a scene: what each found (the webhook's diff document) and its downloads.")
SCENE_ID = {"in": "path", "name": "scene_id", "required": True, "schema": {"type": "integer"}}


def downloads(scene: Scene, run: SceneRun) -> dict[str, str]:
    """Freshly signed batch-download links of ``run`` (all, added, changed)."""
    from notifier.links import run_links

    links = run_links(scene.id, run.id, scene.feed_token, run_started_at=run.started_at)
    return {name.removeprefix("download_"): url for name, url in links.items() if name.startswith("download_")}


def run_detail(scene: Scene, run: SceneRun) -> dict[str, Any]:
    """A run with its diff document and download links."""
    return {**run_info(run), "scene_id": scene.id, "diff": dict(run.diff or {}), "downloads": downloads(scene, run)}


def _owned_run(session: Any, scene_id: int, run_id: int) -> tuple[Scene, SceneRun]:
    scene = owned(session, Scene, scene_id)
    run = session.get(SceneRun, run_id) if 0 < run_id < 2**31 else None
    if run is None or run.scene_id != scene.id:
        raise ApiProblem(404, "not found")
    return scene, run


@bp.route("/<int:scene_id>/runs")
class Runs(MethodView):
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, RunPage)
    @bp.problems(401, 403, 404, 422, 429)
    def get(self, args: dict[str, Any], scene_id: int) -> dict[str, Any]:
        """List a scene's runs

        Newest first; page with `cursor`.
        """
        with db.session() as session:
            scene = owned(session, Scene, scene_id)
            stmt = select(SceneRun).where(SceneRun.scene_id == scene.id)
            items, next_cursor = keyset_page(session, stmt, SceneRun.id, f"runs{scene.id}",
                                             args["limit"], args["cursor"])
            return {"items": [run_info(r) for r in items], "next_cursor": next_cursor}

    @bp.response(201, RunDetail)
    @bp.problems(401, 403, 404, 409, 429)
    def post(self, scene_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Run a scene now

        Runs the query, records the diff and hands notifications to delivery; returns
        the run with its diff document. At most one run of a scene is in progress: a
        second request meanwhile gets 409.
        """
        from subscriptions.api.run_now import start_run

        with db.session() as session:
            owned(session, Scene, scene_id)
        run_id = start_run(scene_id, caller().user_id)
        with db.session() as session:
            scene, run = _owned_run(session, scene_id, run_id)
            return run_detail(scene, run), 201, {"Location": f"/api/v1/scenes/{scene_id}/runs/{run_id}"}


@bp.route("/<int:scene_id>/runs/<int:run_id>")
class RunItem(MethodView):
    @bp.response(200, RunDetail)
    @bp.problems(401, 403, 404, 429)
    def get(self, scene_id: int, run_id: int) -> dict[str, Any]:
        """One run with its diff document

        `diff` is the JSON webhooks carry as `data`; `downloads` are signed links to the
        run's datasets (valid for `SCENEWATCH_DOWNLOAD_TTL` seconds).
        """
        with db.session() as session:
            scene, run = _owned_run(session, scene_id, run_id)
            return run_detail(scene, run)
