"""Creating and changing scenes: validation of every user-given part in one place."""
from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from sqlalchemy.orm import Session

from notifier.models import Channel, ChannelKind
from search.models import TRACKABLE_FIELDS
from search.query import QueryError, parse_query
from subscriptions.accounts import AccountError, normalise_email
from subscriptions.models import Scene, User
from subscriptions.schedule import ScheduleError, check_timezone, next_run_after, normalise_schedule

# By default every dataset field counts as a change, except quality: it moves with the
# clock (timeliness) and would make every scene "change" daily.
DEFAULT_TRACKED: tuple[str, ...] = tuple(f for f in TRACKABLE_FIELDS if f != "quality")


@dataclass
class SceneProblem:
    field: str
    message: str


class SceneError(ValueError):
    """One or more problems with a scene form, each naming its field."""

    def __init__(self, problems: list[SceneProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems


@dataclass
class NewScene:
    scene: Scene
    channels: list[Channel] = field(default_factory=list)


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
    """Validate everything, then add the scene and its channels to ``session``.

    Raises SceneError listing every problem (field and reason); nothing is added then.
    """
    now = now or datetime.now(timezone.utc)
    tz_name = timezone_name or owner.timezone or "UTC"
    problems: list[SceneProblem] = []
    if not (name or "").strip():
        problems.append(SceneProblem("name", "a scene needs a name"))
    elif len(name) > 200:
        problems.append(SceneProblem("name", "at most 200 characters"))
    parsed = None
    try:
        parsed = parse_query(query)
    except QueryError as exc:
        problems.extend(SceneProblem(f"query.{e.field}" if e.field else "query", e.reason) for e in exc.errors)
    next_run = None
    try:
        check_timezone(tz_name)
        next_run = next_run_after(schedule, tz_name, now)
    except ScheduleError as exc:
        problems.append(SceneProblem(exc.field, exc.message))
    tracked: list[str] = []
    try:
        tracked = check_tracked_fields(tracked_fields)
    except SceneError as exc:
        problems.extend(exc.problems)
    channels: list[Channel] = []
    if email:
        try:
            address = normalise_email(email)
            if email_cadence not in ("immediate", "daily", "weekly"):
                raise AccountError("email_cadence", "must be immediate, daily or weekly")
            channels.append(Channel(owner_id=owner.id, kind=ChannelKind.email.value, target=address,
                                    cadence=email_cadence, verified=email_verified,
                                    send_when_empty=send_when_empty, locale=owner.locale, created_at=now))
        except AccountError as exc:
            problems.append(SceneProblem(exc.field, exc.message))
    if webhook:
        from flask import current_app

        from notifier.ssrf import WebhookTargetError, check_webhook_url

        try:
            check_webhook_url(webhook, allow_private=current_app.config["SCENEWATCH"].webhook_allow_private)
            channels.append(Channel(owner_id=owner.id, kind=ChannelKind.webhook.value, target=webhook.strip(),
                                    secret=new_webhook_secret(), verified=True,
                                    send_when_empty=send_when_empty, locale=owner.locale, created_at=now))
        except WebhookTargetError as exc:
            problems.append(SceneProblem("webhook", str(exc)))
    if problems or parsed is None:
        raise SceneError(problems)
    scene = Scene(
        owner_id=owner.id, name=name.strip(), query=parsed.to_dict(), schedule=normalise_schedule(schedule),
        timezone=tz_name, tracked_fields=tracked, paused=False, next_run_at=next_run,
        feed_token=secrets.token_urlsafe(24), created_at=now,
    )
    scene.channels = channels
    session.add(scene)
    session.add_all(channels)
    session.flush()
    return NewScene(scene=scene, channels=channels)
