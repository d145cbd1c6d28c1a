"""The message catalog in its two languages, and the choice of language."""

from __future__ import annotations

import re
import string
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from config.extensions import db
from config.i18n import po_path
from search.query_values import OPEN_TYPES, UPDATE_FREQUENCIES
from subscriptions.i18n import label, normalise_locale, translate
from subscriptions.models import User
from tests.web.conftest import PASSWORD, register

ROOT = Path(__file__).resolve().parents[2]
KEY_CALL = re.compile(r"""\b(?:_|t|translate)\(\s*["']([a-z_]+\.[a-zA-Z0-9_.\-]+)["']\s*[,)]""")


def _catalog(locale: str) -> dict[str, str]:
    """key → text of the locale's .po (the forms of a plural message on one line each)."""
    from babel.messages.pofile import read_po

    with po_path(locale).open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    return {(m.id if isinstance(m.id, str) else m.id[0]):
            (m.string if isinstance(m.string, str) else "\n".join(m.string))
            for m in catalog if m.id}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_catalogs_have_the_same_keys_and_placeholders() -> None:
    zh, en = _catalog("zh"), _catalog("en")
    assert set(zh) == set(en)
    for key in en:
        assert zh[key].strip() and en[key].strip(), key
        assert _placeholders(zh[key]) == _placeholders(en[key]), key


def test_every_key_used_in_pages_and_views_exists() -> None:
    files = [
        *ROOT.glob("templates/*.html"),
        *ROOT.glob("subscriptions/views/*.py"),
    ]
    used = {key for path in files for key in KEY_CALL.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 100  # the scan really found the calls
    missing = sorted(used - set(_catalog("en")))
    assert missing == []


def test_keys_built_at_render_time_exist() -> None:
    from subscriptions.views.errors import HANDLED

    catalog = _catalog("en")
    built = [f"error.{code}.{part}" for code in HANDLED for part in ("title", "text")]
    built += [f"count.{k}" for k in ("matched", "added", "removed", "changed", "moved")]
    built += [f"range.{op}" for op in ("gte", "gt", "lte", "lt")]
    built += [f"run.download_{k}" for k in ("added", "changed", "all")]
    built += ["scene.run_done_baseline", "scene.run_done_noop"]
    built += [f"run_state.{s}" for s in ("working", "baseline", "noop", "changed", "error")]
    assert [k for k in built if k not in catalog] == []


def test_every_enum_value_has_words_in_both_languages() -> None:
    for locale in ("zh", "en"):
        catalog = _catalog(locale)
        for value in OPEN_TYPES:
            assert f"open_type.{value}" in catalog
        for value in UPDATE_FREQUENCIES:
            assert f"update_frequency.{value}" in catalog
    assert label("open_type", "unconditional", "zh") == "无条件开放"
    assert label("open_type", "unconditional", "en") == "Unconditionally open"
    assert label("open_type", "conditional", "zh") == "有条件开放"
    assert label("update_frequency", "monthly", "zh") == "每月"
    assert label("update_frequency", "something-new", "zh") == "something-new"  # shown as stored


def test_translate_fills_placeholders_and_falls_back() -> None:
    assert translate("search.total", "en", n="1,234") == "1,234 datasets"
    assert translate("search.total", "zh", n="7") == "共 7 个数据集"
    assert translate("no.such.key", "zh") == "no.such.key"


def test_normalise_locale() -> None:
    assert normalise_locale("zh-CN") == "zh"
    assert normalise_locale("zh_Hans") == "zh"
    assert normalise_locale("en-GB") == "en"
    assert normalise_locale("fr") is None
    assert normalise_locale("") is None


def _lang(client: FlaskClient, path: str = "/login", **headers: str) -> str:
    html = client.get(path, headers=headers).get_data(as_text=True)
    match = re.search(r'<html lang="([^"]+)"', html)
    assert match, html[:200]
    return match.group(1)


def test_default_locale_is_the_configured_one(client: FlaskClient) -> None:
    assert _lang(client) == "zh-CN"
    assert "登录" in client.get("/login").get_data(as_text=True)


def test_accept_language_picks_english(client: FlaskClient) -> None:
    assert _lang(client, **{"Accept-Language": "en-US,en;q=0.9"}) == "en"
    assert _lang(client, **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}) == "zh-CN"


def test_lang_parameter_is_remembered_in_the_session(client: FlaskClient) -> None:
    assert _lang(client, "/login?lang=en") == "en"
    # No parameter, and a browser asking for Chinese: the explicit choice still wins.
    assert _lang(client, "/login", **{"Accept-Language": "zh-CN"}) == "en"
    assert "Log in" in client.get("/login").get_data(as_text=True)
    assert _lang(client, "/login?lang=zh") == "zh-CN"
    assert _lang(client, "/login") == "zh-CN"


def test_user_locale_applies_and_explicit_switch_updates_it(
    app: Flask, client: FlaskClient
) -> None:
    register(client, "en-user@example.org", locale="en")
    client.post("/logout")
    fresh = app.test_client()
    fresh.post("/login", data={"email": "en-user@example.org", "password": PASSWORD})
    assert _lang(fresh, "/scenes", **{"Accept-Language": "zh-CN"}) == "en"
    fresh.get("/scenes?lang=zh")
    with db.session() as s:
        assert s.scalar(select(User.locale).where(User.email == "en-user@example.org")) == "zh"


def test_language_switch_keeps_the_page_and_its_parameters(client: FlaskClient) -> None:
    html = client.get("/login?next=/scenes").get_data(as_text=True)
    assert 'href="/login?next=%2Fscenes&amp;lang=en"' in html
    assert 'hreflang="zh"' in html and 'aria-current="true"' in html
