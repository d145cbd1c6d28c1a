"""After a harvest: which on-change scenes a change can affect, and for which datasets.

A scene is affected by a harvest when

- a changed or added dataset may now match it: its query's necessary conditions
  (text tokens, filter values, range bounds; :mod:`subscriptions.scene_index`) hold
  for the dataset's new document — found through the scene index, without running
  any scene's query; or
- one of its members changed or left the catalog (the ``scene_member`` table).

Each affected scene is then evaluated only on those candidate datasets (the search
backend's ``match_ids``, one batch for all scenes), and its diff is computed for
them alone (:class:`subscriptions.runner.Candidates`). A scene whose query has a
relative date (``now-90d``) is also affected by the datasets that crossed the moving
bound since its last run and can enter or leave it. ``scenes run`` (a full
recompute) gives the same diff.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from config.extensions import db, search
from search.models import Dataset
from search.query import DATE_RANGE_FIELDS, RangeBound, SceneQuery, parse_query
from subscriptions.models import RunState, Scene, SceneMember, SceneRun
from subscriptions.scene_index import ChangedDocuments, Predicate, SceneIndex
from subscriptions.schedule import ON_CHANGE

CHUNK = 500

_cache_lock = threading.Lock()
_cache: dict[str, Any] = {"index": SceneIndex(), "queries": {}}


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _eligible(session: Session, scene_ids: Collection[int] | None) -> dict[int, str]:
    """scene id → stored query (its JSON text, as stored) of the scenes a harvest may run."""
    # The text as stored: comparing it to the cached one needs no JSON parsing.
    statement = select(Scene.id, cast(Scene.query, Text)).where(Scene.paused.is_(False))
    if scene_ids is None:
        statement = statement.where(Scene.schedule == ON_CHANGE)
    else:
        statement = statement.where(Scene.id.in_(list(scene_ids)))
    return dict(session.execute(statement).all())


def scene_index(session: Session, scene_ids: Collection[int] | None = None) -> SceneIndex:
    """The index of the eligible scenes (on-change, not paused; or ``scene_ids``).

    Kept between harvests in this process: only scenes whose query changed are
    parsed again, so 10,000 scenes cost one light query per harvest.
    """
    eligible = _eligible(session, scene_ids)
    with _cache_lock:
        index: SceneIndex = _cache["index"]
        queries: dict[int, str] = _cache["queries"]
        for scene_id in [s for s in queries if s not in eligible]:
            index.remove(scene_id)
            del queries[scene_id]
        for scene_id, text in eligible.items():
            if queries.get(scene_id) != text:
                index.add(Predicate.of(scene_id, parse_query(json.loads(text))))
                queries[scene_id] = text
        filed = SceneIndex(index.predicates[s] for s in eligible) if scene_ids is not None else index
    return filed


def _documents(session: Session, ids: Sequence[str]) -> list[dict[str, Any]]:
    """The search documents of the live datasets among ``ids``."""
    documents: list[dict[str, Any]] = []
    for chunk in _chunks(ids):
        for dataset in session.scalars(select(Dataset).where(Dataset.id.in_(chunk),
                                                             Dataset.deleted_at.is_(None))):
            documents.append(dataset.to_document())
    return documents


def _member_hits(session: Session, ids: Sequence[str], scenes: Collection[int]) -> dict[int, set[str]]:
    """scene id → which of ``ids`` are its members (they may have changed or left)."""
    found: dict[int, set[str]] = {}
    for chunk in _chunks(ids):
        for scene_id, dataset_id in session.execute(
            select(SceneMember.scene_id, SceneMember.dataset_id).where(SceneMember.dataset_id.in_(chunk))
        ):
            if scene_id in scenes:
                found.setdefault(scene_id, set()).add(dataset_id)
    return found


def affected_scenes(session: Session, changed_ids: Collection[str], removed_ids: Collection[str],
                    *, now: datetime | None = None,
                    scene_ids: Collection[int] | None = None) -> dict[int, set[str]]:
    """scene id → the datasets whose change can affect it (see the module docstring).

    ``changed_ids``: datasets added, changed or re-indexed by the harvest;
    ``removed_ids``: datasets it removed. Scenes are the on-change ones (or ``scene_ids``).
    """
    now = now or datetime.now(UTC)
    index = scene_index(session, scene_ids)
    if not len(index):
        return {}
    changed = sorted(set(changed_ids))
    batch = ChangedDocuments.of(_documents(session, changed))
    found = index.candidates(batch, now)
    touched = sorted(set(changed) | set(removed_ids))
    for scene_id, members in _member_hits(session, touched, index.predicates).items():
        found.setdefault(scene_id, set()).update(members)
    for scene_id, crossed in _moved_by_the_clock(session, index, now).items():
        found.setdefault(scene_id, set()).update(crossed)
    return found


def _moved_by_the_clock(session: Session, index: SceneIndex, now: datetime) -> dict[int, set[str]]:
    """Scenes with a relative date (``now-30d``): the unchanged datasets that crossed
    the moving bound since the scene last ran and can enter it (they pass its
    conditions now) or leave it (they are members). Bounds shared by many scenes are
    resolved once, from the earliest of their last runs.

    A bound moving forward only lets datasets in through ``lte``/``lt`` (``gte now-30d``
    can only lose datasets as time passes), so only those windows need the datasets'
    documents; the members among every window are found from the members table."""
    relative = [p for p in index.predicates.values() if p.relative]
    if not relative:
        return {}
    last = _last_evaluated(session, [p.scene_id for p in relative])
    since: dict[RangeBound, datetime] = {}
    for predicate in relative:
        if predicate.scene_id not in last:
            continue  # no baseline yet: its first run is a full one
        for bound in _relative_bounds(predicate.query):
            moment = last[predicate.scene_id]
            since[bound] = min(since.get(bound, moment), moment)
    crossed: dict[RangeBound, set[str]] = {b: _crossed(b, moment, now) for b, moment in since.items()}
    every = sorted(set().union(*crossed.values())) if crossed else []
    if not every:
        return {}
    admitting = {b for b, moment in since.items() if _admits(b, moment, now)}
    entering_any = sorted(set().union(*(crossed[b] for b in admitting))) if admitting else []
    batch = ChangedDocuments.of(_documents(session, entering_any))
    members = _member_hits(session, every, {p.scene_id for p in relative})
    found: dict[int, set[str]] = {}
    for predicate in relative:
        bounds = _relative_bounds(predicate.query)
        window = set().union(*(crossed.get(b, set()) for b in bounds))
        if not window:
            continue
        door = set().union(*(crossed.get(b, set()) for b in bounds if b in admitting))
        entering = predicate.candidates(batch, predicate.query.resolve_ranges(now)) & door if door else set()
        leaving = members.get(predicate.scene_id, set()) & window
        if entering or leaving:
            found[predicate.scene_id] = entering | leaving
    return found


def _admits(bound: RangeBound, since: datetime, now: datetime) -> bool:
    """Whether moving ``bound`` from ``since`` to ``now`` can let an unchanged dataset in."""
    forward = now >= since
    return (bound.op in ("lte", "lt")) == forward


def _relative_bounds(query: SceneQuery) -> list[RangeBound]:
    return [b for b in query.ranges
            if b.field in DATE_RANGE_FIELDS and str(b.value).startswith("now")]


def _crossed(bound: RangeBound, since: datetime, now: datetime) -> set[str]:
    """Datasets whose date lies between ``bound`` resolved at ``since`` and at ``now``."""
    then_value = SceneQuery(ranges=(bound,)).resolve_ranges(since)[0].value
    now_value = SceneQuery(ranges=(bound,)).resolve_ranges(now)[0].value
    low, high = sorted((str(then_value), str(now_value)))
    window = SceneQuery(ranges=(RangeBound(bound.field, "gte", low), RangeBound(bound.field, "lte", high)))
    return set(search.get().iter_ids(window, now=now))


def affected_scene_ids(session: Session, changed_ids: Collection[str],
                       removed_ids: Collection[str]) -> list[int]:
    """The on-change scenes that a harvest's changed and removed datasets can affect."""
    return sorted(affected_scenes(session, changed_ids, removed_ids))


