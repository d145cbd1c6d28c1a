"""The admin pages: sources, harvest history, quarantine; admins only (two users,
logged out, production mode)."""
from __future__ import annotations

import dataclasses
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config.extensions import db
from config.settings import Settings
from search.source_runs import harvest_source
from search.sources import SourceSpec, add_source
from subscriptions.accounts import find_user
from tests.helpers import sample_records, write_snapshot
from tests.web.conftest import register

TOKEN = "Bearer admin-page-token-0123456789"


def _grant(email: str) -> None:
    with db.session() as s:
        user = find_user(s, email)
        assert user is not None
        user.is_admin = True


@pytest.fixture
def source_id(app: Flask, tmp_path: Path) -> int:
    """A source with an ok harvest and then a suspect one that quarantined a cut record."""
    path = tmp_path / "catalog.json"
    write_snapshot(path, sample_records()[:100])
    with db.session() as s:
        source = add_source(s, SourceSpec(name="hz", location=str(path), schedule="daily",
                                          timezone="Asia/Shanghai",
                                          headers=(f"Authorization: {TOKEN}",)))
        source_id = source.id
    assert harvest_source("hz").status == "ok"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert harvest_source("hz").status == "suspect"
    return source_id


def _pages(source_id: int) -> list[str]:
    return ["/admin/sources", f"/admin/sources/{source_id}", f"/admin/sources/{source_id}/quarantine"]


def test_admin_sees_sources_history_and_quarantine(client: FlaskClient, source_id: int) -> None:
    register(client, "admin@example.org", locale="en")
    _grant("admin@example.org")
    listing = client.get("/admin/sources?lang=en").get_data(as_text=True)
    assert 'data-source="hz"' in listing and "suspect" in listing
    assert 'href="/admin/sources"' in client.get("/?lang=en").get_data(as_text=True)  # in the nav

    page = client.get(f"/admin/sources/{source_id}?lang=en")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="suspect"' in html and "--accept-removals" in html
    assert len(re.findall(r'<tr data-harvest="\d+">', html)) == 2
    assert "Authorization: ****6789" in html and "admin-page-token" not in html
    assert "cut short" in html  # the quarantine summary names the reason

    quarantine = client.get(f"/admin/sources/{source_id}/quarantine?lang=en").get_data(as_text=True)
    rows = re.findall(r'<tr data-record="\d+">', quarantine)
    assert len(rows) == 1 and "cut short" in quarantine

    zh = client.get(f"/admin/sources/{source_id}?lang=zh").get_data(as_text=True)
    assert "采集记录" in zh and "疑似不完整" in zh


@pytest.mark.parametrize("production", [False, True])
def test_others_get_404_or_403(app: Flask, settings: Settings, client: FlaskClient, source_id: int,
                               production: bool) -> None:
    if production:
        app.config["SCENEWATCH"] = dataclasses.replace(settings, env="production")
    for path in _pages(source_id):
        assert client.get(path).status_code == 404, path  # logged out: not advertised
    register(client, "someone@example.org")
    for path in _pages(source_id):
        response = client.get(path)
        assert response.status_code == 403, path
        page = response.get_data(as_text=True)
        # Nothing of the source shows: not its name where the admin page puts it, not its
        # location, not its header (a bare "hz" can occur inside random tokens on the page).
        assert 'data-source="hz"' not in page and "catalog.json" not in page, path
        assert "admin-page-token" not in page and "****6789" not in page, path
    assert 'href="/admin/sources"' not in client.get("/").get_data(as_text=True)


@pytest.mark.parametrize("path", [
    "/admin/sources/999", "/admin/sources/99999999999999999999999", "/admin/sources/0/quarantine",
    "/admin/sources/{id}/quarantine?page=0", "/admin/sources/{id}/quarantine?page=abc",
    "/admin/sources/{id}/quarantine?page=99", "/admin/sources/{id}/quarantine?harvest=999",
    "/admin/sources/{id}/quarantine?harvest=x%00", "/admin/sources/-1",
])
def test_bad_ids_are_404_for_admins_too(client: FlaskClient, source_id: int, path: str) -> None:
    register(client, "admin@example.org")
    _grant("admin@example.org")
    response = client.get(path.format(id=source_id))
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_quarantine_of_another_sources_harvest_is_404(client: FlaskClient, source_id: int,
                                                      tmp_path: Path) -> None:
    other = write_snapshot(tmp_path / "other.json", sample_records()[:5])
    with db.session() as s:
        add_source(s, SourceSpec(name="other", location=other))
    record = harvest_source("other").record
    register(client, "admin@example.org")
    _grant("admin@example.org")
    assert client.get(f"/admin/sources/{source_id}/quarantine?harvest={record['id']}").status_code == 404


def _chart(html: str) -> ET.Element:
    found = re.search(r'<div class="card" id="datasets-chart">\s*(<svg.*?</svg>)', html, re.S)
    assert found, "no dataset chart on the page"
    return ET.fromstring(found.group(1))


def test_source_page_charts_its_dataset_count_over_harvests(client: FlaskClient, app: Flask,
                                                             tmp_path: Path) -> None:
    from sqlalchemy import func, select

    from search.models import Dataset

    records = sample_records()[:130]
    path = tmp_path / "catalog.json"
    write_snapshot(path, records[:100])
    with db.session() as s:
        source_id = add_source(s, SourceSpec(name="grow", location=str(path), schedule="daily",
                                             timezone="UTC")).id
    register(client, "admin@example.org", locale="en")
    _grant("admin@example.org")
    before = client.get(f"/admin/sources/{source_id}?lang=en").get_data(as_text=True)
    assert 'id="datasets-chart"' in before and "<svg" not in before  # no harvest yet

    statuses = []
    for snapshot in (records[:100], records[:120], records[10:120]):  # 100, +20, -10
        write_snapshot(path, snapshot)
        statuses.append(harvest_source("grow").status)
    path.unlink()
    statuses.append(harvest_source("grow").status)  # applies nothing: not plotted
    assert statuses == ["ok", "ok", "ok", "error"]
    with db.session() as s:
        live = s.scalar(select(func.count()).select_from(Dataset)
                        .where(Dataset.source == "grow", Dataset.deleted_at.is_(None)))
    assert live == 110

    ns = "{http://www.w3.org/2000/svg}"
    svg = _chart(client.get(f"/admin/sources/{source_id}?lang=en").get_data(as_text=True))
    assert svg.get("role") == "img"
    assert svg.find(f"{ns}title").text == "Datasets of the source after each harvest"
    desc = svg.find(f"{ns}desc").text
    assert desc.startswith("3 harvests") and "100 datasets after the first, 110 after the latest" in desc
    dots = svg.findall(f"{ns}circle")
    assert [d.find(f"{ns}title").text.rsplit(": ", 1)[1] for d in dots] == ["100", "120", str(live)]
    heights = [float(d.get("cy")) for d in dots]
    assert heights[1] < heights[2] < heights[0]  # more datasets are drawn higher

    zh = _chart(client.get(f"/admin/sources/{source_id}?lang=zh").get_data(as_text=True))
    assert zh.find(f"{ns}title").text == "每次采集后该来源的数据集数量"
    assert "共 3 次采集" in zh.find(f"{ns}desc").text
