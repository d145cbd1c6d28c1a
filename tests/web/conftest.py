"""Fixtures for the web form: a small real catalog (Hangzhou portal records, harvested
by the real pipeline into the store and the search index), logged-in clients, and an
app with CSRF checks on."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from config.extensions import db, search
from config.settings import Settings

SOURCE = "hangzhou"
PASSWORD = "correct horse battery"
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
TITLE, REGION, FORMAT, FREQUENCY = "资源名称", "所属区县", "数据格式", "更新周期"


def _export() -> list[dict[str, Any]]:
    """The Hangzhou portal export bundled as the sample catalog."""
    from tests.helpers import sample_records

    return sample_records()


def slice_records() -> list[dict[str, Any]]:
    """Real records: the first 150 of the export plus every later traffic (交通) one."""
    rows = _export()
    traffic = [r for r in rows[150:] if "交通" in (r.get(TITLE) or "") + (r.get("摘要") or "")]
    return rows[:150] + traffic


def harvest(records: list[dict[str, Any]], folder: Path, now: datetime = T0) -> None:
    """Apply ``records`` as the source's full snapshot with the real harvest pipeline."""
    from search.harvest import run_harvest

    # Named like the portal's export, so regions are placed in 浙江省 / 杭州市.
    path = folder / f"snapshot-{now:%Y%m%d%H%M}_zhejiang_hangzhou.json"
    path.write_text(json.dumps(records, ensure_ascii=False), encoding="utf-8")
    summary = run_harvest(SOURCE, str(path), fmt="portal-json", now=now)
    assert summary.quarantined == 0 and not summary.index_failures


def current_documents() -> list[dict[str, Any]]:
    """The search documents of every dataset now in the catalog."""
    from search.models import Dataset

    with db.session() as s:
        rows = s.scalars(select(Dataset).where(Dataset.deleted_at.is_(None)).order_by(Dataset.id))
        return [row.to_document() for row in rows]


def text_of(doc: dict[str, Any]) -> str:
    """What full-text search looks at: title, description, tags and themes."""
    words = [doc.get("title"), doc.get("description")]
    words += list(doc.get("tags") or []) + list(doc.get("themes") or [])
    return " ".join(str(w or "") for w in words)


def dataset_path(dataset_id: str) -> str:
    """The dataset page's path as the pages link it (ids hold URLs with ``?``)."""
    return "/datasets/" + quote(dataset_id, safe=":/")


@pytest.fixture
def records() -> list[dict[str, Any]]:
    return slice_records()


@pytest.fixture
def catalog(app: Flask, tmp_path: Path, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The real slice, harvested; returns the documents the index holds."""
    harvest(records, tmp_path)
    documents = current_documents()
    assert len(documents) > 150
    return documents


def store_documents(documents: list[dict[str, Any]], seen_at: datetime) -> None:
    """Write ``documents`` as new versions of their datasets and reindex them.

    For what a portal export cannot carry (resource files with URLs and sizes); it
    writes the rows the harvest pipeline writes: the dataset's latest state, one
    version per distinct content, and the search document."""
    from search.models import CONTENT_FIELDS, Dataset, DatasetVersion

    indexed = []
    with db.session() as s:
        for doc in documents:
            content = {f: doc[f] for f in CONTENT_FIELDS}
            digest = hashlib.sha256(
                json.dumps(content, ensure_ascii=False, sort_keys=True).encode()
            ).hexdigest()
            dataset = s.get(Dataset, doc["id"])
            assert dataset is not None, doc["id"]
            for name, value in content.items():
                setattr(dataset, name, value)
            dataset.content_hash, dataset.last_changed_at = digest, seen_at
            version = DatasetVersion(dataset_id=doc["id"], content_hash=digest, content=content,
                                     quality=doc["quality"], seen_at=seen_at)
            s.add(version)
            s.flush()
            dataset.current_version_id = version.id
            indexed.append(dataset.to_document())
    search.get().index(indexed)


def register(client: FlaskClient, email: str = "researcher@example.org",
             locale: str = "zh") -> None:
    response = client.post("/register", data={"email": email, "password": PASSWORD,
                                              "password2": PASSWORD, "locale": locale,
                                              "timezone": "Asia/Shanghai"})
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]


@pytest.fixture
def user_client(client: FlaskClient) -> FlaskClient:
    """A client logged in as a freshly registered researcher."""
    register(client)
    return client


@pytest.fixture
def csrf_app(settings: Settings) -> Iterator[Flask]:
    """The app as it runs for real: CSRF checks on."""
    from config.app import create_app
    from config.migrate import upgrade
    from tests.template_db import install_store

    install_store(settings.database_url)
    application = create_app(settings, TESTING=True)
    with application.app_context():
        upgrade()
        yield application


def later(days: int) -> datetime:
    return T0 + timedelta(days=days)
