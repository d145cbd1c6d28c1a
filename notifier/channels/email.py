"""Email channel: a multipart/alternative diff email (text + html) with RFC 8058
one-click unsubscribe headers, sent through :mod:`notifier.mailer`.

Templates live in ``templates/email/``; the words come from the one message catalog
(:mod:`config.i18n`) in the channel's locale, and times are shown in the owner's zone.
"""
from __future__ import annotations

import json
import logging
import re
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

import css_inline
from jinja2 import Environment, FileSystemLoader, select_autoescape

from config import i18n
from config.settings import Settings
from notifier.channels.base import DIGEST_EVENT, BaseChannel, DeliveryError, Outgoing, SendResult
from notifier.mailer import MailError, send_message
from notifier.tokens import make_unsubscribe_token, unsubscribe_url

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
MAX_ITEMS = 50  # per list per scene in one email; the rest is a link away
MAX_ITEMS_DIGEST = 20
MAX_VALUE = 300
ADDRESS = re.compile(r"^[^@\s<>\"]+@[^@\s<>\"]+\.?[^@\s<>\"]*$")

log = logging.getLogger("scenewatch.email")
# Our own stylesheet only: nothing is fetched from the network while a mail is built.
_INLINER = css_inline.CSSInliner(keep_style_tags=False, load_remote_stylesheets=False)


def _shorten(text: str) -> str:
    return text if len(text) <= MAX_VALUE else text[:MAX_VALUE - 1] + "…"


def show_value(value: Any, empty: str = "—") -> str:
    """A field value as one short line of text."""
    if value is None or value == "" or value == [] or value == {}:
        return empty
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value):
        return _shorten(", ".join(str(v) for v in value))
    if isinstance(value, (dict, list)):
        return _shorten(json.dumps(value, ensure_ascii=False, sort_keys=True, default=str))
    return _shorten(str(value))


def show_change(change: dict[str, Any], empty: str = "—") -> tuple[str, str]:
    """(old, new) text for one field change; resources are summarised by count."""
    if change.get("field") == "resources":
        old, new = change.get("old") or [], change.get("new") or []
        delta = (f"+{len(change.get('added') or [])} "
                 f"−{len(change.get('removed') or [])} "
                 f"~{len(change.get('changed') or [])}")
        return str(len(old)), f"{len(new)} ({delta})"
    return show_value(change.get("old"), empty), show_value(change.get("new"), empty)


def safe_url(value: Any) -> str:
    """``value`` when it is an http(s) URL, else "" (catalog data is not trusted)."""
    text = str(value or "").strip()
    return text if text.lower().startswith(("http://", "https://")) else ""


def show_when(value: Any, tz_name: str | None = "UTC") -> str:
    """An ISO timestamp as ``YYYY-MM-DD HH:MM`` in ``tz_name`` with the zone's name."""
    if not value:
        return ""
    return i18n.format_datetime(str(value), tz_name)


COUNTED = ("added", "removed", "changed", "moved")


def count_summary(counts: dict[str, Any], locale: str) -> str:
    """"新增 3，移除 1" / "3 added, 1 removed": the non-zero counts, or "no changes"."""
    parts = [i18n.translate(f"email.count_{name}", locale, n=int(counts.get(name) or 0))
             for name in COUNTED if counts.get(name)]
    return i18n.translate("email.sep", locale).join(parts) if parts else \
        i18n.translate("email.subject_empty", locale)


@lru_cache(maxsize=1)
def email_templates() -> Environment:
    """The Jinja environment of ``templates/email/`` (no Flask app needed)."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                      autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    env.filters.update(safe_url=safe_url)
    return env


def headline(outgoing: Outgoing) -> str:
    """The scene and its counts, or the digest's totals (the subject without the brand)."""
    locale = i18n.locale_or_default(outgoing.locale)
    documents = outgoing.documents
    if outgoing.event_type == DIGEST_EVENT:
        scenes = {doc.get("scene", {}).get("id") for doc in documents}
        cadence = outgoing.cadence if outgoing.cadence in ("daily", "weekly") else ""
        return i18n.translate(
            "email.headline_digest", locale,
            cadence=i18n.translate(f"email.cadence_{cadence}", locale) if cadence else "",
            scenes=i18n.translate("email.n_scenes", locale, n=len(scenes)),
            updates=i18n.translate("email.n_updates", locale, n=len(documents))).strip()
    doc = documents[0] if documents else {}
    return i18n.translate("email.headline_one", locale, scene=doc.get("scene", {}).get("name", ""),
                          summary=count_summary(doc.get("counts", {}), locale))


