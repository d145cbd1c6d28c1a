"""Telling a channel's owner that their webhook endpoint answered 410 Gone and was
disabled: one plain email to the account address, in the owner's language."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from config.extensions import db
from config.settings import Settings
from notifier.mailer import send_message
from notifier.models import Channel, Notification

log = logging.getLogger("scenewatch.delivery")

SUBJECT = {"zh": "Webhook 地址已停用：{target}", "en": "Webhook endpoint disabled: {target}"}
BODY = {
    "zh": ("您的 webhook 地址 {target} 返回了 410 Gone（该地址已不存在），scenewatch 已停止向它发送。\n"
           "之前的通知都保留着；地址恢复后，可在场景页面重新添加 webhook，并重新发送失败的通知。\n\n{link}\n"),
    "en": ("Your webhook endpoint {target} answered 410 Gone (it no longer exists), so scenewatch has "
           "stopped sending to it.\nNothing was lost: once the endpoint is back, add the webhook again on "
           "the scene page and redeliver what failed.\n\n{link}\n"),
}


def tell_owner_endpoint_gone(notification_id: int, settings: Settings) -> bool:
    """Mail the owner of the notification's channel that it was disabled by a 410.

    Never raises: the delivery log already records the 410, this is a courtesy."""
    try:
        with db.session() as session:
            notification = session.get(Notification, notification_id)
            channel = session.get(Channel, notification.channel_id) if notification else None
            if channel is None:
                return False
            from subscriptions.models import User

            owner = session.get(User, channel.owner_id)
            if owner is None:
                return False
            locale = owner.locale if owner.locale in SUBJECT else "zh"
            link = f"{settings.base_url}/scenes/{notification.scene_id}" if notification.scene_id else settings.base_url
            msg = EmailMessage()
            msg["Subject"] = SUBJECT[locale].format(target=channel.target)
            msg["From"] = settings.mail_from
            msg["To"] = owner.email
            msg["Date"] = format_datetime(datetime.now(timezone.utc))
            msg["Message-ID"] = make_msgid(domain="scenewatch")
            msg["Auto-Submitted"] = "auto-generated"
            msg.set_content(BODY[locale].format(target=channel.target, link=link))
        send_message(msg, settings)
        return True
    except Exception:  # noqa: BLE001 - see docstring
        log.exception("could not tell the owner that notification %s's endpoint is gone", notification_id)
        return False
