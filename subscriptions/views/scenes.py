"""My scenes: the list, the "save this search" form, one scene, and its actions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from config.extensions import db, search
from subscriptions.i18n import localise_problem, query_field_label, translate
from subscriptions.models import Scene, SceneRun, User
from subscriptions.views.auth import COMMON_ZONES, login_required
from subscriptions.views.charts import changes_chart, line_chart
from subscriptions.views.query_params import build_query, query_params, query_to_params, with_params

bp = Blueprint("scenes", __name__)
PRESETS = ("on-change", "hourly", "daily", "weekly", "monthly", "manual")
CADENCES = ("immediate", "daily", "weekly")
RUNS_LISTED = 50
CHART_RUNS = 100
SHOW_SECRET = "show_webhook_secret"
FORM_FIELDS = (
    "name", "schedule", "timezone", "email", "email_cadence", "webhook", "tracked_fields", "channel",
)


def owned_scene(s: Session, scene_id: int) -> Scene:
    """The logged-in user's scene ``scene_id``; 404 for anyone else's (not 403: an
    id that exists must look the same as one that does not)."""
    scene = s.get(Scene, scene_id)
    if scene is None or scene.owner_id != g.user.id:
        abort(404)
    return scene


@bp.route("/scenes")
@login_required
def index() -> str:
    """The user's scenes with their latest run."""
    with db.session() as s:
        scenes = s.scalars(
            select(Scene)
            .where(Scene.owner_id == g.user.id)
            .order_by(Scene.created_at.desc(), Scene.id.desc())
        ).all()
        latest_ids = (
            select(func.max(SceneRun.id))
            .where(SceneRun.scene_id.in_([sc.id for sc in scenes]))
            .group_by(SceneRun.scene_id)
        )
        latest = {
            run.scene_id: run
            for run in s.scalars(select(SceneRun).where(SceneRun.id.in_(latest_ids)))
        }
        rows = [{"scene": sc, "run": latest.get(sc.id)} for sc in scenes]
    return render_template("scenes.html", rows=rows)


def _form_defaults(user: User, query: dict[str, Any]) -> dict[str, Any]:
    from subscriptions.scenes import DEFAULT_TRACKED

    return {
        "name": (query.get("text") or "")[:200],
        "schedule": "daily",
        "cron": "",
        "timezone": user.timezone or "Asia/Shanghai",
        "email": "",
        "email_cadence": "immediate",
        "webhook": "",
        "tracked_fields": list(DEFAULT_TRACKED),
        "send_when_empty": False,
    }


def _form_values() -> dict[str, Any]:
    form = request.form
    return {
        "name": (form.get("name") or "").strip(),
        "schedule": form.get("schedule") or "daily",
        "cron": (form.get("cron") or "").strip(),
        "timezone": (form.get("timezone") or "").strip(),
        "email": (form.get("email") or "").strip(),
        "email_cadence": form.get("email_cadence") or "immediate",
        "webhook": (form.get("webhook") or "").strip(),
        "tracked_fields": form.getlist("tracked_fields"),
        "send_when_empty": form.get("send_when_empty") == "1",
    }


def preview_count(query: dict[str, Any]) -> tuple[int | None, list[Any]]:
    """How many datasets the query matches now, or its validation errors."""
    from search.query import QueryError, parse_query

    try:
        parsed = parse_query(query)
    except QueryError as exc:
        return None, list(exc.errors)
    return search.get().search(parsed, limit=1, offset=0, facets=()).total, []


def send_confirmations(channels: list[tuple[int, str]]) -> list[str]:
    """Double opt-in: one confirmation mail per new address, after the scene is saved
    (a mail server that is down must not lose the scene). Addresses that got one
    recently are skipped (nobody may flood a stranger); returns them."""
    from notifier.confirmation import send_confirmations as mail_confirmations
    from subscriptions.views.limits import allow_confirmation_mail

    throttled = [address for _, address in channels if not allow_confirmation_mail(address)]
    for address in throttled:
        flash(translate("scene.confirmation_throttled", address=address), "error")
    channels = [(channel_id, address) for channel_id, address in channels if address not in throttled]
    if not channels:
        return throttled

    try:
        mail_confirmations(
            [channel_id for channel_id, _ in channels], current_app.config["SCENEWATCH"]
        )
    except Exception as exc:  # shown to the user; the scene itself is saved
        current_app.logger.warning("confirmation mail failed: %s", exc)
        flash(translate("scene.confirmation_failed", error=str(exc)), "error")
        return throttled
    for _, address in channels:
        flash(translate("scene.confirmation_sent", address=address), "info")
    return throttled


