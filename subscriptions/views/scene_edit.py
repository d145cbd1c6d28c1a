"""Editing a saved scene: name, query (from the search page's builder), schedule,
tracked fields; duplicating it. Channels are edited on the same page (views.channels).

A changed query records a new baseline when saved; the page says so before saving.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from config.extensions import db
from subscriptions.i18n import translate
from subscriptions.models import Scene
from subscriptions.views.auth import COMMON_ZONES, login_required
from subscriptions.views.query_params import build_query, query_params, query_to_params, with_params
from subscriptions.views.scenes import CADENCES, PRESETS, owned_scene, problem_messages

bp = Blueprint("scene_edit", __name__)


def _values(scene: Scene) -> dict[str, Any]:
    preset = scene.schedule in PRESETS
    return {
        "name": scene.name,
        "schedule": scene.schedule if preset else "cron",
        "cron": "" if preset else scene.schedule,
        "timezone": scene.timezone,
        "tracked_fields": list(scene.tracked_fields or []),
    }


def _posted_values() -> dict[str, Any]:
    form = request.form
    return {
        "name": (form.get("name") or "").strip(),
        "schedule": form.get("schedule") or "daily",
        "cron": (form.get("cron") or "").strip(),
        "timezone": (form.get("timezone") or "").strip(),
        "tracked_fields": form.getlist("tracked_fields"),
    }


def _same_query(a: dict[str, Any], b: dict[str, Any]) -> bool:
    from search.query import QueryError, parse_query

    try:
        return parse_query(a).to_dict() == parse_query(b).to_dict()
    except QueryError:
        return False


def _proposed_query(scene: Scene, source: Any) -> tuple[dict[str, Any], list[tuple[str, str]], bool]:
    """The query the form carries (from the search builder), else the saved one; the
    flag says whether it came from the builder. The saved query is kept as saved, not
    rebuilt from URL parameters (they cannot express every range)."""
    if source.get("query_set") == "1" or query_params(source):
        return build_query(source), query_params(source), True
    saved = dict(scene.query or {})
    return saved, query_to_params(saved), False


@bp.route("/scenes/<int:scene_id>/edit", methods=["GET", "POST"])
@login_required
def edit(scene_id: int) -> Any:
    """The scene editor. GET may carry a new query from the search page."""
    from search.models import TRACKABLE_FIELDS
    from subscriptions.scenes import SceneError, update_scene
    from subscriptions.views.scenes import preview_count

    source = request.form if request.method == "POST" else request.args
    errors: dict[str, list[str]] = {}
    with db.session() as s:
        scene = owned_scene(s, scene_id)
        query, params, from_builder = _proposed_query(scene, source)
        query_changed = not _same_query(query, scene.query or {})
        values = _values(scene)
        if request.method == "POST":
            values = _posted_values()
            schedule = values["cron"] if values["schedule"] == "cron" else values["schedule"]
            try:
                update = update_scene(
                    s, scene, name=values["name"], query=query if from_builder else None, schedule=schedule,
                    timezone_name=values["timezone"] or scene.timezone,
                    tracked_fields=values["tracked_fields"] or None,
                )
            except SceneError as exc:
                errors = problem_messages(exc.problems)
                s.rollback()
            else:
                if update.baseline is not None:
                    flash(translate("edit.saved_baseline", n=f"{update.baseline.matched:,}"), "ok")
                else:
                    flash(translate("edit.saved") if update.changed else translate("edit.unchanged"), "ok")
                return redirect(url_for("scenes.show", scene_id=scene_id))
        saved_query = dict(scene.query or {})
        channels = list(scene.channels)
        scene_name = scene.name
    total, query_errors = preview_count(query)
    builder = url_for("search_page.index") + with_params([*params, ("edit", str(scene_id))])
    return render_template(
        "scene_edit.html",
        scene_id=scene_id,
        scene_name=scene_name,
        query=query,
        saved_query=saved_query,
        query_changed=query_changed,
        params=params if from_builder else [],
        from_builder=from_builder,
        values=values,
        errors=errors,
        query_errors=query_errors,
        total=total,
        presets=PRESETS,
        cadences=CADENCES,
        trackable=TRACKABLE_FIELDS,
        zones=COMMON_ZONES,
        channels=channels,
        builder_href=builder,
        weekdays=("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
    ), (400 if errors or query_errors else 200)


@bp.post("/scenes/<int:scene_id>/duplicate")
@login_required
def duplicate(scene_id: int) -> Response:
    """A copy of the scene (same query, schedule and channels) with its own baseline."""
    from subscriptions.scenes import MAX_NAME, duplicate_scene

    with db.session() as s:
        scene = owned_scene(s, scene_id)
        suffix = translate("edit.copy_suffix")
        made = duplicate_scene(s, scene, name=scene.name[: MAX_NAME - len(suffix)] + suffix)
        copy_id = made.scene.id
    flash(translate("edit.duplicated"), "ok")
    return redirect(url_for("scenes.show", scene_id=copy_id))

