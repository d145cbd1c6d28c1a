"""Which scenes a harvest can affect: the hand-off from the catalog to on-change scenes.

The harvest → on-change path calls only :func:`affected_scene_ids`. This first version
picks every unpaused ``on-change`` scene whose query can match a dataset of a source
that changed (a query pinning ``filters.source`` to other sources cannot); the scene
runs themselves decide what actually changed for them.
"""
from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from subscriptions.models import Scene
from subscriptions.schedule import ON_CHANGE


def _source_of(dataset_id: str) -> str:
    return dataset_id.split(":", 1)[0]


def _can_match(query: dict[str, Any], sources: set[str]) -> bool:
    pinned = set((query.get("filters") or {}).get("source") or [])
    if pinned and not pinned & sources:
        return False
    excluded = set((query.get("exclude") or {}).get("source") or [])
    return bool(sources - excluded)


def affected_scene_ids(session: Session, changed_ids: Collection[str],
                       removed_ids: Collection[str]) -> list[int]:
    """Ids of the on-change scenes to evaluate after a harvest that changed
    ``changed_ids`` (new, changed or restored datasets) and removed ``removed_ids``."""
    sources = {_source_of(i) for i in changed_ids} | {_source_of(i) for i in removed_ids}
    if not sources:
        return []
    rows = session.execute(select(Scene.id, Scene.query).where(
        Scene.schedule == ON_CHANGE, Scene.paused.is_(False)).order_by(Scene.id))
    return [scene_id for scene_id, query in rows if _can_match(query or {}, sources)]
