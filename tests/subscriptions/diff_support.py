"""The comparison every incremental-run test makes: the diff a path recorded against the
diff a full re-run of the scene would record at the same moment."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from config.extensions import db, search
from search.query import parse_query
from subscriptions.document import build_document
from subscriptions.models import Scene, SceneRun
from subscriptions.runner import diff_members

DIFF_KEYS = ("counts", "added", "removed", "changed", "moved")


def diff_part(document: dict[str, Any]) -> dict[str, Any]:
    """The part of a run document that says what changed (not ids, times or links)."""
    return {key: document[key] for key in DIFF_KEYS}


def full_recompute(scene_id: int, now: datetime) -> tuple[dict[str, Any], set[str]]:
    """The diff a full re-run would record at ``now`` and the members it would keep,
    without recording anything."""
    with db.session() as session:
        scene = session.get(Scene, scene_id)
        assert scene is not None
        matched = sorted(search.get().iter_ids(parse_query(scene.query), now=now))
        diff, _previous, current = diff_members(session, scene, matched)
        run = SceneRun(id=0, state="changed", scheduled_for=now, started_at=now, finished_at=now)
        return diff_part(build_document(scene, run, diff, len(current))), set(current)
