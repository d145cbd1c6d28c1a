"""The scene's Atom feed: valid XML, one entry per changed run, newest first."""
from __future__ import annotations

from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

import pytest

from config.extensions import db
from tests.notifier.downloads_support import (
    add_run,
    add_scene,
    add_user,
    init_store,
    make_settings,
    web_app,
)

NS = {"a": "http://www.w3.org/2005/Atom"}


@pytest.fixture
def settings(tmp_path: Path):
    settings = make_settings(tmp_path)
    init_store(settings)
    return settings


@pytest.fixture
def runs(settings) -> dict[str, Any]:
    with db.session() as s:
        scene = add_scene(s, add_user(s), name="北京 企业名单 <重要>", token="tok-abc_123")
        add_run(s, scene, {}, state="baseline", hours=0)
        first = add_run(s, scene, {
            "added": [{"id": "bj:1", "title": "中关村新三板企业名单",
                       "landing_page": "http://data.beijing.gov.cn/zyml/1.htm"}],
            "removed": [{"id": "bj:2", "title": "旧名单", "reason": "deleted_from_catalog"}],
        }, hours=1)
        add_run(s, scene, {}, state="noop", hours=2)
        second = add_run(s, scene, {
            "changed": [{"id": "bj:1", "title": "中关村新三板企业名单\x01",
                         "changes": [{"field": "modified", "old": "2024-01-01",
                                      "new": "2024-02-01"}]}],
            "added": [{"id": f"bj:{n}", "title": f"数据集 {n}"} for n in range(10, 35)],
        }, hours=3)
        add_run(s, scene, {}, state="error", hours=4)
        other = add_scene(s, add_user(s, "b@example.org", locale="en"), name="English scene",
                          token="tok-en")
        add_run(s, other, {"moved": [{"from": "a:1", "to": "b:1", "title": "Bus stops"}]}, hours=1)
        return {"scene_id": scene.id, "first": first.id, "second": second.id}


def test_feed_lists_changed_runs_newest_first(settings, runs) -> None:
    client = web_app(settings).test_client()
    response = client.get("/feeds/tok-abc_123.atom")
    assert response.status_code == 200 and response.mimetype == "application/atom+xml"
    assert response.headers["X-Robots-Tag"].startswith("noindex")
    root = ET.fromstring(response.get_data())
    assert root.tag == "{http://www.w3.org/2005/Atom}feed"
    assert root.findtext("a:title", namespaces=NS) == "scenewatch: 北京 企业名单 <重要>"
    base = f"http://scenewatch.test/scenes/{runs['scene_id']}"
    assert root.findtext("a:id", namespaces=NS) == base
    self_link = root.find("a:link[@rel='self']", NS)
    assert self_link is not None
    assert self_link.get("href") == "http://scenewatch.test/feeds/tok-abc_123.atom"

    entries = root.findall("a:entry", NS)
    assert [e.findtext("a:id", namespaces=NS) for e in entries] == [
        f"{base}/runs/{runs['second']}", f"{base}/runs/{runs['first']}"]
    newest, older = entries
    assert newest.findtext("a:title", namespaces=NS) == "北京 企业名单 <重要>: 25 新增 · 1 变更"
    assert newest.find("a:link", NS).get("href") == f"{base}/runs/{runs['second']}"
    assert newest.findtext("a:updated", namespaces=NS) == "2024-05-01T11:00:03Z"
    assert root.findtext("a:updated", namespaces=NS) == "2024-05-01T11:00:03Z"
    assert {c.get("term") for c in newest.findall("a:category", NS)} == {"added", "changed"}
    html = newest.findtext("a:content", namespaces=NS)
    assert newest.find("a:content", NS).get("type") == "html"
    assert "中关村新三板企业名单 (更新日期)" in html and "另有 5 项" in html
    older_html = older.findtext("a:content", namespaces=NS)
    assert '<a href="http://data.beijing.gov.cn/zyml/1.htm">中关村新三板企业名单</a>' in older_html
    assert "旧名单 (已从目录删除)" in older_html


def test_feed_in_the_owners_language_and_conditional(settings, runs) -> None:
    client = web_app(settings).test_client()
    response = client.get("/feeds/tok-en.atom")
    root = ET.fromstring(response.get_data())
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    entry = root.find("a:entry", NS)
    assert entry.findtext("a:title", namespaces=NS) == "English scene: 1 moved"
    assert "Bus stops (a:1 → b:1)" in entry.findtext("a:content", namespaces=NS)
    again = client.get("/feeds/tok-en.atom", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304


def test_feed_of_a_scene_without_changes_and_unknown_tokens(settings) -> None:
    with db.session() as s:
        add_scene(s, add_user(s), name="空", token="quiet")
    client = web_app(settings).test_client()
    root = ET.fromstring(client.get("/feeds/quiet.atom").get_data())
    assert root.findall("a:entry", NS) == [] and root.findtext("a:updated", namespaces=NS)
    assert client.get("/feeds/nope.atom").status_code == 404
    assert client.get("/feeds/quiet").status_code == 404