def subject_for(outgoing: Outgoing) -> str:
    """The Subject header: brand prefix + :func:`headline`."""
    return i18n.translate("email.subject_prefix", outgoing.locale) + headline(outgoing)


def render_bodies(outgoing: Outgoing, settings: Settings, unsubscribe: str | None = None) -> tuple[str, str]:
    """(text, html) bodies of the email for ``outgoing`` (``unsubscribe``: the link to show)."""
    locale = i18n.locale_or_default(outgoing.locale)
    words = i18n.helpers(locale, outgoing.timezone)
    documents = outgoing.documents
    digest = outgoing.event_type == DIGEST_EVENT
    first = documents[0] if documents else {}
    empty = i18n.translate("email.empty_value", locale)
    context = {
        **words,
        "locale": locale,
        "subject": subject_for(outgoing),
        "heading": headline(outgoing),
        "intro": i18n.translate("email.intro_digest", locale) if digest else i18n.translate(
            "email.intro_one", locale, scene=first.get("scene", {}).get("name", ""),
            n=first.get("counts", {}).get("matched", 0)),
        "documents": documents,
        "max_items": MAX_ITEMS_DIGEST if digest else MAX_ITEMS,
        "unsubscribe_url": unsubscribe or unsubscribe_url(outgoing.channel_id, settings),
        # Helpers that need the reader's words or zone are passed with the context (not
        # as environment filters), so renders for different readers never share them.
        "summary": lambda counts: count_summary(counts or {}, locale),
        "reason": lambda reason: i18n.label("removed_reason", reason, locale),
        "change": lambda change: show_change(change, empty),
        "field": words["field_label"],
        "when": lambda value: show_when(value, outgoing.timezone),
    }
    env = email_templates()
    text = env.get_template("email/diff.txt").render(context)
    html = env.get_template("email/diff.html").render(context)
    return text, _inline_css(html)


def _inline_css(html: str) -> str:
    """Move the layout's <style> rules onto the elements (many mail clients drop <style>)."""
    try:
        return _INLINER.inline(html)
    except ValueError:  # an un-inlined email is still a readable email
        log.warning("could not inline email CSS; sending the html as rendered", exc_info=True)
        return html


def _domain(settings: Settings) -> str:
    _, address = parseaddr(settings.mail_from)
    return address.rpartition("@")[2] or "localhost"


def build_email(outgoing: Outgoing, settings: Settings, now: datetime | None = None) -> EmailMessage:
    """The complete message for ``outgoing``: headers, text part and html part."""
    now = now or datetime.now(UTC)
    _, sender = parseaddr(settings.mail_from)
    # One token for the body link and both headers, so they are the same link.
    token = make_unsubscribe_token(outgoing.channel_id, settings)
    link = f"{settings.base_url}/unsubscribe/{token}"
    text, html = render_bodies(outgoing, settings, link)
    msg = EmailMessage()
    msg["Subject"] = subject_for(outgoing)
    msg["From"] = settings.mail_from
    msg["To"] = outgoing.target
    msg["Date"] = format_datetime(now)
    # Derived from the notification's message id: a retry carries the same Message-ID,
    # so a mail system that already accepted the first copy can drop the second.
    suffix = f".{outgoing.copy}" if outgoing.copy else ""
    msg["Message-ID"] = f"<{outgoing.message_id}{suffix}@{_domain(settings)}>"
    msg["List-Unsubscribe"] = (f"<{link}>, "
                               f"<mailto:{sender}?subject={quote('unsubscribe ' + token)}>")
    msg["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    return msg


class EmailChannel(BaseChannel):
    kind = "email"

    def send(self, outgoing: Outgoing, settings: Settings) -> SendResult:
        msg = build_email(outgoing, settings)
        started = time.perf_counter()
        try:
            receipt = send_message(msg, settings)
        except MailError as exc:
            raise DeliveryError(exc.message, retryable=exc.retryable, status_code=exc.status_code,
                                latency_ms=int((time.perf_counter() - started) * 1000)) from exc
        return SendResult(status_code=None, latency_ms=int((time.perf_counter() - started) * 1000),
                          detail="sent via SMTP" if receipt == "smtp" else f"written to outbox ({receipt})")
