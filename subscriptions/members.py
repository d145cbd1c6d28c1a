"""A scene's members in the store: the lookups a run needs, the diff of two member
sets, and writing the new set.

Both ways of recording runs use these — one scene at a time
(:mod:`subscriptions.runner`) and many scenes in one transaction after a harvest
(:mod:`subscriptions.batch_runs`) — so a diff is computed the same way on both.
Every lookup takes many ids at once (in chunks), so a batch of scenes costs one
query per kind of lookup rather than one per scene.
"""
from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from search.models import Dataset, DatasetVersion
from subscriptions.diff import Member, SceneDiff, compute_diff
from subscriptions.models import SceneMember

CHUNK = 500


def chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    """``items`` in slices of at most ``size`` (bound parameters stay within limits)."""
    for start in range(0, len(items), size):
        yield items[start:start + size]


def current_versions(session: Session, ids: Iterable[str]) -> dict[str, tuple[int, datetime | None]]:
    """dataset id → (current version id, deleted_at) for ``ids`` that are in the store."""
    found: dict[str, tuple[int, datetime | None]] = {}
    for chunk in chunks(sorted(set(ids))):
        rows = session.execute(
            select(Dataset.id, Dataset.current_version_id, Dataset.deleted_at).where(Dataset.id.in_(chunk))
        )
        for dataset_id, version_id, deleted_at in rows:
            if version_id is not None:
                found[dataset_id] = (version_id, deleted_at)
    return found


def version_contents(session: Session, version_ids: Iterable[int]) -> dict[int, dict[str, Any]]:
    """version id → content, for the versions a diff needs to look inside."""
    contents: dict[int, dict[str, Any]] = {}
    for chunk in chunks(sorted(set(version_ids))):
        for version_id, content in session.execute(
            select(DatasetVersion.id, DatasetVersion.content).where(DatasetVersion.id.in_(chunk))
        ):
            contents[version_id] = content
    return contents


def deleted_ids(session: Session, ids: Iterable[str]) -> set[str]:
    """Those of ``ids`` that are tombstoned in the catalog."""
    deleted: set[str] = set()
    for chunk in chunks(sorted(set(ids))):
        deleted.update(session.scalars(
            select(Dataset.id).where(Dataset.id.in_(chunk), Dataset.deleted_at.is_not(None))
        ))
    return deleted


def stored_members(session: Session, scene_id: int, among: Sequence[str] | None) -> dict[str, int]:
    """The scene's stored members (id → version id); with ``among``, only those ids."""
    if among is None:
        return dict(session.execute(
            select(SceneMember.dataset_id, SceneMember.version_id).where(SceneMember.scene_id == scene_id)
        ).all())
    return stored_members_of(session, [scene_id], among).get(scene_id, {})


def stored_members_of(session: Session, scene_ids: Collection[int],
                      among: Iterable[str]) -> dict[int, dict[str, int]]:
    """scene id → its stored members among ``among`` (id → version id), for many scenes."""
    found: dict[int, dict[str, int]] = {}
    scenes = sorted(set(scene_ids))
    for scene_chunk in chunks(scenes):
        for chunk in chunks(sorted(set(among))):
            for scene_id, dataset_id, version_id in session.execute(
                select(SceneMember.scene_id, SceneMember.dataset_id, SceneMember.version_id)
                .where(SceneMember.scene_id.in_(scene_chunk), SceneMember.dataset_id.in_(chunk))
            ):
                found.setdefault(scene_id, {})[dataset_id] = version_id
    return found


def member_counts(session: Session, scene_ids: Collection[int]) -> dict[int, int]:
    """scene id → how many members it has (0 included)."""
    counts = dict.fromkeys(scene_ids, 0)
    for chunk in chunks(sorted(counts)):
        for scene_id, count in session.execute(
            select(SceneMember.scene_id, func.count()).where(SceneMember.scene_id.in_(chunk))
            .group_by(SceneMember.scene_id)
        ):
            counts[scene_id] = int(count)
    return counts


def touched_versions(previous: Mapping[str, int], current: Mapping[str, int]) -> list[int]:
    """The versions a diff must read: of members that appeared, disappeared or moved
    to a new version (the others are unchanged and need no content)."""
    old = [v for i, v in previous.items() if current.get(i) != v]
    new = [v for i, v in current.items() if previous.get(i) != v]
    return old + new


def member_diff(previous: Mapping[str, int], current: Mapping[str, int], contents: Mapping[int, dict[str, Any]],
                tracked: Sequence[str], deleted: Collection[str]) -> SceneDiff:
    """The diff of two member sets (id → version id), reading the touched versions'
    content from ``contents`` and the reason of a removal from ``deleted``."""
    touched_old = [i for i in previous if i not in current or current[i] != previous[i]]
    touched_new = [i for i in current if i not in previous or current[i] != previous[i]]
    before = {i: Member(i, previous[i], contents.get(previous[i], {})) for i in touched_old}
    now = {i: Member(i, current[i], contents.get(current[i], {})) for i in touched_new}
    gone = [i for i in touched_old if i not in current]
    return compute_diff(before, now, tracked, [i for i in gone if i in deleted])


def member_rows(scene_id: int, previous: Mapping[str, int],
                current: Mapping[str, int]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(rows to delete, rows to insert) that turn ``previous`` into ``current``."""
    gone = [{"s": scene_id, "d": i} for i in previous if current.get(i) != previous[i]]
    fresh = [{"scene_id": scene_id, "dataset_id": i, "version_id": v}
             for i, v in current.items() if previous.get(i) != v]
    return gone, fresh


def write_members(session: Session, gone: Sequence[dict[str, Any]], fresh: Sequence[dict[str, Any]]) -> None:
    """Apply :func:`member_rows` output (of one scene or many), each as one executemany."""
    table = SceneMember.__table__
    if gone:
        session.execute(delete(table).where(table.c.scene_id == bindparam("s"),
                                             table.c.dataset_id == bindparam("d")), list(gone))
    for chunk in chunks(fresh, 2000):
        session.execute(table.insert(), list(chunk))


def store_members(session: Session, scene_id: int, previous: Mapping[str, int], current: Mapping[str, int]) -> None:
    """Write the scene's new member set (only the rows that differ)."""
    gone, fresh = member_rows(scene_id, previous, current)
    if len(gone) > CHUNK:  # a large scene emptied: one ranged delete per chunk beats row by row
        for chunk in chunks([row["d"] for row in gone]):
            session.execute(delete(SceneMember).where(SceneMember.scene_id == scene_id,
                                                      SceneMember.dataset_id.in_(chunk)))
        gone = []
    write_members(session, gone, fresh)
