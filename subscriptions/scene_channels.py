"""A scene's channels: new email and webhook channels (validated), adding one to a
saved scene and removing one from it. Used by scene creation, the scene editor, the
CLI and the API."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from notifier.models import Channel, ChannelKind
from subscriptions.accounts import AccountError, normalise_email
from subscriptions.models import Scene, User, scene_channel

CADENCES: tuple[str, ...] = ("immediate", "daily", "weekly")


@dataclass
class SceneProblem:
    field: str
    message: str


def _allow_private() -> bool:
    from config.extensions import settings as bound_settings

    current = bound_settings.peek()
    return bool(current is not None and current.webhook_allow_private)


def new_channels(owner: User, *, email: str | None = None, email_verified: bool = False,
                 email_cadence: str = "immediate", webhook: str | None = None,
                 send_when_empty: bool = False, now: datetime | None = None,
                 problems: list[SceneProblem]) -> list[Channel]:
    """Unsaved channels for ``email`` and ``webhook`` (either may be empty); every
    problem is appended to ``problems`` with its field."""
    from notifier.signing import generate_secret
    from notifier.ssrf import WebhookTargetError, check_webhook_url

    now = now or datetime.now(UTC)
    channels: list[Channel] = []
    if email:
        try:
            address = normalise_email(email)
            if email_cadence not in CADENCES:
                raise AccountError("email_cadence", "must be immediate, daily or weekly")
            channels.append(Channel(owner_id=owner.id, kind=ChannelKind.email.value, target=address,
                                    cadence=email_cadence, verified=email_verified,
                                    send_when_empty=send_when_empty, locale=owner.locale,
                                    timezone=owner.timezone or "UTC", owner_email=owner.email, created_at=now))
        except AccountError as exc:
            problems.append(SceneProblem(exc.field, exc.message))
    if webhook:
        try:
            check_webhook_url(webhook, allow_private=_allow_private())
            channels.append(Channel(owner_id=owner.id, kind=ChannelKind.webhook.value, target=webhook.strip(),
                                    secret=generate_secret(), verified=True,
                                    send_when_empty=send_when_empty, locale=owner.locale,
                                    timezone=owner.timezone or "UTC", owner_email=owner.email, created_at=now))
        except WebhookTargetError as exc:
            problems.append(SceneProblem("webhook", str(exc)))
    return channels


def confirmed_address(session: Session, owner_id: int, address: str) -> bool:
    """Whether the owner already confirmed ``address`` on another channel."""
    return session.scalar(
        select(Channel.id).where(Channel.owner_id == owner_id, Channel.kind == ChannelKind.email.value,
                                 Channel.target == address, Channel.verified.is_(True)).limit(1)
    ) is not None


def add_channel(session: Session, scene: Scene, *, email: str | None = None, webhook: str | None = None,
                email_cadence: str = "immediate", send_when_empty: bool = False,
                now: datetime | None = None) -> list[Channel]:
    """Add an email or webhook channel to a saved scene; returns the new channels.

    An address the owner already confirmed counts as verified; any other waits for its
    double opt-in. Raises SceneError (from :mod:`subscriptions.scenes`) on bad input."""
    from subscriptions.scenes import SceneError

    problems: list[SceneProblem] = []
    if not (email or "").strip() and not (webhook or "").strip():
        problems.append(SceneProblem("channel", "give an email address or a webhook URL"))
        raise SceneError(problems)
    owner = scene.owner
    channels = new_channels(owner, email=email, email_cadence=email_cadence, webhook=webhook,
                            send_when_empty=send_when_empty, now=now, problems=problems)
    if problems:
        raise SceneError(problems)
    for channel in channels:
        if channel.kind == ChannelKind.email.value:
            if any(c.kind == channel.kind and c.target == channel.target for c in scene.channels):
                raise SceneError([SceneProblem("email", f"{channel.target} already gets this scene")])
            channel.verified = confirmed_address(session, owner.id, channel.target)
    session.add_all(channels)
    scene.channels.extend(channels)
    session.flush()
    return channels


def remove_channel(session: Session, scene: Scene, channel_id: int) -> bool:
    """Stop sending ``scene`` to the channel; a channel no other scene uses is deleted
    (with its pending notifications). False when the scene has no such channel."""
    channel = next((c for c in scene.channels if c.id == channel_id), None)
    if channel is None:
        return False
    scene.channels.remove(channel)
    session.flush()
    still_used = session.scalar(
        select(scene_channel.c.scene_id).where(scene_channel.c.channel_id == channel_id).limit(1)
    )
    if still_used is None:
        session.delete(channel)
        session.flush()
    return True
