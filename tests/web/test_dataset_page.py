"""A dataset's page: fields, quality, resources and version history with field diffs."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from flask.testing import FlaskClient

from config.extensions import db, search
from search.models import Dataset
from search.query import parse_query
from subscriptions.views.history import version_history
from tests.web.conftest import dataset_path, harvest, later, store_documents


def test_fields_quality_and_first_version(client: FlaskClient, catalog: list[dict]) -> None:
    doc = catalog[0]
    html = client.get(dataset_path(doc['id'])).get_data(as_text=True)
    assert doc["title"] in html and doc["publisher"] in html and doc["region"] in html
    assert "有条件开放" in html or "无条件开放" in html
    assert f"{doc['quality']['completeness'] * 100:.0f}%" in html
    assert "首次以此内容出现" in html
    assert f'href="{doc["landing_page"]}"' in html


def test_history_shows_what_changed_between_versions(
    client: FlaskClient, catalog: list[dict], records: list[dict], tmp_path: Path
) -> None:
    record = next(r for r in records if r.get("更新周期") == "每年" and r.get("数据格式") == "api")
    doc = next(d for d in catalog if d["landing_page"] == record["详情页网址"])
    second = {**record, "资源名称": record["资源名称"] + "（2024版）", "数据格式": "csv"}
    third = {**second, "更新周期": "每月"}
    for when, changed in ((later(10), second), (later(20), third)):
        harvest([changed if r is record else r for r in records], tmp_path, now=when)
    html = client.get(dataset_path(doc['id']) + "?lang=en").get_data(as_text=True)
    history = re.search(r'<section class="card" id="history">(.*?)</section>', html, re.S).group(1)
    entries = re.findall(
        r'<li class="result">(.*?)</li>\s*(?=<li class="result">|</ol>)', history, re.S
    )
    assert len(entries) == 3
    newest, middle, oldest = entries
    assert "Update frequency" in newest and "Yearly" in newest and "Monthly" in newest
    assert "Title" not in newest
    assert f'<span class="diff-new">{doc["title"]}（2024版）</span>' in middle
    assert '<span class="diff-new">+ csv</span>' in middle
    assert '<span class="diff-old">API</span>' in middle  # the api/data form in words
    assert "First seen with this content." in oldest


def test_resources_are_listed_and_their_changes_shown(
    client: FlaskClient, catalog: list[dict]
) -> None:
    doc = catalog[3]
    url = "https://data.example.org/a.csv"
    second = {**doc, "resources": [{"name": "全量数据", "format": "csv", "url": url, "size": 2048}]}
    third = {**doc, "resources": [{"name": "全量数据（新）", "format": "csv", "url": url, "size": 4096}]}
    store_documents([second], seen_at=later(10))
    store_documents([third], seen_at=later(20))
    html = client.get(dataset_path(doc['id']) + "?lang=en").get_data(as_text=True)
    resources = re.search(r'<table id="resources">(.*?)</table>', html, re.S).group(1)
    assert "全量数据（新）" in resources and "4.0 KiB" in resources and f'href="{url}"' in resources
    history = re.search(r'<section class="card" id="history">(.*?)</section>', html, re.S).group(1)
    assert "+ 全量数据" in history  # added in the second version
    assert '<span class="tag">全量数据（新）</span>' in history  # changed in the third


def test_deleted_and_unknown_datasets(client: FlaskClient, catalog: list[dict]) -> None:
    doc = catalog[5]
    with db.session() as s:
        s.get(Dataset, doc["id"]).deleted_at = datetime(2026, 2, 1, tzinfo=UTC)
    assert "已于 2026-02-01" in client.get(dataset_path(doc['id'])).get_data(as_text=True)
    assert client.get("/datasets/hangzhou:does-not-exist").status_code == 404


def test_unsafe_links_from_the_catalog_are_not_linked(
    client: FlaskClient, catalog: list[dict]
) -> None:
    doc = {
        **catalog[7],
        "landing_page": "javascript:alert(1)",
        "resources": [{"name": "x", "format": "csv", "url": "data:text/html,hi", "size": None}],
    }
    store_documents([doc], seen_at=later(3))
    html = client.get(dataset_path(doc['id'])).get_data(as_text=True)
    assert 'href="javascript:' not in html and 'href="data:' not in html


def test_version_history_orders_newest_first() -> None:
    class V:
        def __init__(self, id: int, day: int, content: dict) -> None:
            self.id, self.seen_at, self.content = (
                id,
                datetime(2026, 1, day, tzinfo=UTC),
                content,
            )

    entries = version_history(
        [V(2, 2, {"title": "b"}), V(1, 1, {"title": "a"}), V(3, 3, {"title": "b"})]
    )
    assert [e["version"].id for e in entries] == [3, 2, 1]
    assert entries[0]["changes"] == []
    assert entries[1]["changes"] == [{"field": "title", "old": "a", "new": "b"}]
    assert entries[2]["changes"] is None


def test_region_path_links_each_level_to_its_search(client: FlaskClient,
                                                    catalog: list[dict]) -> None:
    doc = next(d for d in catalog if d["region"] == "滨江区")
    assert doc["region_path"] == ["浙江省", "杭州市", "滨江区"]
    html = client.get(dataset_path(doc["id"])).get_data(as_text=True)
    path = re.search(r'<span id="region-path">(.*?)</span>', html, re.S).group(1)
    links = re.findall(r'<a href="([^"]+)">([^<]+)</a>', path)
    assert [name for _, name in links] == doc["region_path"]
    assert links[1][0] == "/?" + urlencode({"f.region": "杭州市"})  # the search page
    assert client.get(links[1][0]).status_code == 200
    # The city's search holds the district's dataset.
    assert doc["id"] in set(search.get().iter_ids(parse_query({"filters": {"region": ["杭州市"]}})))
