"""A dataset's page: its fields, resources, quality and version history."""

from __future__ import annotations

from flask import Blueprint, abort, render_template
from sqlalchemy import select

from config.extensions import db
from subscriptions.views.history import version_history

bp = Blueprint("datasets", __name__)
VERSIONS_SHOWN = 100


# Ids may hold a whole URL ("hangzhou:https://…"): keep its double slash intact.
@bp.route("/datasets/<path:dataset_id>", merge_slashes=False)
def show(dataset_id: str) -> str:
    """Everything known about one dataset (ids contain ``:`` and sometimes ``/``)."""
    from search.models import Dataset, DatasetVersion

    with db.session() as s:
        dataset = s.get(Dataset, dataset_id)
        if dataset is None:
            abort(404)
        versions = s.scalars(
            select(DatasetVersion)
            .where(DatasetVersion.dataset_id == dataset_id)
            .order_by(DatasetVersion.id.desc())
            .limit(VERSIONS_SHOWN + 1)
        ).all()
    # One extra version is read so the oldest shown still has something to compare to.
    history = version_history(versions)[:VERSIONS_SHOWN]
    return render_template(
        "dataset.html",
        dataset=dataset,
        history=history,
        more_versions=len(versions) > VERSIONS_SHOWN,
    )