def _problem_slot(field: str) -> str:
    """Which form input a scene problem is shown next to."""
    if field.startswith("query"):
        return "query"
    return field if field in FORM_FIELDS else "general"


def problem_messages(problems: list[Any]) -> dict[str, list[str]]:
    """Scene problems grouped by the form input they are shown next to."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        slot = _problem_slot(problem.field)
        message = localise_problem(problem.message)
        text = f"{query_field_label(problem.field)}: {message}" if slot in ("query", "general") else message
        errors.setdefault(slot, []).append(text)
    return errors


@bp.route("/scenes/new", methods=["GET", "POST"])
@login_required
def new() -> Any:
    """Save the current search as a scene (the query travels in hidden fields)."""
    from search.models import TRACKABLE_FIELDS
    from subscriptions.scene_channels import confirmed_address
    from subscriptions.scenes import SceneError, create_scene

    source = request.form if request.method == "POST" else request.args
    query = build_query(source)
    params = query_params(source)
    errors: dict[str, list[str]] = {}
    values = _form_defaults(g.user, query)
    if request.method == "POST":
        values = _form_values()
        schedule = values["cron"] if values["schedule"] == "cron" else values["schedule"]
        try:
            with db.session() as s:
                owner = s.get(User, g.user.id)
                if owner is None:  # deleted since this request signed in
                    abort(404)
                made = create_scene(
                    s,
                    owner,
                    name=values["name"],
                    query=query,
                    schedule=schedule,
                    timezone_name=values["timezone"] or None,
                    tracked_fields=values["tracked_fields"],
                    email=values["email"] or None,
                    # An address the owner confirmed before is not asked again.
                    email_verified=confirmed_address(s, owner.id, values["email"].strip().lower()),
                    email_cadence=values["email_cadence"],
                    webhook=values["webhook"] or None,
                    send_when_empty=values["send_when_empty"],
                )
                scene_id = made.scene.id
                webhooks = [c.id for c in made.channels if c.kind == "webhook" and c.secret]
                to_confirm = [
                    (c.id, c.target) for c in made.channels if c.kind == "email" and not c.verified
                ]
        except SceneError as exc:
            errors = problem_messages(exc.problems)
        else:
            if webhooks:
                # The next page shows the secret once. Only the channel id rides in the
                # session cookie (readable by its holder), never the secret itself.
                session[SHOW_SECRET] = {"scene_id": scene_id, "channel_id": webhooks[0]}
            flash(translate("scene.saved"), "ok")
            send_confirmations(to_confirm)
            return redirect(url_for("scenes.show", scene_id=scene_id))
    total, query_errors = preview_count(query)
    return render_template(
        "scene_new.html",
        query=query,
        params=params,
        values=values,
        errors=errors,
        query_errors=query_errors,
        total=total,
        presets=PRESETS,
        cadences=CADENCES,
        trackable=TRACKABLE_FIELDS,
        zones=COMMON_ZONES,
        back_href=url_for("search_page.index") + with_params(params),
    ), (400 if errors or query_errors else 200)


@bp.route("/scenes/<int:scene_id>")
@login_required
def show(scene_id: int) -> str:
    """One scene: its query, schedule, channels, chart of matches and runs."""
    with db.session() as s:
        scene = owned_scene(s, scene_id)
        channels = list(scene.channels)
        runs = s.scalars(
            select(SceneRun)
            .where(SceneRun.scene_id == scene_id)
            .order_by(SceneRun.id.desc())
            .limit(max(RUNS_LISTED, CHART_RUNS))
        ).all()
        run_count = s.scalar(
            select(func.count()).select_from(SceneRun).where(SceneRun.scene_id == scene_id)
        )
    secret = None
    stash = session.get(SHOW_SECRET)
    if isinstance(stash, dict) and stash.get("scene_id") == scene_id:
        session.pop(SHOW_SECRET)
        secret = next((c.secret for c in channels if c.id == stash.get("channel_id")), None)
    finished = [
        r for r in reversed(runs[:CHART_RUNS]) if r.state != "working" and r.state != "error"
    ]
    chart = line_chart(
        [(r.started_at.astimezone(_zone()), r.matched) for r in finished],
        title=translate("scene.chart_title"),
    )
    changes = changes_chart(
        [(r.started_at.astimezone(_zone()), r.added, r.removed, r.changed) for r in finished],
        title=translate("scene.changes_chart_title"),
        names={k: translate(f"count.{k}") for k in ("added", "removed", "changed")},
    )
    # The Atom feed belongs to another module; link it only once it is served.
    served = "downloads" in current_app.blueprints
    feed_href = url_for("downloads.feed", feed_token=scene.feed_token) if served else None
    exports = (
        {
            fmt: url_for("downloads.export_scene", scene_id=scene_id, fmt=fmt)
            for fmt in ("csv", "xlsx", "json")
        }
        if served
        else {}
    )
    return render_template(
        "scene.html",
        scene=scene,
        channels=channels,
        runs=runs[:RUNS_LISTED],
        run_count=run_count,
        secret=secret,
        chart=chart,
        changes_chart=changes,
        feed_href=feed_href,
        exports=exports,
        search_href=url_for("search_page.index") + with_params(query_to_params(scene.query or {})),
    )


def _zone() -> Any:
    from subscriptions.i18n import user_zone

    return user_zone()


@bp.route("/scenes/<int:scene_id>/run", methods=["POST"])
@login_required
def run_now(scene_id: int) -> Response:
    """Run the scene right away and show what it found."""
    with db.session() as s:
        owned_scene(s, scene_id)
    from subscriptions.run_now import start_run_now

    try:
        outcome = start_run_now(scene_id)
    except Exception as exc:  # the user sees why; the log keeps the traceback
        current_app.logger.exception("run now failed for scene %s", scene_id)
        flash(translate("scene.run_failed", error=str(exc) or type(exc).__name__), "error")
        return redirect(url_for("scenes.show", scene_id=scene_id))
    if not outcome.started:
        since = outcome.in_progress_since
        flash(translate("scene.run_in_progress",
                        since=since.astimezone(_zone()).strftime("%H:%M:%S") if since else "—"), "info")
        return redirect(url_for("scenes.show", scene_id=scene_id))
    diff = outcome.document
    counts = (diff or {}).get("counts") or {}
    state = ((diff or {}).get("run") or {}).get("state")
    if state == "error":
        # The runner records failures as error runs instead of raising.
        flash(translate("scene.run_failed", error=(diff or {}).get("error") or ""), "error")
    else:
        flash(
            translate(
                f"scene.run_done_{state}" if state in ("baseline", "noop") else "scene.run_done",
                **{
                    k: counts.get(k, 0) for k in ("matched", "added", "removed", "changed", "moved")
                },
            ),
            "ok",
        )
    run_id = ((diff or {}).get("run") or {}).get("id")
    if isinstance(run_id, int):
        return redirect(url_for("runs.show", scene_id=scene_id, run_id=run_id))
    return redirect(url_for("scenes.show", scene_id=scene_id))


@bp.route("/scenes/<int:scene_id>/channels/<int:channel_id>/confirm", methods=["POST"])
@login_required
def resend_confirmation(scene_id: int, channel_id: int) -> Response:
    """Send the confirmation mail of one of the scene's unverified addresses again."""
    with db.session() as s:
        scene = owned_scene(s, scene_id)
        channel = next((c for c in scene.channels if c.id == channel_id), None)
        if channel is None or channel.kind != "email":
            abort(404)
        pending = [] if channel.verified else [(channel.id, channel.target)]
    if send_confirmations(pending):
        abort(429)
    return redirect(url_for("scenes.show", scene_id=scene_id))


