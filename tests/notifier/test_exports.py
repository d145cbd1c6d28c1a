"""CSV / XLSX / JSON exports of a scene's results: contents, Chinese text, access rules."""
from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from config.extensions import db
from notifier.tokens import make_download_token
from subscriptions.downloads.exports import HEADER, Batch, iter_csv, stream_export
from subscriptions.downloads.views import content_disposition, export_url
from tests.notifier.downloads_support import (
    add_dataset,
    add_run,
    add_scene,
    add_user,
    init_store,
    make_settings,
    web_app,
)


def _login_token(user_id: int) -> str:
    """A login session of ``user_id``, as logging in makes it."""
    from subscriptions.models import User
    from subscriptions.sessions import open_session

    with db.session() as s:
        user = s.get(User, user_id)
        assert user is not None
        return open_session(s, user)


def _started(run_id: int) -> datetime:
    """The run's start (what its download links bind), or any time for a missing run."""
    from subscriptions.models import SceneRun

    with db.session() as s:
        run = s.get(SceneRun, run_id)
        return run.started_at if run is not None else datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def settings(tmp_path: Path):
    settings = make_settings(tmp_path)
    init_store(settings)
    return settings


@pytest.fixture
def scene(settings) -> dict[str, Any]:
    """A scene with three members (one with a formula-like title) and a changed run."""
    with db.session() as s:
        owner = add_user(s)
        stranger = add_user(s, "someone@example.org")
        scene = add_scene(s, owner, name="杭州 交通/公交")
        add_dataset(s, "hz:001", scene, title="杭州市公共交通线路数据", formats=["csv", "json"],
                    record_count=1241609, machine_readable=True, tags=["公交", "线路"],
                    resources=[{"name": "线路", "format": "csv", "url": "https://x/1.csv",
                                "size": 10}])
        add_dataset(s, "hz:002", scene, title="=1+2 公交站点", publisher="杭州市交通运输局")
        add_dataset(s, "hz:003", scene, title="出租车\x0b营运数据", description="含控制字符")
        add_dataset(s, "hz:999", None, title="不在场景里")
        run = add_run(s, scene, {"added": [{"id": "hz:002", "title": "=1+2 公交站点"}],
                                 "changed": [{"id": "hz:003", "title": "出租车", "changes": []}]})
        return {"scene_id": scene.id, "owner_id": owner.id, "stranger_id": stranger.id,
                "run_id": run.id}


def _csv_rows(body: bytes) -> list[dict[str, str]]:
    assert body.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    return list(csv.DictReader(io.StringIO(body.decode("utf-8-sig"))))


def _batch(scene: dict[str, Any]) -> Batch:
    return Batch(scene_id=scene["scene_id"], scene_name="杭州", label="current")


def test_csv_has_bom_chinese_text_and_safe_cells(scene) -> None:
    body = b"".join(stream_export(_batch(scene), "csv"))
    rows = _csv_rows(body)
    assert [r["id"] for r in rows] == ["hz:001", "hz:002", "hz:003"]
    first = rows[0]
    assert first["title"] == "杭州市公共交通线路数据" and first["formats"] == "csv, json"
    assert first["record_count"] == "1241609" and first["machine_readable"] == "true"
    assert first["resource_count"] == "1" and first["tags"] == "公交, 线路"
    assert first["quality_completeness"] == "0.9"
    assert rows[1]["title"] == "'=1+2 公交站点"  # never a formula in Excel
    assert list(rows[0].keys()) == list(HEADER)


def test_csv_of_nothing_is_just_the_header() -> None:
    body = b"".join(iter_csv([]))
    assert body == "\ufeff".encode() + (",".join(HEADER) + "\r\n").encode()


