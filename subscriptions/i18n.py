"""The web form's two languages: choosing the locale and looking up messages.

Messages live in ``subscriptions/messages/<locale>.json`` (flat key → text). Templates
call ``_("key")`` (or ``t("key")``) and ``label(field, value)`` for enum values such as
``open_type`` or ``update_frequency``.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_request_context, request, session

LOCALES: tuple[str, ...] = ("zh", "en")
MESSAGES_DIR = Path(__file__).with_name("messages")
# Fields whose stored values are codes that should be shown as words.
ENUM_FIELDS: tuple[str, ...] = (
    "open_type",
    "update_frequency",
    "run_state",
    "cadence",
    "schedule",
    "channel_kind",
    "notification_state",
    "removed_reason",
    "machine_readable",
    "sort",
)


@lru_cache(maxsize=None)
def load_catalog(locale: str) -> dict[str, str]:
    """The message catalog of ``locale`` (read once per process)."""
    path = MESSAGES_DIR / f"{locale}.json"
    with path.open(encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold one JSON object")
    return {str(k): str(v) for k, v in data.items()}


def normalise_locale(value: str | None) -> str | None:
    """``zh``/``zh-CN``/``zh_Hans`` → ``zh``, ``en-GB`` → ``en``; None for anything else."""
    if not value:
        return None
    head = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return head if head in LOCALES else None


def _default_locale() -> str:
    settings = current_app.config.get("SCENEWATCH")
    return normalise_locale(getattr(settings, "default_locale", None)) or LOCALES[0]


def select_locale() -> str:
    """The request's locale: ``?lang=``, then the session's choice, then the user's
    locale, then Accept-Language, then the configured default."""
    chosen = normalise_locale(request.args.get("lang"))
    if chosen:
        session["lang"] = chosen
        return chosen
    remembered = normalise_locale(session.get("lang"))
    if remembered:
        return remembered
    user = getattr(g, "user", None)
    from_user = normalise_locale(getattr(user, "locale", None))
    if from_user:
        return from_user
    best = request.accept_languages.best_match(["zh", "zh-CN", "zh-TW", "en", "en-US", "en-GB"])
    return normalise_locale(best) or _default_locale()


def get_locale() -> str:
    """The current locale (cached on ``g`` for the request; the default outside one)."""
    if not has_request_context():
        return _default_locale()
    if "locale" not in g:
        g.locale = select_locale()
    return str(g.locale)


def translate(key: str, locale: str | None = None, **values: Any) -> str:
    """The text for ``key`` in ``locale`` (English, then the key itself, as fallbacks),
    with ``{name}`` placeholders filled from ``values``."""
    locale = locale or get_locale()
    text = load_catalog(locale).get(key)
    if text is None:
        text = load_catalog("en").get(key, key)
    if values:
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text  # a bad placeholder in a catalog must not break the page
    return text


def label(field: str, value: Any, locale: str | None = None) -> str:
    """A readable name for an enum value (``label("open_type", "conditional")``);
    unknown values are shown as they are."""
    if value is None or value == "":
        return "—"
    key = f"{field}.{str(value).lower() if isinstance(value, bool) else value}"
    locale = locale or get_locale()
    text = load_catalog(locale).get(key) or load_catalog("en").get(key)
    return text if text is not None else str(value)


def field_label(name: str, locale: str | None = None) -> str:
    """The readable name of a dataset or form field (``field.<name>``)."""
    return translate(f"field.{name}", locale) if f"field.{name}" in load_catalog("en") else name


def user_zone() -> ZoneInfo:
    """The logged-in user's time zone, else the server's default (Asia/Shanghai)."""
    name = getattr(getattr(g, "user", None), "timezone", None) or "Asia/Shanghai"
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        return ZoneInfo("UTC")


def format_datetime(value: datetime | str | None, with_zone: bool = True) -> str:
    """``value`` in the viewer's time zone as ``YYYY-MM-DD HH:MM`` (strings pass through)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value.replace("T", " ")[:16]
    local = value.astimezone(user_zone()) if value.tzinfo else value
    text = local.strftime("%Y-%m-%d %H:%M")
    return f"{text} {local.tzname()}" if with_zone and local.tzinfo else text


def _forget_locale() -> None:
    # ``g`` outlives a request when an app context was already pushed (tests, CLI
    # calls into views): choose the locale afresh for every request.
    g.pop("locale", None)


def init_i18n(app: Flask) -> None:
    """Install the locale selection and the template helpers on ``app``."""
    for locale in LOCALES:  # fail at start-up, not on the first page view
        load_catalog(locale)
    app.jinja_env.globals.update(
        _=translate,
        t=translate,
        label=label,
        field_label=field_label,
        query_field_label=query_field_label,
        get_locale=get_locale,
        LOCALES=LOCALES,
    )
    app.jinja_env.filters["dt"] = format_datetime
    app.jinja_env.filters["problem"] = localise_problem
    app.before_request(_forget_locale)
    app.extensions["scenewatch_i18n"] = {"locales": LOCALES}


def localise_problem(message: str, locale: str | None = None) -> str:
    """A validation message from the domain in the reader's language (see problem_text)."""
    from subscriptions.problem_text import localise_message

    return localise_message(message, translate, locale or get_locale())


def query_field_label(path: str | None, locale: str | None = None) -> str:
    """A query error's field path (``query.ranges.modified.gte``, ``filters.region[0]``)
    as the reader's name of the field it is about."""
    import re

    text = re.sub(r"\[\d+\]", "", path or "")
    parts = [p for p in text.split(".") if p not in ("query", "gte", "gt", "lte", "lt")]
    prefix = ""
    if parts and parts[0] in ("filters", "exclude", "ranges"):
        prefix = translate("query.not", locale) + " " if parts[0] == "exclude" else ""
        parts = parts[1:]
    name = ".".join(parts)
    if not name:
        return translate("query.text", locale) if not text or text == "query" else text
    if name == "text":
        return translate("query.text", locale)
    return prefix + field_label(name, locale)
