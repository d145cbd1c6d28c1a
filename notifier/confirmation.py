"""Double opt-in: an address typed into the web form gets one confirmation mail and
nothing else until its owner confirms."""
from __future__ import annotations

from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from flask import render_template

from config.extensions import db
from config.settings import Settings
from notifier.mailer import send_message
from notifier.models import Channel
from notifier.tokens import InvalidToken, make_confirm_token, read_confirm_token

SUBJECTS = {"zh": "请确认您的邮箱地址 · scenewatch", "en": "Please confirm your email address · scenewatch"}


def confirmation_message(channel: Channel, settings: Settings) -> EmailMessage:
    """The confirmation mail for ``channel`` (text + html, in the channel's language)."""
    locale = channel.locale if channel.locale in SUBJECTS else "zh"
    link = f"{settings.base_url}/confirm/{make_confirm_token(channel.id, channel.target, settings)}"
    context = {"link": link, "address": channel.target, "locale": locale}
    msg = EmailMessage()
    msg["Subject"] = SUBJECTS[locale]
    msg["From"] = settings.mail_from
    msg["To"] = channel.target
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["Message-ID"] = make_msgid(domain="scenewatch")
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(render_template("email/confirm.txt", **context))
    msg.add_alternative(render_template("email/confirm.html", **context), subtype="html")
    return msg


def send_confirmations(channel_ids: list[int], settings: Settings) -> int:
    """Send a confirmation mail to each unverified email channel; returns how many."""
    sent = 0
    with db.session() as session:
        for channel_id in channel_ids:
            channel = session.get(Channel, channel_id)
            if channel is None or channel.kind != "email" or channel.verified:
                continue
            send_message(confirmation_message(channel, settings), settings)
            sent += 1
    return sent


def confirm_channel(token: str) -> Channel:
    """Mark the channel named by ``token`` verified and release its held notifications.

    Raises InvalidToken (or ExpiredToken) for a bad link or one for an old address.
    """
    from notifier.notifications import release_held

    channel_id, address = read_confirm_token(token)
    with db.session() as session:
        channel = session.get(Channel, channel_id)
        if channel is None or channel.target != address:
            raise InvalidToken("this confirmation link is for an address that is no longer used")
        channel.verified = True
        session.flush()
        release_held(session, channel.id)
        return channel
