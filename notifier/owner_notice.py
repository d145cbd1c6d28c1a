"""Telling a channel's owner that their webhook endpoint answered 410 Gone and was
disabled: one plain email to the account address, in the owner's language."""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from config import i18n
from config.extensions import db
from config.settings import Settings
from notifier.mailer import send_message
from notifier.models import Channel, Notification

log = logging.getLogger("scenewatch.delivery")


def tell_owner_endpoint_gone(notification_id: int, settings: Settings) -> bool:
    """Mail the owner of the notification's channel that it was disabled by a 410.

    Never raises: the delivery log already records the 410, this is a courtesy."""
    try:
        with db.session() as session:
            notification = session.get(Notification, notification_id)
            channel = session.get(Channel, notification.channel_id) if notification else None
            if notification is None or channel is None or not channel.owner_email:
                return False
            locale = i18n.locale_or_default(channel.locale)
            link = f"{settings.base_url}/scenes/{notification.scene_id}" if notification.scene_id else settings.base_url
            msg = EmailMessage()
            msg["Subject"] = i18n.translate("notice.gone_subject", locale, target=channel.target)
            msg["From"] = settings.mail_from
            msg["To"] = channel.owner_email
            msg["Date"] = format_datetime(datetime.now(UTC))
            msg["Message-ID"] = make_msgid(domain="scenewatch")
            msg["Auto-Submitted"] = "auto-generated"
            msg.set_content(i18n.translate("notice.gone_body", locale, target=channel.target, link=link))
        send_message(msg, settings)
        return True
    except Exception:  # noqa: BLE001 - see docstring
        log.exception("could not tell the owner that notification %s's endpoint is gone", notification_id)
        return False
