"""A dataset's page: fields, quality, resources and version history with field diffs."""
from __future__ import annotations

import re
from datetime import datetime, timezone

from flask.testing import FlaskClient

from config.extensions import db
from search.models import Dataset
from subscriptions.views.history import version_history
from tests.web.conftest import later, store_documents


def test_fields_quality_and_first_version(client: FlaskClient, catalog: list[dict]) -> None:
    doc = catalog[0]
    html = client.get(f"/datasets/{doc['id']}").get_data(as_text=True)
    assert doc["title"] in html and doc["publisher"] in html and doc["region"] in html
    assert "有条件开放" in html or "无条件开放" in html
    assert f"{doc['quality']['completeness'] * 100:.0f}%" in html
    assert "首次以此内容出现" in html
    assert f'href="{doc["landing_page"]}"' in html


def test_history_shows_what_changed_between_versions(client: FlaskClient, catalog: list[dict]) -> None:
    doc = catalog[3]
    second = {**doc, "title": doc["title"] + "（2024版）", "formats": ["csv", "json"],
              "resources": [{"name": "全量数据", "format": "csv", "url": "https://data.example.org/a.csv", "size": 2048}]}
    third = {**second, "update_frequency": "monthly",
             "resources": [{"name": "全量数据（新）", "format": "csv", "url": "https://data.example.org/a.csv", "size": 4096}]}
    store_documents([second], seen_at=later(10))
    store_documents([third], seen_at=later(20))
    html = client.get(f"/datasets/{doc['id']}?lang=en").get_data(as_text=True)
    history = re.search(r'<section class="card" id="history">(.*?)</section>', html, re.S).group(1)
    entries = re.findall(r'<li class="result">(.*?)</li>\s*(?=<li class="result">|</ol>)', history, re.S)
    assert len(entries) == 3
    newest, middle, oldest = entries
    assert "Update frequency" in newest and "Yearly" in newest and "Monthly" in newest
    assert "全量数据（新）" in newest and "Title" not in newest
    assert f'<span class="diff-new">{doc["title"]}（2024版）</span>' in middle
    assert "+ csv" in middle and "+ json" in middle and "+ 全量数据" in middle
    assert "First seen with this content." in oldest
    assert "4.0 KiB" in html  # the current resource, with its size


def test_deleted_and_unknown_datasets(client: FlaskClient, catalog: list[dict]) -> None:
    doc = catalog[5]
    with db.session() as s:
        s.get(Dataset, doc["id"]).deleted_at = datetime(2026, 2, 1, tzinfo=timezone.utc)
    assert "已于 2026-02-01" in client.get(f"/datasets/{doc['id']}").get_data(as_text=True)
    assert client.get("/datasets/hangzhou:does-not-exist").status_code == 404


def test_unsafe_links_from_the_catalog_are_not_linked(client: FlaskClient, catalog: list[dict]) -> None:
    doc = {**catalog[7], "landing_page": "javascript:alert(1)",
           "resources": [{"name": "x", "format": "csv", "url": "data:text/html,hi", "size": None}]}
    store_documents([doc], seen_at=later(3))
    html = client.get(f"/datasets/{doc['id']}").get_data(as_text=True)
    assert 'href="javascript:' not in html and 'href="data:' not in html


def test_version_history_orders_newest_first() -> None:
    class V:
        def __init__(self, id: int, day: int, content: dict) -> None:
            self.id, self.seen_at, self.content = id, datetime(2026, 1, day, tzinfo=timezone.utc), content

    entries = version_history([V(2, 2, {"title": "b"}), V(1, 1, {"title": "a"}), V(3, 3, {"title": "b"})])
    assert [e["version"].id for e in entries] == [3, 2, 1]
    assert entries[0]["changes"] == []
    assert entries[1]["changes"] == [{"field": "title", "old": "a", "new": "b"}]
    assert entries[2]["changes"] is None
