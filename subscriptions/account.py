"""What an account holder changes about their account: language and time zone,
password (changed, or reset through a mailed link), and deleting the account with
everything it owns. The account page calls these; each checks its input."""
from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from config.settings import Settings
from notifier.models import Channel, ChannelKind
from subscriptions.accounts import MIN_PASSWORD, AccountError, find_user
from subscriptions.models import Scene, SceneMember, User
from subscriptions.schedule import ScheduleError, check_timezone

RESET_SALT = "password-reset"
RESET_MAX_AGE = 3600  # an hour: long enough to find the mail, short for a leaked link
LOCALES = ("zh", "en")


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(settings.secret_key, salt=RESET_SALT)


def _password_stamp(user: User) -> str:
    # Part of the current hash: the link stops working once the password changes,
    # so a reset link can be used once.
    return (user.password_hash or "")[-16:]


def set_preferences(user: User, locale: str, timezone_name: str) -> None:
    """Set the account's language and time zone; raises AccountError naming the field."""
    if locale not in LOCALES:
        raise AccountError("locale", f"must be one of {', '.join(LOCALES)}")
    try:
        check_timezone(timezone_name)
    except ScheduleError as exc:
        raise AccountError("timezone", exc.message) from None
    # Mail follows from now on: the account's channels get copies (subscriptions.models).
    user.locale, user.timezone = locale, timezone_name


def _owned_channels(user: User) -> list[Channel]:
    from sqlalchemy.orm import object_session

    session = object_session(user)
    if session is None:
        return []
    return list(session.scalars(select(Channel).where(Channel.owner_id == user.id)))


def _check_new_password(new: str, again: str) -> list[AccountError]:
    problems = []
    if len(new or "") < MIN_PASSWORD:
        problems.append(AccountError("new_password", f"must be at least {MIN_PASSWORD} characters"))
    if (new or "") != (again or ""):
        problems.append(AccountError("new_password2", "the two passwords differ"))
    return problems


def _set_password(user: User, new: str, keep_session: str | None = None) -> None:
    from subscriptions.accounts import invalidate_sessions

    user.password_hash = generate_password_hash(new)
    # Sessions made with the old password end (all but the browser making the change).
    invalidate_sessions(user, keep_session=keep_session)


def change_password(user: User, current: str, new: str, again: str,
                    keep_session: str | None = None) -> list[AccountError]:
    """Change the password when ``current`` is right; returns every problem (empty:
    changed). Every other login session ends; ``keep_session`` (the token of the
    browser making the change) stays."""
    problems = []
    if not user.password_hash or not check_password_hash(user.password_hash, current or ""):
        problems.append(AccountError("current_password", "is not your current password"))
    problems += _check_new_password(new, again)
    if not problems:
        _set_password(user, new, keep_session)
    return problems


def make_reset_token(user: User, settings: Settings) -> str:
    """A signed, one-use, one-hour token for resetting ``user``'s password."""
    return str(_serializer(settings).dumps({"u": user.id, "s": _password_stamp(user)}))


def user_for_reset_token(session: Session, token: str, settings: Settings) -> User | None:
    """The account a reset token is for, or None when it is bad, expired or used."""
    try:
        data = _serializer(settings).loads(token, max_age=RESET_MAX_AGE)
    except (SignatureExpired, BadSignature):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    user = session.get(User, data["u"])
    if user is None or data.get("s") != _password_stamp(user):
        return None
    return user


def reset_password(session: Session, token: str, new: str, again: str,
                   settings: Settings) -> tuple[User | None, list[AccountError]]:
    """Set a new password with a mailed token: (the user, problems)."""
    user = user_for_reset_token(session, token, settings)
    if user is None:
        return None, [AccountError("token", "this link is not valid or has expired")]
    problems = _check_new_password(new, again)
    if not problems:
        _set_password(user, new)
    return user, problems


def reset_message(user: User, link: str, settings: Settings) -> EmailMessage:
    """The password reset mail (text + html, in the account's language)."""
    from flask import render_template

    from config import i18n

    locale = i18n.locale_or_default(user.locale)
    context = {"link": link, "address": user.email, "locale": locale, **i18n.helpers(locale, user.timezone)}
    msg = EmailMessage()
    msg["Subject"] = i18n.translate("reset.mail_subject", locale)
    msg["From"] = settings.mail_from
    msg["To"] = user.email
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="scenewatch")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render_template("email/password_reset.txt", **context))
    msg.add_alternative(render_template("email/password_reset.html", **context), subtype="html")
    return msg


def send_reset_mail(session: Session, email: str, settings: Settings) -> bool:
    """Mail a reset link when ``email`` has an account with a password; the caller
    says the same thing either way (no telling which accounts exist)."""
    from notifier.mailer import send_message

    user = find_user(session, email or "")
    if user is None or not user.password_hash:
        return False
    link = f"{settings.base_url}/password/reset/{make_reset_token(user, settings)}"
    send_message(reset_message(user, link, settings), settings)
    return True


def account_address_channel(session: Session, user: User) -> Channel:
    """The channel for the account's own address (no scene): confirming it lets every
    scene mail that address without asking again. Created unverified on first use."""
    channel = session.scalar(select(Channel).where(
        Channel.owner_id == user.id, Channel.kind == ChannelKind.email.value, Channel.target == user.email,
    ).order_by(Channel.verified.desc(), Channel.id).limit(1))
    if channel is None:
        channel = Channel(owner_id=user.id, kind=ChannelKind.email.value, target=user.email,
                          cadence="immediate", verified=False, locale=user.locale,
                          timezone=user.timezone or "UTC", owner_email=user.email,
                          created_at=datetime.now(UTC))
        session.add(channel)
        session.flush()
    return channel


def delete_account(session: Session, user: User) -> dict[str, int]:
    """Delete the account and everything it owns (scenes, their runs and members,
    channels, notifications and delivery log); returns what went."""
    scene_ids = list(session.scalars(select(Scene.id).where(Scene.owner_id == user.id)))
    channel_count = len(_owned_channels(user))
    if scene_ids:
        session.execute(delete(SceneMember).where(SceneMember.scene_id.in_(scene_ids)))
    user_id = user.id
    session.expunge(user)
    # The database cascades the rest (scenes → runs, channels → notifications →
    # deliveries, and whatever else names the account).
    session.execute(delete(Scene).where(Scene.owner_id == user_id))
    session.execute(delete(Channel).where(Channel.owner_id == user_id))
    session.execute(delete(User).where(User.id == user_id))
    return {"scenes": len(scene_ids), "channels": channel_count}
