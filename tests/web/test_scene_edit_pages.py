"""The scene editor on the web: name, query from the search builder (new baseline,
warned before saving), schedule, tracked fields, channels, duplicate — and nobody but
the owner reaches any of it."""

from __future__ import annotations

import dataclasses
import re
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from config.extensions import db
from notifier.models import Channel
from subscriptions.models import Scene, SceneRun
from tests.web.conftest import register, text_of


def _save(client: FlaskClient, **fields: str) -> int:
    data = {"q": "交通", "name": "杭州交通", "schedule": "daily", "timezone": "Asia/Shanghai",
            "email_cadence": "immediate", **fields}
    response = client.post("/scenes/new", data=data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _runs(scene_id: int) -> list[SceneRun]:
    with db.session() as s:
        return list(s.scalars(select(SceneRun).where(SceneRun.scene_id == scene_id).order_by(SceneRun.id)))


def test_query_changed_in_the_builder_warns_then_records_a_baseline(
    user_client: FlaskClient, catalog: list[dict]
) -> None:
    scene_id = _save(user_client)
    assert [r.state for r in _runs(scene_id)] == ["baseline"]  # taken on save

    page = user_client.get(f"/scenes/{scene_id}/edit").get_data(as_text=True)
    assert 'id="baseline-warning"' not in page and 'value="杭州交通"' in page
    builder = re.search(r'id="edit-query" href="([^"]+)"', page).group(1).replace("&amp;", "&")
    assert "edit=" in builder and "q=" in builder
    search = user_client.get(builder + "&f.region=" + quote("杭州市")).get_data(as_text=True)
    assert 'id="editing-scene"' in search and 'id="save-scene"' not in search
    use = re.search(r'id="use-for-scene" href="([^"]+)"', search).group(1).replace("&amp;", "&")
    assert use.startswith(f"/scenes/{scene_id}/edit?")

    form = user_client.get(use).get_data(as_text=True)
    expected = [d for d in catalog if "交通" in text_of(d) and "杭州市" in d["region_path"]]
    assert 'id="baseline-warning"' in form and "新基线" in form
    assert f'data-total="{len(expected)}"' in form
    data = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', form))
    data.update({"name": "杭州市交通", "schedule": "weekly", "timezone": "Asia/Shanghai",
                 "tracked_fields": "title"})
    response = user_client.post(f"/scenes/{scene_id}/edit", data=data)
    assert response.status_code == 302
    shown = user_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"新的检索条件匹配 {len(expected)} 个数据集" in shown
    runs = _runs(scene_id)
    assert [r.state for r in runs] == ["baseline", "baseline"]  # history kept, new baseline
    assert runs[-1].matched == len(expected)
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        assert scene.name == "杭州市交通" and scene.schedule == "weekly"
        assert scene.query["filters"] == {"region": ["杭州市"]} and scene.tracked_fields == ["title"]


def test_saving_without_touching_the_query_records_no_baseline(
    user_client: FlaskClient, catalog: list[dict]
) -> None:
    scene_id = _save(user_client)
    # A query with a range the URL parameters cannot express stays exactly as saved.
    with db.session() as s:
        s.get(Scene, scene_id).query = {"text": "交通", "ranges": {"record_count": {"gte": 1}}}
    response = user_client.post(f"/scenes/{scene_id}/edit", data={
        "name": "renamed", "schedule": "daily", "timezone": "Asia/Shanghai", "tracked_fields": "title"})
    assert response.status_code == 302
    assert [r.state for r in _runs(scene_id)] == ["baseline"]  # only the one taken on save
    with db.session() as s:
        assert s.get(Scene, scene_id).query == {"text": "交通", "ranges": {"record_count": {"gte": 1}}}


def test_every_problem_is_shown_at_once_in_the_readers_language(
    user_client: FlaskClient, catalog: list[dict]
) -> None:
    scene_id = _save(user_client)
    response = user_client.post(f"/scenes/{scene_id}/edit", data={
        "name": "", "schedule": "cron", "cron": "every tuesday", "timezone": "Mars/Base",
        "query_set": "1", "q": "交通", "modified_from": "someday"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "请填写场景名称" in html and "不是已知的时区" in html and "不是日期" in html
    assert "every tuesday" in html and "is not" not in html
    with db.session() as s:
        assert s.get(Scene, scene_id).name == "杭州交通"


def test_channels_added_tuned_rotated_and_removed(
    user_client: FlaskClient, catalog: list[dict]
) -> None:
    scene_id = _save(user_client)
    bad = user_client.post(f"/scenes/{scene_id}/channels/add?lang=zh",
                           data={"kind": "webhook", "target": "not a url"}, follow_redirects=True)
    assert "Webhook 地址须以 http:// 或 https:// 开头" in bad.get_data(as_text=True)
    user_client.post(f"/scenes/{scene_id}/channels/add", data={"kind": "email", "target": "me@example.org",
                                                               "email_cadence": "daily"})
    page = user_client.post(f"/scenes/{scene_id}/channels/add",
                            data={"kind": "webhook", "target": "http://127.0.0.1:9/hook"},
                            follow_redirects=True).get_data(as_text=True)
    assert 'id="webhook-secret"' in page
    with db.session() as s:
        channels = {c.kind: c for c in s.get(Scene, scene_id).channels}
        mail_id, hook_id = channels["email"].id, channels["webhook"].id
        old_secret = channels["webhook"].secret
        assert channels["email"].cadence == "daily" and not channels["email"].verified
    tuned = user_client.post(f"/scenes/{scene_id}/channels/{mail_id}/settings",
                             data={"email_cadence": "weekly", "digest_hour": "18", "digest_weekday": "fri",
                                   "quiet_start": "22:00", "quiet_end": "07:00"})
    assert tuned.status_code == 302
    refused = user_client.post(f"/scenes/{scene_id}/channels/{mail_id}/settings",
                               data={"quiet_start": "22:00"}, follow_redirects=True)
    assert "免打扰时段需要同时填写" in refused.get_data(as_text=True)
    user_client.post(f"/scenes/{scene_id}/channels/{hook_id}/rotate")
    with db.session() as s:
        mail, hook = s.get(Channel, mail_id), s.get(Channel, hook_id)
        assert (mail.cadence, mail.digest_hour, mail.digest_weekday) == ("weekly", 18, 4)
        assert (mail.quiet_start, mail.quiet_end) == ("22:00", "07:00")
        assert hook.secret != old_secret and hook.previous_secret == old_secret
    user_client.post(f"/scenes/{scene_id}/channels/{hook_id}/remove")
    with db.session() as s:
        assert s.get(Channel, hook_id) is None
        assert [c.id for c in s.get(Scene, scene_id).channels] == [mail_id]


def test_duplicate_has_its_own_baseline(user_client: FlaskClient, catalog: list[dict]) -> None:
    scene_id = _save(user_client)
    response = user_client.post(f"/scenes/{scene_id}/duplicate")
    copy_id = int(response.headers["Location"].rsplit("/", 1)[1])
    assert copy_id != scene_id
    assert [r.state for r in _runs(copy_id)] == ["baseline"]
    assert [r.state for r in _runs(scene_id)] == ["baseline"]  # the original's own, from its save
    with db.session() as s:
        assert s.get(Scene, copy_id).name == "杭州交通（副本）"


@pytest.mark.parametrize("production", [False, True])
def test_nobody_else_reaches_the_editor(app: Flask, settings, client: FlaskClient, catalog: list[dict],
                                        production: bool) -> None:
    if production:
        app.config["SCENEWATCH"] = dataclasses.replace(settings, env="production")
    register(client, "owner@example.org")
    scene_id = _save(client, email="owner@example.org", webhook="http://127.0.0.1:9/hook")
    with db.session() as s:
        channel_id = s.get(Scene, scene_id).channels[0].id
    client.post("/logout")
    routes = [("get", f"/scenes/{scene_id}/edit"), ("post", f"/scenes/{scene_id}/edit"),
              ("post", f"/scenes/{scene_id}/duplicate"), ("post", f"/scenes/{scene_id}/channels/add"),
              ("get", f"/?edit={scene_id}")]
    routes += [("post", f"/scenes/{scene_id}/channels/{channel_id}/{action}")
               for action in ("remove", "settings", "rotate")]
    for method, path in routes:  # logged out: to the login page (the search page is public)
        response = getattr(client, method)(path, data={"name": "x", "kind": "email", "target": "a@b.c"})
        if path.startswith("/?"):
            assert 'id="editing-scene"' not in response.get_data(as_text=True)
        else:
            assert response.status_code == 302 and "/login" in response.headers["Location"], path
    register(client, "other@example.org")
    for method, path in routes:
        response = getattr(client, method)(path, data={"name": "x", "kind": "email", "target": "a@b.c"})
        if path.startswith("/?"):
            assert 'id="editing-scene"' not in response.get_data(as_text=True)
        else:
            assert response.status_code == 404, path
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        assert scene.name == "杭州交通" and len(scene.channels) == 2
        assert len(s.scalars(select(Scene)).all()) == 1


@pytest.mark.parametrize("field,value", [
    ("name", "x" * 5000), ("cron", "* * * * * * *"), ("timezone", "\x00"), ("tracked_fields", "💥"),
    ("q", '"unclosed'), ("modified_from", "9" * 5000), ("min_completeness", "nan"), ("f.region", "\u202e<script>"),
])
def test_fuzzed_edits_never_fail(user_client: FlaskClient, catalog: list[dict], field: str, value: str) -> None:
    scene_id = _save(user_client)
    data = {"name": "n", "schedule": "cron" if field == "cron" else "daily", "timezone": "UTC",
            "query_set": "1", field: value}
    response = user_client.post(f"/scenes/{scene_id}/edit", data=data)
    assert response.status_code in (302, 400)
    for path in (f"/scenes/{scene_id}/channels/add", f"/scenes/{scene_id}/channels/999/settings"):
        assert user_client.post(path, data={"kind": value, "target": value}).status_code in (302, 404)