def _last_evaluated(session: Session, scene_ids: Sequence[int]) -> dict[int, datetime]:
    """scene id → when its last recorded run evaluated the query."""
    found: dict[int, datetime] = {}
    for chunk in _chunks(list(scene_ids)):
        latest = (select(func.max(SceneRun.id))  # the last run recorded, whatever clock it read
                  .where(SceneRun.scene_id.in_(chunk), SceneRun.state != RunState.error.value)
                  .group_by(SceneRun.scene_id))
        for scene_id, started in session.execute(
            select(SceneRun.scene_id, SceneRun.started_at).where(SceneRun.id.in_(latest))
        ):
            found[scene_id] = started
    return found


def evaluate_candidates(affected: dict[int, set[str]], *,
                        now: datetime) -> dict[int, tuple[set[str], set[str]]]:
    """scene id → (candidates, those that match now), checked by the search backend in
    one batch. Scenes saved with the same query (a popular word) share one request
    over the union of their candidates."""
    with db.session() as session:
        raw: dict[int, Any] = dict(session.execute(
            select(Scene.id, Scene.query).where(Scene.id.in_(list(affected)))).all())
    candidates = {scene_id: set(ids) for scene_id, ids in affected.items() if scene_id in raw}
    shared: dict[str, list[int]] = {}
    for scene_id in sorted(candidates):
        shared.setdefault(json.dumps(raw[scene_id], sort_keys=True, ensure_ascii=False), []).append(scene_id)
    groups = list(shared.values())
    requests = [(parse_query(raw[group[0]]), sorted(set().union(*(candidates[s] for s in group))))
                for group in groups]
    answers = search.get().match_ids(requests, now=now)
    return {scene_id: (candidates[scene_id], matched & candidates[scene_id])
            for group, matched in zip(groups, answers, strict=True) for scene_id in group}


