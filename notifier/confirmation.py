"""Double opt-in: an address typed into the web form gets one confirmation mail and
nothing else until its owner confirms."""
from __future__ import annotations

from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from config import i18n
from config.extensions import db
from config.settings import Settings
from notifier.channels.email import email_templates
from notifier.mailer import send_message
from notifier.models import Channel
from notifier.tokens import InvalidToken, make_confirm_token, object_stamp, read_confirm_token


def confirmation_message(channel: Channel, settings: Settings) -> EmailMessage:
    """The confirmation mail for ``channel`` (text + html, in the channel's language)."""
    locale = i18n.locale_or_default(channel.locale)
    token = make_confirm_token(channel.id, channel.target, settings, created_at=channel.created_at)
    link = f"{settings.base_url}/confirm/{token}"
    context = {"link": link, "address": channel.target, "locale": locale,
               **i18n.helpers(locale, channel.timezone)}
    msg = EmailMessage()
    msg["Subject"] = i18n.translate("confirm_mail.subject", locale)
    msg["From"] = settings.mail_from
    msg["To"] = channel.target
    msg["Date"] = format_datetime(datetime.now(UTC))
    msg["Message-ID"] = make_msgid(domain="scenewatch")
    msg["Auto-Submitted"] = "auto-generated"
    templates = email_templates()
    msg.set_content(templates.get_template("email/confirm.txt").render(context))
    msg.add_alternative(templates.get_template("email/confirm.html").render(context), subtype="html")
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
    from notifier.lifecycle import release

    channel_id, address, stamp = read_confirm_token(token)
    with db.session() as session:
        channel = session.get(Channel, channel_id)
        if channel is None or channel.target != address or object_stamp(channel.created_at) != stamp:
            raise InvalidToken("this confirmation link is for an address that is no longer used")
        channel.verified = True
        session.flush()
        release(session, channel)
        return channel