def test_xlsx_is_readable_with_the_right_rows(scene) -> None:
    body = b"".join(stream_export(_batch(scene), "xlsx"))
    workbook = load_workbook(io.BytesIO(body), read_only=True)
    assert workbook.sheetnames == ["datasets", "about"]
    rows = list(workbook["datasets"].iter_rows(values_only=True))
    assert rows[0] == HEADER
    index = {name: i for i, name in enumerate(HEADER)}
    assert [r[index["id"]] for r in rows[1:]] == ["hz:001", "hz:002", "hz:003"]
    assert rows[1][index["record_count"]] == 1241609 and rows[1][index["machine_readable"]] is True
    assert rows[2][index["title"]] == "=1+2 公交站点"  # kept as text, not a formula
    assert rows[3][index["title"]] == "出租车营运数据"  # XML cannot carry \x0b
    about = dict(workbook["about"].iter_rows(values_only=True))
    assert about["scene"] == "杭州" and about["selection"] == "current"


def test_json_is_one_array_of_documents(scene) -> None:
    documents = json.loads(b"".join(stream_export(_batch(scene), "json")))
    assert [d["id"] for d in documents] == ["hz:001", "hz:002", "hz:003"]
    assert documents[0]["resources"][0]["url"] == "https://x/1.csv"
    assert json.loads(b"".join(stream_export(Batch(0, "none", "current", ids=()), "json"))) == []


def test_owner_route_streams_each_format(settings, scene) -> None:
    client = web_app(settings).test_client()
    with client.session_transaction() as session:
        session["sid"] = _login_token(scene["owner_id"])
    for fmt, mimetype in (("csv", "text/csv"), ("xlsx", "application/vnd.openxmlformats-"
                          "officedocument.spreadsheetml.sheet"), ("json", "application/json")):
        response = client.get(f"/scenes/{scene['scene_id']}/export.{fmt}")
        assert response.status_code == 200 and response.is_streamed
        assert response.mimetype == mimetype
        disposition = response.headers["Content-Disposition"]
        disposition.encode("latin-1")
        assert f"filename*=UTF-8''{quote('杭州 交通_公交-current.' + fmt)}" in disposition
    assert len(_csv_rows(client.get(f"/scenes/{scene['scene_id']}/export.csv").get_data())) == 3
    assert client.get(f"/scenes/{scene['scene_id']}/export.pdf").status_code == 404


def test_owner_route_refuses_strangers_and_anonymous(settings, scene) -> None:
    client = web_app(settings).test_client()
    assert client.get(f"/scenes/{scene['scene_id']}/export.csv").status_code == 401
    with client.session_transaction() as session:
        session["sid"] = _login_token(scene["stranger_id"])
    assert client.get(f"/scenes/{scene['scene_id']}/export.csv").status_code == 404
    assert client.get("/scenes/9999/export.csv").status_code == 404


def test_signed_export_links(settings, scene) -> None:
    client = web_app(settings).test_client()  # no login: the token is the authority
    url = export_url(scene["run_id"], "added", "csv", settings, started_at=_started(scene["run_id"]))
    assert url.startswith("http://scenewatch.test/exports/") and url.endswith(".csv")
    response = client.get(url.removeprefix("http://scenewatch.test"))
    assert response.status_code == 200
    assert [r["id"] for r in _csv_rows(response.get_data())] == ["hz:002"]

    token = make_download_token(scene["run_id"], "changed", settings, started_at=_started(scene["run_id"]))
    documents = json.loads(client.get(f"/exports/{token}.json").get_data())
    assert [d["id"] for d in documents] == ["hz:003"]
    assert client.get(f"/exports/{token}.xlsx").status_code == 200
    assert client.get("/exports/garbage.csv").status_code == 400
    missing = make_download_token(424242, "all", settings, started_at=_started(424242))
    assert client.get(f"/exports/{missing}.csv").status_code == 404


def test_content_disposition_is_ascii_with_utf8_name() -> None:
    value = content_disposition('北京 "公交"\r\n数据.csv')
    value.encode("latin-1")
    assert value.startswith('attachment; filename="')
    assert "\r" not in value and "\n" not in value
    assert value.endswith("filename*=UTF-8''" + quote("北京 _公交_数据.csv", safe=""))
    assert content_disposition("report.xlsx") == (
        "attachment; filename=\"report.xlsx\"; filename*=UTF-8''report.xlsx")