@bp.route("/scenes/<int:scene_id>/pause", methods=["POST"])
@bp.route("/scenes/<int:scene_id>/resume", methods=["POST"], endpoint="resume")
@login_required
def pause(scene_id: int) -> Response:
    """Pause or resume; resuming schedules the next run from now, not from the past."""
    from subscriptions.schedule import next_run_after

    resume = request.path.endswith("/resume")
    with db.session() as s:
        scene = owned_scene(s, scene_id)
        scene.paused = not resume
        if resume:
            scene.next_run_at = next_run_after(
                scene.schedule, scene.timezone, datetime.now(UTC)
            )
    flash(translate("scene.resumed") if resume else translate("scene.paused_msg"), "ok")
    return redirect(url_for("scenes.show", scene_id=scene_id))


@bp.route("/scenes/<int:scene_id>/delete", methods=["GET", "POST"])
@login_required
def delete(scene_id: int) -> Any:
    """GET asks for confirmation; POST deletes the scene, its runs and members."""
    from subscriptions.scenes import delete_scene

    with db.session() as s:
        scene = owned_scene(s, scene_id)
        if request.method == "GET":
            return render_template("scene_delete.html", scene=scene)
        name = scene.name
        delete_scene(s, scene)
    flash(translate("scene.deleted", name=name), "ok")
    return redirect(url_for("scenes.index"))
