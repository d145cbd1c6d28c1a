"""Admin pages: registered sources, their harvest history and quarantined records.

Only admins (``scenewatch users grant-admin EMAIL``) see them: a visitor who is not
logged in gets 404 (the pages do not advertise themselves), a logged-in non-admin 403.
"""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, render_template, request
from markupsafe import Markup
from sqlalchemy import func, select

from config.extensions import db
from search.models import Harvest, QuarantinedRecord, Source
from search.sources import (
    dataset_counts,
    harvest_record,
    masked_headers,
    quarantine_summary,
    recent_harvests,
)
from subscriptions.i18n import format_datetime, translate, user_zone
from subscriptions.views.auth import current_user
from subscriptions.views.charts import line_chart

bp = Blueprint("admin_sources", __name__, url_prefix="/admin/sources")
F = TypeVar("F", bound=Callable[..., Any])
HISTORY = 50
CHART_HARVESTS = 60
PAGE = 50


def admin_required(view: F) -> F:
    """404 for visitors, 403 for users who are not admins."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        user = current_user()
        if user is None:
            abort(404)
        if not user.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return wrapped  # type: ignore[return-value]


def _source(session: Any, source_id: int) -> Source:
    source = session.get(Source, source_id)
    if source is None:
        abort(404)
    return source


@bp.route("")
@admin_required
def index() -> str:
    """Every source with its last harvest."""
    with db.session() as s:
        rows = []
        for source in s.scalars(select(Source).order_by(Source.name)):
            last = recent_harvests(s, source.name, limit=1)
            rows.append({"source": source, "last": harvest_record(last[0]) if last else None})
    return render_template("admin_sources.html", rows=rows)


@bp.route("/<int:source_id>")
@admin_required
def show(source_id: int) -> str:
    """One source: settings (headers masked), harvest history, quarantine summary."""
    with db.session() as s:
        source = _source(s, source_id)
        harvests = [harvest_record(h) for h in recent_harvests(s, source.name, HISTORY)]
        quarantine = quarantine_summary(s, source.name)
        counts = dataset_counts(s, source.name, CHART_HARVESTS)
    return render_template("admin_source.html", source=source, harvests=harvests,
                           headers=masked_headers(source.headers), quarantine=quarantine,
                           chart=_datasets_chart(counts))


def _datasets_chart(counts: list[tuple[datetime, int]]) -> Markup:
    """The source's dataset count after each harvest, in the reader's zone and words."""
    if not counts:
        return Markup("")
    zone = user_zone()
    points = [(moment.astimezone(zone), n) for moment, n in counts]
    values = [n for _, n in points]
    description = translate(
        "admin.source.chart_desc", count=len(points),
        start=format_datetime(points[0][0], with_zone=False),
        end=format_datetime(points[-1][0], with_zone=False), first=f"{values[0]:,}",
        last=f"{values[-1]:,}", low=f"{min(values):,}", high=f"{max(values):,}")
    return line_chart(points, title=translate("admin.source.chart_title"), description=description)


def _page_number() -> int:
    raw = request.args.get("page", "1")
    if not raw.isdigit() or not 1 <= int(raw) <= 100_000:
        abort(404)
    return int(raw)


@bp.route("/<int:source_id>/quarantine")
@admin_required
def quarantine(source_id: int) -> str:
    """The source's quarantined records with their reasons, newest harvest first;
    ``?harvest=ID`` narrows to one harvest."""
    page = _page_number()
    harvest_id = request.args.get("harvest", "")
    if harvest_id and (not harvest_id.isdigit() or len(harvest_id) > 18):
        abort(404)
    with db.session() as s:
        source = _source(s, source_id)
        query = select(QuarantinedRecord).where(QuarantinedRecord.source == source.name)
        count = select(func.count()).select_from(QuarantinedRecord).where(
            QuarantinedRecord.source == source.name)
        harvest = None
        if harvest_id:
            harvest = s.get(Harvest, int(harvest_id))
            if harvest is None or harvest.source != source.name:
                abort(404)
            query = query.where(QuarantinedRecord.harvest_id == harvest.id)
            count = count.where(QuarantinedRecord.harvest_id == harvest.id)
        total = int(s.scalar(count) or 0)
        records = list(s.scalars(query.order_by(QuarantinedRecord.id.desc())
                                 .offset((page - 1) * PAGE).limit(PAGE)))
    pages = max(1, -(-total // PAGE))
    if page > pages:
        abort(404)
    return render_template("admin_quarantine.html", source=source, records=records, total=total,
                           page=page, pages=pages, harvest=harvest)