def run_affected_scenes(changed_ids: Collection[str], removed_ids: Collection[str], *,
                        now: datetime | None = None, deliver: bool = True,
                        scene_ids: Collection[int] | None = None) -> list[dict[str, Any]]:
    """Run every scene the harvest's changes can affect, each only on its candidates
    (:func:`run_candidates`), then deliver what they wrote in one batch (parallel sends
    in the embedded default, Celery tasks otherwise). Returns the diff documents in
    scene id order."""
    now = now or datetime.now(UTC)
    with db.session() as session:
        affected = affected_scenes(session, changed_ids, removed_ids, now=now, scene_ids=scene_ids)
    if not affected:
        return []
    documents = run_candidates(candidate_sets(evaluate_candidates(affected, now=now)), now)
    if deliver:
        deliver_runs(documents)
    return documents


def candidate_sets(evaluated: dict[int, tuple[set[str], set[str]]]) -> dict[int, Any]:
    """scene id → :class:`subscriptions.runner.Candidates` of :func:`evaluate_candidates`' answer."""
    from subscriptions.runner import Candidates

    return {scene_id: Candidates(frozenset(among), frozenset(matched))
            for scene_id, (among, matched) in evaluated.items()}


def run_candidates(candidates: dict[int, Any], now: datetime) -> list[dict[str, Any]]:
    """Run each scene on its candidates at ``now``, many per transaction
    (:mod:`subscriptions.batch_runs`), the others one by one; nothing is delivered.
    Returns the diff documents in scene id order."""
    from subscriptions.batch_runs import run_batches
    from subscriptions.run_lock import RunInProgress
    from subscriptions.runner import SceneNotFound, run_scene

    documents, left = run_batches(candidates, now)
    for scene_id in left:  # no baseline yet, a run in progress, or a failed batch
        try:
            documents[scene_id] = run_scene(scene_id, now, deliver=False, now=now, candidates=candidates[scene_id])
        except RunInProgress:  # a run still going after the wait covers this change
            documents[scene_id] = {"scene": {"id": scene_id}, "run": {"state": "in_progress"}}
        except SceneNotFound:  # deleted meanwhile: nothing to report to anyone
            continue
    return [documents[scene_id] for scene_id in sorted(documents)]


def deliver_runs(documents: list[dict[str, Any]]) -> None:
    """Hand the notifications of the changed runs among ``documents`` to delivery."""
    _deliver([d["run"]["id"] for d in documents if d.get("run", {}).get("state") == RunState.changed.value])


def _deliver(run_ids: list[int]) -> None:
    """Hand the notifications of these runs to delivery, all at once."""
    from config.extensions import settings as bound_settings
    from notifier.bulk import deliver_batch
    from notifier.dispatch import dispatch_notifications
    from notifier.models import Notification

    if not run_ids:
        return
    with db.session() as session:
        ids = [i for chunk in _chunks(run_ids) for i in session.scalars(
            select(Notification.id).where(Notification.run_id.in_(chunk)).order_by(Notification.id))]
    settings = bound_settings.get()
    if settings.embedded:
        deliver_batch(ids, datetime.now(UTC), settings)
    else:
        dispatch_notifications(ids)
