"""The one message catalog: every word a user reads, in Chinese and English.

Web pages, emails (text and html), the Atom feed, owner notices and confirmation mails
all take their text from the gettext catalogs in ``config/translations/<locale>/
LC_MESSAGES/messages.po`` (compiled to ``.mo`` by the setup step). Message ids are
stable keys (``removed_reason.no_longer_matches``) rather than English sentences, so a
rewording never orphans a translation; ``{name}`` placeholders are filled with
:meth:`str.format`. Plural messages have one form per plural category of the locale
(English two, Chinese one) and are chosen by the ``n`` value.

Nothing here needs Flask: a worker or a plain script renders an email with
``translate(key, locale)`` and :func:`format_datetime` in the reader's time zone.
See the README's development notes for how to add a string.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

log = logging.getLogger("scenewatch.i18n")

LOCALES: tuple[str, ...] = ("zh", "en")
DEFAULT_LOCALE = "zh"
DOMAIN = "messages"
TRANSLATIONS_DIR = Path(__file__).with_name("translations")
DEFAULT_TIMEZONE = "Asia/Shanghai"


def normalise_locale(value: str | None) -> str | None:
    """``zh``/``zh-CN``/``zh_Hans`` → ``zh``, ``en-GB`` → ``en``; None for anything else."""
    if not value:
        return None
    head = value.strip().lower().replace("_", "-").split("-", 1)[0]
    return head if head in LOCALES else None


def locale_or_default(value: str | None, default: str = DEFAULT_LOCALE) -> str:
    """A supported locale for ``value`` (``default`` when it names none)."""
    return normalise_locale(value) or normalise_locale(default) or DEFAULT_LOCALE


def po_path(locale: str) -> Path:
    """The catalog source of ``locale``."""
    return TRANSLATIONS_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def _compiled(locale: str) -> Translations:
    po = po_path(locale)
    mo = po.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= po.stat().st_mtime:
        with mo.open("rb") as handle:
            return Translations(handle, domain=DOMAIN)
    # Not compiled yet (a plain ``pip install``), or the .po was edited since: compile
    # it in memory so what is shown is never older than the catalog.
    log.debug("compiling %s in memory (no up-to-date .mo)", po)
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale, domain=DOMAIN)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@cache
def translations(locale: str) -> Translations:
    """The compiled catalog of ``locale``; missing messages fall back to English."""
    locale = locale_or_default(locale)
    loaded = _compiled(locale)
    if locale != "en":
        loaded.add_fallback(_compiled("en"))
    return loaded


def _count(value: Any) -> int | None:
    """``n`` as a number for choosing a plural form ("1,234" counts as 1234)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    try:
        return int(str(value).replace(",", "").strip())
    except ValueError:
        return None


def translate(key: str, locale: str | None = None, **values: Any) -> str:
    """The text for ``key`` in ``locale`` (English, then the key itself, as fallbacks),
    with ``{name}`` placeholders filled from ``values``. A plural message takes its
    form from ``n``."""
    catalog = translations(locale_or_default(locale))
    text = None
    count = _count(values["n"]) if "n" in values else None
    if count is not None:
        plural = catalog.ngettext(key, key, count)
        if plural != key:
            text = plural
    if text is None:
        text = catalog.gettext(key)
    if values:
        try:
            return text.format(**values)
        except (KeyError, IndexError, ValueError):
            return text  # a bad placeholder in a catalog must not break the page
    return text


def ngettext(key: str, plural_key: str, n: int, locale: str | None = None, **values: Any) -> str:
    """The plural form of ``key`` for ``n`` (``plural_key`` names the plural for
    extraction; the catalog holds every form under ``key``). ``{n}`` is filled in."""
    return translate(key, locale, n=n, **values)


def has_message(key: str, locale: str = "en") -> bool:
    """True when the catalog of ``locale`` has ``key``."""
    catalog = translations(locale_or_default(locale))
    return catalog.gettext(key) != key or catalog.ngettext(key, key, 2) != key


def label(field: str, value: Any, locale: str | None = None) -> str:
    """A readable name for an enum value (``label("open_type", "conditional")``);
    unknown values are shown as they are."""
    if value is None or value == "":
        return "—"
    key = f"{field}.{str(value).lower() if isinstance(value, bool) else value}"
    text = translate(key, locale)
    return str(value) if text == key else text


def field_label(name: str, locale: str | None = None) -> str:
    """The readable name of a dataset or form field (``field.<name>``); unknown fields
    show their own name."""
    text = translate(f"field.{name}", locale)
    return name if text == f"field.{name}" else text


def zone(name: str | None) -> ZoneInfo:
    """The time zone ``name``; UTC for an empty or unknown name."""
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def parse_when(value: datetime | str | None) -> datetime | None:
    """A datetime from a datetime or an ISO string (naive means UTC); None if unreadable."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def format_datetime(value: datetime | str | None, tz_name: str | None,
                    with_zone: bool = True) -> str:
    """``value`` in the reader's time zone as ``YYYY-MM-DD HH:MM`` plus the zone's
    abbreviation (``CST``, ``UTC``); unreadable strings are shown as they are."""
    when = parse_when(value)
    if when is None:
        return "—" if value in (None, "") else str(value)
    local = when.astimezone(zone(tz_name))
    text = local.strftime("%Y-%m-%d %H:%M")
    return f"{text} {local.tzname()}" if with_zone else text


def helpers(locale: str, tz_name: str | None) -> dict[str, Callable[..., str]]:
    """Template helpers bound to one reader: ``_``/``t``, ``ngettext``, ``label``,
    ``field_label`` and ``when`` (a time in the reader's zone)."""

    def _(key: str, **values: Any) -> str:
        return translate(key, locale, **values)

    def plural(key: str, plural_key: str, n: int, **values: Any) -> str:
        return ngettext(key, plural_key, n, locale, **values)

    return {
        "_": _, "t": _, "ngettext": plural,
        "label": lambda field, value: label(field, value, locale),
        "field_label": lambda name: field_label(str(name), locale),
        "when": lambda value, with_zone=True: format_datetime(value, tz_name, with_zone),
    }
