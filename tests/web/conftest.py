"""Fixtures for the web form: a small real catalog (Hangzhou portal records) in the
store and the search index, logged-in clients, and an app with CSRF checks on."""
from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from config.extensions import db, search
from config.settings import Settings
from tests.conftest import SHARED_DATA

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
HANGZHOU = SHARED_DATA / "cnpds-china-portals" / "datacrawler" / "zhejiang_hangzhou.json.gz"
PASSWORD = "correct horse battery"
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=timezone.utc)

# The portal's own words for open type and update frequency → the catalog's codes.
OPEN_TYPES = {"完全开放": "unconditional", "无条件开放": "unconditional", "登录开放": "conditional",
              "申请开放": "conditional", "有条件开放": "conditional", "不予开放": "restricted"}
FREQUENCIES = {"分钟级": "realtime", "小时级": "hourly", "每日": "daily", "每周": "weekly", "每月": "monthly",
               "每季度": "quarterly", "每半年": "semiannual", "每年": "yearly", "不更新": "irregular"}
KEY_FIELDS = ("title", "description", "publisher", "region", "formats", "open_type",
              "update_frequency", "created", "modified", "record_count", "landing_page")


def _raw_records() -> list[dict[str, Any]]:
    """Real records: the first 150 of the Hangzhou export plus every traffic (交通) one."""
    if not HANGZHOU.exists():
        pytest.skip(f"needs {HANGZHOU} (run by .ci/run)")
    with gzip.open(HANGZHOU, "rt", encoding="utf-8") as handle:
        rows = json.load(handle)
    traffic = [r for r in rows[150:] if "交通" in (r.get("资源名称") or "") + (r.get("摘要") or "")]
    return rows[:150] + traffic


def document_from(record: dict[str, Any]) -> dict[str, Any]:
    """A search document (the shape of ``Dataset.to_document()``) from one portal record."""
    url = record.get("详情页网址") or ""
    native = (re.search(r"source_id=(\d+)", url) or re.search(r"(.+)", record["资源名称"]))[1]  # type: ignore[index]
    count = (record.get("数据量") or "").replace(",", "")
    content: dict[str, Any] = {
        "title": record.get("资源名称") or "", "description": record.get("摘要") or "",
        "publisher": record.get("发布部门") or "", "region": record.get("所属区县") or "",
        "themes": [], "tags": [], "formats": [record["数据格式"].lower()] if record.get("数据格式") else [],
        "machine_readable": record.get("数据格式") in ("api", "data"),
        "open_type": OPEN_TYPES.get(record.get("开放等级") or "", ""),
        "update_frequency": FREQUENCIES.get(record.get("更新周期") or "", ""),
        "license": "", "created": record.get("发布时间"), "modified": record.get("更新时间"),
        "record_count": int(count) if count.isdigit() else None, "resources": [], "landing_page": url,
    }
    present = sum(1 for f in KEY_FIELDS if content.get(f) not in (None, "", []))
    quality = {"completeness": round(present / len(KEY_FIELDS), 3), "timeliness": 1.0, "accuracy": None}
    return {"id": f"hangzhou:{native}", "source": "hangzhou", **content, "quality": quality}


def content_hash(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, ensure_ascii=False, sort_keys=True).encode()).hexdigest()


def store_documents(documents: list[dict[str, Any]], seen_at: datetime = T0) -> None:
    """Write Dataset rows (one version each) and index the documents."""
    from search.models import CONTENT_FIELDS, Dataset, DatasetVersion

    with db.session() as s:
        for doc in documents:
            content = {f: doc[f] for f in CONTENT_FIELDS}
            digest = content_hash(content)
            dataset = s.get(Dataset, doc["id"])
            if dataset is None:
                dataset = Dataset(id=doc["id"], source=doc["source"], native_id=doc["id"].split(":", 1)[1],
                                  content_hash=digest, quality=doc["quality"], first_seen_at=seen_at,
                                  last_seen_at=seen_at, last_changed_at=seen_at, **content)
                s.add(dataset)
            else:
                for name, value in content.items():
                    setattr(dataset, name, value)
                dataset.content_hash, dataset.last_changed_at, dataset.last_seen_at = digest, seen_at, seen_at
            version = DatasetVersion(dataset_id=doc["id"], content_hash=digest, content=content,
                                     quality=doc["quality"], seen_at=seen_at)
            s.add(version)
            s.flush()
            dataset.current_version_id = version.id
    search.get().index(documents)


@pytest.fixture
def catalog(app: Flask) -> list[dict[str, Any]]:
    """The real slice, deduplicated by id, in the store and the index."""
    documents = list({d["id"]: d for d in map(document_from, _raw_records())}.values())
    store_documents(documents)
    return documents


def register(client: FlaskClient, email: str = "researcher@example.org", locale: str = "zh") -> None:
    response = client.post("/register", data={"email": email, "password": PASSWORD, "password2": PASSWORD,
                                              "locale": locale, "timezone": "Asia/Shanghai"})
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

    application = create_app(settings, TESTING=True)
    with application.app_context():
        upgrade()
        yield application


def later(days: int) -> datetime:
    return T0 + timedelta(days=days)
