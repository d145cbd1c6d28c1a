"""One message catalog for every surface: one diff, shown on the run page, mailed
(text and html) and published in the Atom feed, uses the same words in Chinese and
in English, correct plural forms, and the owner's time zone."""
from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree as ET

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config.extensions import db
from notifier.delivery import deliver_notification
from notifier.lifecycle import create_notifications
from notifier.mailer import list_outbox, read_outbox_message
from subscriptions.accounts import find_user
from subscriptions.models import SceneRun
from subscriptions.scenes import create_scene
from tests.web.conftest import register

FINISHED = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
SHANGHAI_TIME = "2026-03-02 09:00 CST"
# The shared terms of this diff, and the words that had drifted apart before.
TERMS = {
    "zh": {"reason": "不再符合条件", "publisher": "发布机构", "added": "新增", "changed": "变更"},
    "en": {"reason": "no longer matches", "publisher": "Publisher", "added": "added", "changed": "changed"},
}
DRIFTED = {"zh": ("不再匹配", "数据提供方"), "en": ("(s)", "1 datasets", "1 attempts")}
ONE_MATCH = {"zh": "共匹配 1 个数据集", "en": "1 dataset matches now"}


def _document(scene_id: int, run_id: int) -> dict:
    return {
        "scene": {"id": scene_id, "name": "杭州交通"},
        "run": {"id": run_id, "state": "changed", "scheduled_for": (FINISHED - timedelta(minutes=1)).isoformat(),
                "started_at": (FINISHED - timedelta(minutes=1)).isoformat(), "finished_at": FINISHED.isoformat()},
        "counts": {"matched": 1, "added": 1, "removed": 1, "changed": 1, "moved": 0},
        "added": [{"id": "hz:1", "title": "公交线路", "publisher": "杭州市交通运输局", "region": "杭州市",
                   "formats": ["csv"], "landing_page": "https://data.example.cn/ds/1", "modified": "2026-03-01"}],
        "removed": [{"id": "hz:2", "title": "出租车站点", "reason": "no_longer_matches",
                     "landing_page": "https://data.example.cn/ds/2"}],
        "changed": [{"id": "hz:3", "title": "地铁客流", "landing_page": "https://data.example.cn/ds/3",
                     "changes": [{"field": "publisher", "old": "杭州地铁", "new": "杭州市地铁集团"}]}],
        "moved": [],
        "links": {"scene": f"https://scenewatch.example/scenes/{scene_id}"},
    }


def _surfaces(app: Flask, client: FlaskClient, locale: str) -> dict[str, str]:
    """The run page, the delivered email's text and html parts, and the Atom feed."""
    address = f"reader-{locale}@example.org"
    register(client, address, locale=locale)  # time zone Asia/Shanghai
    settings = app.config["SCENEWATCH"]
    with db.session() as session:
        owner = find_user(session, address)
        assert owner is not None
        scene = create_scene(session, owner, name="杭州交通", query={}, schedule="manual",
                             email=address, email_verified=True).scene
        run = SceneRun(scene_id=scene.id, scheduled_for=FINISHED - timedelta(minutes=1),
                       started_at=FINISHED - timedelta(minutes=1), finished_at=FINISHED, state="changed",
                       matched=1, added=1, removed=1, changed=1, moved=0)
        session.add(run)
        session.flush()
        run.diff = _document(scene.id, run.id)
        (notification,) = create_notifications(session, scene, run, run.diff, now=FINISHED)
        scene_id, run_id, notification_id, token = scene.id, run.id, notification.id, scene.feed_token
    assert deliver_notification(notification_id, FINISHED, settings=settings) == "sent"
    (entry,) = list_outbox(settings, keep=lambda e: e.to == address)
    mail = read_outbox_message(settings, entry.key)
    assert mail is not None
    page = client.get(f"/scenes/{scene_id}/runs/{run_id}")
    assert page.status_code == 200
    feed = client.get(f"/feeds/{token}.atom")
    assert feed.status_code == 200
    return {"web": page.get_data(as_text=True), "email text": mail.text,
            "email html": re.sub(r"<[^>]+>", " ", mail.html), "feed": feed.get_data(as_text=True)}


@pytest.mark.parametrize("locale", ["zh", "en"])
def test_one_diff_reads_the_same_on_every_surface(app: Flask, client: FlaskClient, locale: str) -> None:
    surfaces = _surfaces(app, client, locale)
    terms = TERMS[locale]
    for name, text in surfaces.items():
        assert terms["reason"] in text, f"{name}: removal reason"
        for drifted in DRIFTED[locale]:
            assert drifted not in text, f"{name}: {drifted!r}"
    # The changed field's name: the page, both mail parts and the feed entry.
    for name in ("web", "email text", "email html", "feed"):
        assert terms["publisher"] in surfaces[name], f"{name}: field name"
    # Section words of the feed entry and the mail subject line come from the same catalog.
    assert terms["added"] in surfaces["feed"] and terms["changed"] in surfaces["feed"]
    # Plural forms: one matching dataset, one attempt.
    assert ONE_MATCH[locale] in surfaces["email text"] and ONE_MATCH[locale] in surfaces["email html"]
    attempt = "已尝试 1 次" if locale == "zh" else "1 attempt"
    assert attempt in surfaces["web"]
    # Times in the owner's zone (Asia/Shanghai) on the page and in the mail; the feed
    # carries the same instant as an RFC 3339 UTC stamp.
    for name in ("web", "email text", "email html"):
        assert SHANGHAI_TIME in surfaces[name], f"{name}: time in the owner's zone"
    entry = ET.fromstring(surfaces["feed"].encode()).find("{http://www.w3.org/2005/Atom}entry")
    assert entry is not None
    assert entry.findtext("{http://www.w3.org/2005/Atom}updated") == "2026-03-02T01:00:00Z"


def test_english_plurals_follow_the_count() -> None:
    from config.i18n import translate

    assert translate("search.total", "en", n=1) == "1 dataset"
    assert translate("search.total", "en", n=2) == "2 datasets"
    assert translate("channel.resumed", "en", n=1) == "Unmuted: 1 held notification will be sent now."
    assert translate("channel.resumed", "en", n=3) == "Unmuted: 3 held notifications will be sent now."
    assert translate("search.total", "zh", n=1) == "共 1 个数据集"
    assert translate("search.total", "zh", n=2) == "共 2 个数据集"


def test_catalogs_are_complete_and_compile(tmp_path) -> None:
    """Every message the code uses is in both catalogs, translated; both compile."""
    import subprocess
    import sys
    from pathlib import Path

    from babel.messages.mofile import read_mo
    from babel.messages.pofile import read_po

    from config.i18n import LOCALES, po_path

    root = Path(__file__).resolve().parents[1]
    check = subprocess.run([sys.executable, "scripts/messages.py", "--check"], cwd=root,
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    for locale in LOCALES:
        target = tmp_path / f"{locale}.mo"
        subprocess.run([str(Path(sys.executable).with_name("pybabel")), "compile", "-i",
                        str(po_path(locale)), "-o", str(target)], check=True, capture_output=True)
        with target.open("rb") as compiled, po_path(locale).open("rb") as source:
            ids = [{m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
                   for catalog in (read_mo(compiled), read_po(source))]
            assert ids[0] == ids[1] and len(ids[0]) > 300
