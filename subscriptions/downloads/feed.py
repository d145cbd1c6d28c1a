"""A scene's Atom feed (RFC 4287): one entry per run that changed something.

The feed lives at a secret URL (``/feeds/<feed_token>.atom``) so feed readers, which
cannot log in, can follow a scene. It is written in the scene owner's language.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from html import escape
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import select

from config import i18n
from config.extensions import db
from subscriptions.models import RunState, Scene, SceneRun, User

ATOM = "http://www.w3.org/2005/Atom"
FEED_ENTRIES = 30
ITEMS_PER_SECTION = 20  # a run that changed thousands of datasets stays readable
XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")

SECTIONS = ("added", "changed", "removed", "moved")


@dataclass(frozen=True)
class FeedScene:
    id: int
    name: str
    feed_token: str
    created_at: datetime
    locale: str


@dataclass(frozen=True)
class FeedRun:
    id: int
    scheduled_for: datetime
    finished_at: datetime | None
    diff: dict[str, Any]


def load_feed(feed_token: str, limit: int = FEED_ENTRIES) -> tuple[FeedScene, list[FeedRun]] | None:
    """The scene with ``feed_token`` and its newest changed runs, or None if unknown."""
    if not feed_token:
        return None
    with db.session() as session:
        scene = session.scalar(select(Scene).where(Scene.feed_token == feed_token))
        if scene is None:
            return None
        owner = session.get(User, scene.owner_id)
        runs = session.scalars(
            select(SceneRun).where(SceneRun.scene_id == scene.id,
                                   SceneRun.state == RunState.changed.value)
            .order_by(SceneRun.scheduled_for.desc(), SceneRun.id.desc()).limit(limit)).all()
        info = FeedScene(scene.id, scene.name, scene.feed_token, scene.created_at,
                         i18n.locale_or_default(owner.locale if owner else None))
        return info, [FeedRun(r.id, r.scheduled_for, r.finished_at, dict(r.diff or {}))
                      for r in runs]


def _text(value: Any) -> str:
    return XML_ILLEGAL.sub("", "" if value is None else str(value))


def _stamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attrs)
    if text is not None:
        element.text = _text(text)
    return element


def _counts(diff: dict[str, Any]) -> dict[str, int]:
    counts = diff.get("counts") or {}
    return {key: int(counts.get(key) or len(diff.get(key) or [])) for key in SECTIONS}


def _headline(diff: dict[str, Any], locale: str) -> str:
    parts = [f"{n} {i18n.translate(f'feed.section.{key}', locale)}" for key, n in _counts(diff).items() if n]
    return " · ".join(parts) or i18n.translate("feed.nothing", locale)


def _item_html(section: str, item: dict[str, Any], locale: str) -> str:
    title = escape(_text(item.get("title") or item.get("id") or item.get("to") or ""))
    link = str(item.get("landing_page") or "")
    if link.startswith(("http://", "https://")):
        title = f'<a href="{escape(link)}">{title}</a>'
    if section == "changed":
        fields = ", ".join(escape(i18n.field_label(_text(c.get("field")), locale))
                           for c in item.get("changes") or [])
        return f"{title} ({fields})" if fields else title
    if section == "removed":
        reason = str(item.get("reason") or "")
        return f"{title} ({escape(i18n.label('removed_reason', reason, locale))})" if reason else title
    if section == "moved":
        return f"{title} ({escape(_text(item.get('from')))} → {escape(_text(item.get('to')))})"
    return title


def _content_html(diff: dict[str, Any], locale: str) -> str:
    """The entry body: one short list per section, the first few items of each."""
    html: list[str] = []
    for section in SECTIONS:
        items = [i for i in diff.get(section) or [] if isinstance(i, dict)]
        if not items:
            continue
        html.append(f"<h3>{escape(i18n.translate(f'feed.section.{section}', locale))} ({len(items)})</h3><ul>")
        shown = items[:ITEMS_PER_SECTION]
        html.extend(f"<li>{_item_html(section, item, locale)}</li>" for item in shown)
        if len(items) > len(shown):
            more = i18n.translate("feed.more", locale, n=len(items) - len(shown))
            html.append(f"<li>{escape(more)}</li>")
        html.append("</ul>")
    return "".join(html)


def render_feed(scene: FeedScene, runs: Sequence[FeedRun], base_url: str) -> bytes:
    """The Atom document (UTF-8 bytes) for ``scene`` and its changed ``runs``."""
    locale = scene.locale
    scene_url = f"{base_url}/scenes/{scene.id}"
    # Plain tag names under a literal default namespace: ElementTree would otherwise
    # invent an "ns0:" prefix on every element.
    feed = ET.Element("feed", {"xmlns": ATOM, "xml:lang": scene.locale})
    # The id is the scene's page, not the feed URL: the id must not carry the secret.
    _sub(feed, "id", scene_url)
    _sub(feed, "title", f"scenewatch: {scene.name}")
    _sub(feed, "subtitle", i18n.translate("feed.subtitle", locale, name=_text(scene.name)))
    newest = max((r.finished_at or r.scheduled_for for r in runs), default=scene.created_at)
    _sub(feed, "updated", _stamp(newest))
    _sub(feed, "link", rel="self", type="application/atom+xml",
         href=f"{base_url}/feeds/{scene.feed_token}.atom")
    _sub(feed, "link", rel="alternate", type="text/html", href=scene_url)
    author = _sub(feed, "author")
    _sub(author, "name", "scenewatch")
    _sub(feed, "generator", "scenewatch")
    for run in runs:
        run_url = f"{scene_url}/runs/{run.id}"
        entry = _sub(feed, "entry")
        _sub(entry, "id", run_url)
        _sub(entry, "title", f"{scene.name}: {_headline(run.diff, locale)}")
        _sub(entry, "updated", _stamp(run.finished_at or run.scheduled_for))
        _sub(entry, "published", _stamp(run.scheduled_for))
        _sub(entry, "link", rel="alternate", type="text/html", href=run_url)
        _sub(entry, "summary", _headline(run.diff, locale))
        for section, count in _counts(run.diff).items():
            if count:
                _sub(entry, "category", term=section, label=i18n.translate(f"feed.section.{section}", locale))
        _sub(entry, "content", _content_html(run.diff, locale), type="html")
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)
