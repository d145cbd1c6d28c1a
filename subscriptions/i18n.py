"""The web form's two languages: Flask-Babel chooses the request's locale and time
zone; the words come from the one message catalog (:mod:`config.i18n`).

Templates call ``_("key")`` (or ``t("key")``), ``_("key", n=count)`` for a message with
plural forms, ``label(field, value)`` for enum values such as ``open_type`` and the
``dt`` filter for times in the viewer's zone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, current_app, g, has_request_context, request, session
from flask_babel import Babel, Domain

from config import i18n
from config.i18n import LOCALES, TRANSLATIONS_DIR, normalise_locale

__all__ = ["LOCALES", "field_label", "format_datetime", "get_locale", "init_i18n", "label",
           "localise_problem", "normalise_locale", "query_field_label", "translate", "user_zone"]


def _default_locale() -> str:
    settings = current_app.config.get("SCENEWATCH")
    return i18n.locale_or_default(getattr(settings, "default_locale", None))


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


def select_timezone() -> str:
    """The logged-in user's time zone, else the service's default (Asia/Shanghai)."""
    return getattr(getattr(g, "user", None), "timezone", None) or i18n.DEFAULT_TIMEZONE


def get_locale() -> str:
    """The current locale (chosen once per request; the default outside one)."""
    if not has_request_context():
        return _default_locale()
    if "locale" not in g:
        g.locale = select_locale()
    return str(g.locale)


def translate(key: str, locale: str | None = None, **values: Any) -> str:
    """The text for ``key`` in ``locale`` (default: the request's), placeholders filled."""
    return i18n.translate(key, locale or get_locale(), **values)


def label(field: str, value: Any, locale: str | None = None) -> str:
    """A readable name for an enum value; unknown values are shown as they are."""
    return i18n.label(field, value, locale or get_locale())


def field_label(name: str, locale: str | None = None) -> str:
    """The readable name of a dataset or form field (``field.<name>``)."""
    return i18n.field_label(name, locale or get_locale())


def user_zone() -> ZoneInfo:
    """The logged-in user's time zone, else the server's default (Asia/Shanghai)."""
    return i18n.zone(select_timezone())


def format_datetime(value: datetime | str | None, with_zone: bool = True) -> str:
    """``value`` in the viewer's time zone as ``YYYY-MM-DD HH:MM`` (strings pass through)."""
    if value is None or value == "":
        return "—"
    if isinstance(value, str):
        return value.replace("T", " ")[:16]
    if value.tzinfo is None:
        return value.strftime("%Y-%m-%d %H:%M")
    return i18n.format_datetime(value, select_timezone(), with_zone)


class _CatalogDomain(Domain):
    """Flask-Babel's gettext reads the same catalogs (with the English fallback)."""

    def get_translations(self) -> Any:
        return i18n.translations(get_locale())


def _forget_locale() -> None:
    # ``g`` outlives a request when an app context was already pushed (tests, CLI
    # calls into views): choose the locale afresh for every request.
    g.pop("locale", None)


def init_i18n(app: Flask) -> None:
    """Install Flask-Babel, the locale selection and the template helpers on ``app``."""
    for locale in LOCALES:  # fail at start-up, not on the first page view
        i18n.translations(locale)
    babel = Babel(app, locale_selector=get_locale, timezone_selector=select_timezone,
                  default_domain=i18n.DOMAIN, default_translation_directories=str(TRANSLATIONS_DIR))
    babel.domain_instance = _CatalogDomain(str(TRANSLATIONS_DIR), domain=i18n.DOMAIN)
    # Our ``_`` fills ``{name}`` placeholders and picks plural forms by ``n``.
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
