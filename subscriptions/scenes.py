"""Creating, changing and duplicating scenes: validation of every user-given part in one place.

The web form, the CLI and the REST API call these functions; none of them validates a
scene by itself, so all three give the same messages for the same mistakes.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from notifier.models import Channel
from search.models import TRACKABLE_FIELDS
from search.query import QueryError, SceneQuery, parse_query
from subscriptions.models import Scene, SceneRun, User
from subscriptions.scene_channels import SceneProblem, new_channels
from subscriptions.schedule import ScheduleError, check_timezone, next_run_after, normalise_schedule

# By default every dataset field counts as a change, except quality: it moves with the
# clock (timeliness) and would make every scene "change" daily.
DEFAULT_TRACKED: tuple[str, ...] = tuple(f for f in TRACKABLE_FIELDS if f != "quality")
MAX_NAME = 200

__all__ = [
    "DEFAULT_TRACKED", "NewScene", "SceneError", "SceneProblem", "SceneUpdate", "check_tracked_fields",
    "create_scene", "duplicate_scene", "new_webhook_secret", "update_scene",
]


class SceneError(ValueError):
    """One or more problems with a scene form, each naming its field."""

    def __init__(self, problems: list[SceneProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


@dataclass
class NewScene:
    scene: Scene
    channels: list[Channel] = field(default_factory=list)
    baseline: SceneRun | None = None


@dataclass
class SceneUpdate:
    """What :func:`update_scene` changed; ``baseline`` is the run recorded for a new query."""

    scene: Scene
    changed: list[str] = field(default_factory=list)
    baseline: SceneRun | None = None

    @property
    def query_changed(self) -> bool:
        return "query" in self.changed


def check_tracked_fields(fields: list[str] | None) -> list[str]:
    """The tracked fields, defaulting to every content field; raises SceneError for unknown names."""
    if not fields:
        return list(DEFAULT_TRACKED)
    unknown = [f for f in fields if f not in TRACKABLE_FIELDS]
    if unknown:
        raise SceneError([SceneProblem("tracked_fields", f"unknown field(s) {', '.join(unknown)}; "
                                       f"choose from {', '.join(TRACKABLE_FIELDS)}")])
    return list(dict.fromkeys(fields))


def new_webhook_secret() -> str:
    """A fresh Standard Webhooks secret (``whsec_`` + base64 of 24 random bytes)."""
    from notifier.signing import generate_secret

    return generate_secret()


def _check_name(name: str | None, problems: list[SceneProblem]) -> str:
    text = (name or "").strip()
    if not text:
        problems.append(SceneProblem("name", "a scene needs a name"))
    elif len(text) > MAX_NAME:
        problems.append(SceneProblem("name", f"at most {MAX_NAME} characters"))
    return text


def _check_query(query: dict[str, Any] | str, problems: list[SceneProblem]) -> SceneQuery | None:
    try:
        return parse_query(query)
    except QueryError as exc:
        problems.extend(SceneProblem(f"query.{e.field}" if e.field else "query", e.reason) for e in exc.errors)
        return None


def _check_schedule(schedule: str, tz_name: str, now: datetime,
                    problems: list[SceneProblem]) -> tuple[bool, datetime | None]:
    """(valid, next run time) of ``schedule`` in ``tz_name``."""
    try:
        check_timezone(tz_name)
        return True, next_run_after(schedule, tz_name, now)
    except ScheduleError as exc:
        problems.append(SceneProblem(exc.field, exc.message))
        return False, None


def _check_tracked(fields: list[str] | None, problems: list[SceneProblem]) -> list[str]:
    try:
        return check_tracked_fields(fields)
    except SceneError as exc:
        problems.extend(exc.problems)
        return []


def create_scene(
    session: Session,
    owner: User,
    *,
    name: str,
    query: dict[str, Any] | str,
    schedule: str = "daily",
    timezone_name: str | None = None,
    tracked_fields: list[str] | None = None,
    email: str | None = None,
    email_verified: bool = False,
    email_cadence: str = "immediate",
    webhook: str | None = None,
    send_when_empty: bool = False,
    now: datetime | None = None,
) -> NewScene:
    """Validate everything, then add the scene, its channels and its baseline run
    (state ``baseline``: its current matches, nothing sent) to ``session``.

    Raises SceneError listing every problem (field and reason); nothing is added then.
    """
    now = now or datetime.now(UTC)
    tz_name = timezone_name or owner.timezone or "UTC"
    problems: list[SceneProblem] = []
    clean_name = _check_name(name, problems)
    parsed = _check_query(query, problems)
    _valid, next_run = _check_schedule(schedule, tz_name, now, problems)
    tracked = _check_tracked(tracked_fields, problems)
    channels = new_channels(owner, email=email, email_verified=email_verified, email_cadence=email_cadence,
                            webhook=webhook, send_when_empty=send_when_empty, now=now, problems=problems)
    if problems or parsed is None:
        raise SceneError(problems)
    scene = Scene(
        owner_id=owner.id, name=clean_name, query=parsed.to_dict(), schedule=normalise_schedule(schedule),
        timezone=tz_name, tracked_fields=tracked, paused=False, next_run_at=next_run,
        feed_token=secrets.token_urlsafe(24), created_at=now,
    )
    scene.channels = channels
    session.add(scene)
    session.add_all(channels)
    session.flush()
    from subscriptions.runner import record_baseline

    # The baseline is taken now, so the first change after saving is reported (an
    # on-change scene would otherwise swallow it into a late baseline).
    baseline = record_baseline(session, scene, now)
    return NewScene(scene=scene, channels=channels, baseline=baseline)


def update_scene(
    session: Session,
    scene: Scene,
    *,
    name: str | None = None,
    query: dict[str, Any] | str | None = None,
    schedule: str | None = None,
    timezone_name: str | None = None,
    tracked_fields: list[str] | None = None,
    now: datetime | None = None,
) -> SceneUpdate:
    """Change the given parts of ``scene`` (None keeps a part) with the same rules as
    :func:`create_scene`.

    A changed query records a new baseline run right away (its matches become the
    starting point; nothing is sent), so the next run reports only what changes after
    the edit. Earlier runs stay. Raises SceneError listing every problem; nothing is
    changed then.
    """
    now = now or datetime.now(UTC)
    problems: list[SceneProblem] = []
    clean_name = _check_name(name, problems) if name is not None else scene.name
    parsed = _check_query(query, problems) if query is not None else None
    new_schedule = normalise_schedule(schedule) if schedule is not None else scene.schedule
    tz_name = ((timezone_name or "").strip() or scene.timezone) if timezone_name is not None else scene.timezone
    schedule_moved = schedule is not None or timezone_name is not None
    next_run = scene.next_run_at
    if schedule_moved:
        _valid, next_run = _check_schedule(new_schedule, tz_name, now, problems)
    tracked = _check_tracked(tracked_fields, problems) if tracked_fields is not None else list(scene.tracked_fields)
    if problems:
        raise SceneError(problems)
    changed: list[str] = []
    if clean_name != scene.name:
        scene.name, changed = clean_name, [*changed, "name"]
    if parsed is not None and parsed.to_dict() != (scene.query or {}):
        scene.query, changed = parsed.to_dict(), [*changed, "query"]
    if schedule_moved and (new_schedule, tz_name) != (scene.schedule, scene.timezone):
        scene.schedule, scene.timezone, changed = new_schedule, tz_name, [*changed, "schedule"]
    if schedule_moved and not scene.paused:
        scene.next_run_at = next_run
    if tracked != list(scene.tracked_fields or []):
        scene.tracked_fields, changed = tracked, [*changed, "tracked_fields"]
    session.flush()
    baseline = None
    if "query" in changed:
        from subscriptions.runner import record_baseline

        baseline = record_baseline(session, scene, now)
    return SceneUpdate(scene=scene, changed=changed, baseline=baseline)


def duplicate_scene(session: Session, scene: Scene, *, name: str | None = None,
                    now: datetime | None = None) -> NewScene:
    """A copy of ``scene`` for the same owner: query, schedule, tracked fields and the
    same channels, with a fresh feed link and its own baseline run (no run history)."""
    now = now or datetime.now(UTC)
    problems: list[SceneProblem] = []
    copy_name = _check_name(name if name is not None else _copy_name(scene.name), problems)
    if problems:
        raise SceneError(problems)
    copy = Scene(
        owner_id=scene.owner_id, name=copy_name, query=dict(scene.query or {}), schedule=scene.schedule,
        timezone=scene.timezone, tracked_fields=list(scene.tracked_fields or []), paused=scene.paused,
        next_run_at=None if scene.paused else next_run_after(scene.schedule, scene.timezone, now),
        feed_token=secrets.token_urlsafe(24), created_at=now,
    )
    copy.channels = list(scene.channels)
    session.add(copy)
    session.flush()
    from subscriptions.runner import record_baseline

    baseline = record_baseline(session, copy, now)
    return NewScene(scene=copy, channels=list(copy.channels), baseline=baseline)


def _copy_name(name: str) -> str:
    suffix = " (copy)"
    return name[:MAX_NAME - len(suffix)] + suffix
def delete_scene(session: Session, scene: Scene) -> None:
    """Delete ``scene`` with its runs and members, and every channel no other scene uses
    (it would only deliver leftovers of a scene its owner deleted)."""
    from sqlalchemy import delete, select

    from subscriptions.models import SceneMember, scene_channel

    channel_ids = [c.id for c in scene.channels]
    # Members are not an ORM relationship of Scene; delete them explicitly so databases
    # without cascading foreign keys are left clean too.
    session.execute(delete(SceneMember).where(SceneMember.scene_id == scene.id))
    session.delete(scene)
    session.flush()
    shared = set(session.scalars(
        select(scene_channel.c.channel_id).where(scene_channel.c.channel_id.in_(channel_ids))
    ))
    for channel_id in set(channel_ids) - shared:
        channel = session.get(Channel, channel_id)
        if channel is not None:
            session.delete(channel)
