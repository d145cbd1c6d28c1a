"""The diff document: the JSON that the CLI prints, webhooks carry as ``data`` and
emails render. One builder, so every channel says the same thing."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from subscriptions.diff import Member, SceneDiff
from subscriptions.models import Scene, SceneRun

# What an "added" entry shows about a dataset: enough to decide whether to open it.
SUMMARY_FIELDS: tuple[str, ...] = (
    "title", "publisher", "region", "formats", "open_type", "update_frequency",
    "modified", "record_count", "landing_page",
)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def summary(member: Member) -> dict[str, Any]:
    """The short description of one dataset used in added lists."""
    return {"id": member.dataset_id, **{name: member.content.get(name) for name in SUMMARY_FIELDS}}


def build_document(scene: Scene, run: SceneRun, diff: SceneDiff | None, matched: int,
                   links: dict[str, str] | None = None) -> dict[str, Any]:
    """The diff document for ``run`` (lists are empty for a baseline or an error)."""
    diff = diff or SceneDiff()
    return {
        "scene": {"id": scene.id, "name": scene.name},
        "run": {
            "id": run.id,
            "state": run.state,
            "scheduled_for": _iso(run.scheduled_for),
            "started_at": _iso(run.started_at),
            "finished_at": _iso(run.finished_at),
        },
        "counts": {
            "matched": matched,
            "added": len(diff.added),
            "removed": len(diff.removed),
            "changed": len(diff.changed),
            "moved": len(diff.moved),
        },
        "added": [summary(m) for m in diff.added],
        "removed": [
            {"id": m.dataset_id, "title": m.content.get("title"), "reason": reason,
             "landing_page": m.content.get("landing_page")}
            for m, reason in diff.removed
        ],
        "changed": [
            {"id": m.dataset_id, "title": m.content.get("title"),
             "landing_page": m.content.get("landing_page"),
             "changes": [c.to_dict() for c in changes]}
            for m, changes in diff.changed
        ],
        "moved": [
            {"from": old.dataset_id, "to": new.dataset_id, "title": new.content.get("title"),
             "changes": [c.to_dict() for c in changes]}
            for old, new, changes in diff.moved
        ],
        "links": dict(links or {}),
    }
