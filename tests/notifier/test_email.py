"""Email delivery to a real SMTP server (aiosmtpd) and to the Maildir outbox."""
from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage
from urllib.parse import unquote

from sqlalchemy import select

from config.extensions import db
from notifier.delivery import deliver_notification
from notifier.lifecycle import create_notifications, release
from notifier.mailer import list_outbox, read_outbox_message
from notifier.models import Delivery, Notification
from notifier.tokens import read_unsubscribe_token
from subscriptions.models import Scene, SceneRun
from tests.notifier.conftest import NOW, sample_document


def _email_notification(make_scene, document=None, **channel):
    spec = {"kind": "email", "target": "reader@example.org", "verified": True, "cadence": "immediate", **channel}
    scene_id, run_id, (channel_id,) = make_scene([spec])
    with db.session() as session:
        scene, run = session.get(Scene, scene_id), session.get(SceneRun, run_id)
        (note,) = create_notifications(session, scene, run, document or sample_document(), now=NOW)
        return note.id, channel_id


def _parse(envelope) -> EmailMessage:
    return email.message_from_bytes(envelope.original_content, policy=email.policy.default)


def test_smtp_multipart_with_unsubscribe_headers(make_scene, smtp_server, smtp_settings) -> None:
    sink, _ = smtp_server
    nid, channel_id = _email_notification(make_scene)
    assert deliver_notification(nid, NOW, settings=smtp_settings) == "sent"
    (envelope,) = sink.messages
    assert envelope.rcpt_tos == ["reader@example.org"]
    msg = _parse(envelope)
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "公交线路数据 0" in text and "公交线路数据 0" in html
    assert "更新日期: 2026-01-01 → 2026-03-01" in text  # field names in the reader's language
    assert "已从目录删除" in text  # the removal reason, in the channel's language
    assert "style=" in html  # CSS inlined for mail clients that drop <style>
    subject = str(msg["Subject"])
    assert "杭州交通" in subject and "新增 2" in subject and "移除 1" in subject and "变更 1" in subject

    # RFC 8058: an https link and a mailto, plus the one-click POST marker.
    unsubscribe = str(msg["List-Unsubscribe"])
    https_part, mailto_part = [p.strip().strip("<>") for p in unsubscribe.split(",")]
    assert https_part.startswith("https://scenewatch.example/unsubscribe/")
    assert read_unsubscribe_token(https_part.rsplit("/", 1)[1], smtp_settings)[0] == channel_id
    assert mailto_part.startswith("mailto:alerts@scenewatch.example?subject=")
    subject = unquote(mailto_part.split("subject=")[1])
    assert read_unsubscribe_token(subject.split(" ")[1], smtp_settings)[0] == channel_id
    assert str(msg["List-Unsubscribe-Post"]) == "List-Unsubscribe=One-Click"
    assert https_part in text

    with db.session() as session:
        note = session.get(Notification, nid)
        (row,) = session.scalars(select(Delivery).where(Delivery.notification_id == nid))
        assert note.message_id in str(msg["Message-ID"])
    assert msg["Date"] is not None and row.ok


def test_english_locale(make_scene, smtp_server, smtp_settings) -> None:
    sink, _ = smtp_server
    nid, _ = _email_notification(make_scene, locale="en")
    deliver_notification(nid, NOW, settings=smtp_settings)
    msg = _parse(sink.messages[0])
    assert str(msg["Subject"]) == "[scenewatch] 杭州交通: 2 added, 1 removed, 1 changed"
    text = msg.get_body(("plain",)).get_content()
    assert "deleted from the catalog" in text and "Modified: 2026-01-01 → 2026-03-01" in text


def test_smtp_refusals(make_scene, smtp_server, smtp_settings) -> None:
    sink, _ = smtp_server
    sink.refuse = {"gone@example.org": "550 5.1.1 no such user", "busy@example.org": "451 4.3.0 try later"}
    gone, _ = _email_notification(make_scene, target="gone@example.org")
    busy, _ = _email_notification(make_scene, target="busy@example.org")
    assert deliver_notification(gone, NOW, settings=smtp_settings) == "dead"
    assert deliver_notification(busy, NOW, settings=smtp_settings) == "retrying"
    with db.session() as session:
        rows = {d.notification_id: d for d in session.scalars(select(Delivery))}
    assert rows[gone].status_code == 550 and "no such user" in rows[gone].error
    assert rows[busy].status_code == 451
    assert sink.messages == []


def test_unverified_address_gets_nothing_until_confirmed(make_scene, smtp_server, smtp_settings) -> None:
    sink, _ = smtp_server
    nid, channel_id = _email_notification(make_scene, verified=False)
    assert deliver_notification(nid, NOW, settings=smtp_settings) == "held"
    assert sink.messages == []
    from notifier.models import Channel

    with db.session() as session:
        channel = session.get(Channel, channel_id)
        channel.verified = True
        session.flush()
        assert release(session, channel, NOW) == 1
    assert deliver_notification(nid, NOW, settings=smtp_settings) == "sent"
    assert len(sink.messages) == 1


def test_maildir_outbox(make_scene, nsettings) -> None:
    nid, _ = _email_notification(make_scene)
    assert not nsettings.smtp_host
    assert deliver_notification(nid, NOW, settings=nsettings) == "sent"
    (entry,) = list_outbox(nsettings)
    assert entry.to == "reader@example.org" and "杭州交通" in entry.subject and entry.date is not None
    message = read_outbox_message(nsettings, entry.key)
    assert message is not None
    assert "公交线路数据 1" in message.text and "<html" in message.html
    assert dict(message.headers)["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert read_outbox_message(nsettings, "no-such-key") is None
    assert read_outbox_message(nsettings, "../../etc/passwd") is None


def test_catalog_text_is_escaped_and_unsafe_links_dropped(make_scene, nsettings) -> None:
    document = sample_document(added=1)
    document["added"][0].update(title="<script>alert(1)</script>", landing_page="javascript:alert(1)")
    nid, _ = _email_notification(make_scene, document=document)
    deliver_notification(nid, NOW, settings=nsettings)
    message = read_outbox_message(nsettings, list_outbox(nsettings)[0].key)
    assert "<script>" not in message.html and "&lt;script&gt;" in message.html
    assert "javascript:" not in message.html and "javascript:" not in message.text
    assert "<script>alert(1)</script>" in message.text  # plain text is plain


def test_redelivered_email_gets_a_new_message_id(make_scene, nsettings) -> None:
    from notifier.lifecycle import redeliver

    nid, _ = _email_notification(make_scene)
    deliver_notification(nid, NOW, settings=nsettings)
    redeliver(nid, NOW)
    deliver_notification(nid, NOW, settings=nsettings)
    ids = {e.message_id for e in list_outbox(nsettings)}
    assert len(ids) == 2  # otherwise the mailbox would hide the resend as a duplicate
