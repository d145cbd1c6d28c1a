"""A dataset's page: its fields, resources, quality and version history."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, url_for
from sqlalchemy import select

from config.extensions import db
from subscriptions.views.history import version_history
from subscriptions.views.query_params import FILTER_PREFIX, with_params

bp = Blueprint("datasets", __name__)
VERSIONS_SHOWN = 100


def moved_to(s: Any, dataset: Any) -> str | None:
    """The live dataset a removed one became (a source that re-keyed it): one dataset
    of the same source with the same landing page, else the same title and publisher —
    the rule diffs use for "moved". None when there is none or more than one."""
    from sqlalchemy import func

    from search.models import Dataset

    if dataset.deleted_at is None:
        return None
    live = select(Dataset.id).where(Dataset.source == dataset.source, Dataset.deleted_at.is_(None),
                                    Dataset.id != dataset.id)
    landing = (dataset.landing_page or "").strip().rstrip("/").lower()
    tries = []
    if landing:
        tries.append(live.where(func.lower(func.rtrim(Dataset.landing_page, "/")) == landing))
    if dataset.title:
        tries.append(live.where(Dataset.title == dataset.title, Dataset.publisher == dataset.publisher))
    for stmt in tries:
        found = list(s.scalars(stmt.limit(2)))
        if len(found) == 1:
            return str(found[0])
    return None


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
        successor = moved_to(s, dataset)
    # One extra version is read so the oldest shown still has something to compare to.
    history = version_history(versions)[:VERSIONS_SHOWN]
    search_href = url_for("search_page.index")
    regions = [(name, search_href + with_params([(f"{FILTER_PREFIX}region", name)]))
               for name in dataset.to_document()["region_path"]]
    return render_template(
        "dataset.html",
        dataset=dataset,
        regions=regions,
        history=history,
        more_versions=len(versions) > VERSIONS_SHOWN,
        successor=successor,
    )
