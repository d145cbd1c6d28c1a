"""/api/v1/scenes and runs: create with channels (secret once), list, get, preview,
run now, delete; Idempotency-Key makes a retried create one scene."""
from __future__ import annotations

import threading

from sqlalchemy import func, select

from config.extensions import db


def _create(api, headers=None, **body):
    payload = {"name": "杭州交通", "query": {"text": "交通"}, "schedule": "daily", **body}
    return api("POST", "/api/v1/scenes", json=payload, headers=headers or {})


def test_create_shows_the_webhook_secret_once(api, catalog):
    made = _create(api, webhook="http://127.0.0.1:9/hook")
    assert made.status_code == 201, made.get_json()
    scene = made.get_json()
    assert made.headers["Location"] == f"/api/v1/scenes/{scene['id']}"
    hook = next(c for c in scene["channels"] if c["kind"] == "webhook")
    assert hook["secret"].startswith("whsec_")
    shown = api("GET", f"/api/v1/scenes/{scene['id']}").get_json()
    assert all("secret" not in c for c in shown["channels"])
    assert hook["secret"] not in api("GET", "/api/v1/scenes").get_data(as_text=True)
    assert shown["query"]["text"] == "交通" and shown["schedule"] == "daily"


def test_list_pages_newest_first(api, catalog):
    ids = [_create(api, name=f"s{i}").get_json()["id"] for i in range(5)]
    first = api("GET", "/api/v1/scenes?limit=2").get_json()
    assert [s["id"] for s in first["items"]] == ids[::-1][:2]
    rest = api("GET", f"/api/v1/scenes?limit=10&cursor={first['next_cursor']}").get_json()
    assert [s["id"] for s in rest["items"]] == ids[::-1][2:] and rest["next_cursor"] is None


def test_bad_scene_lists_every_problem_with_its_field(api, catalog):
    bad = _create(api, name="", query={"filters": {"regoin": ["x"]}}, schedule="fortnightly",
                  webhook="ftp://example.org/hook")
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.get_json()["errors"]}
    assert {"name", "query.filters.regoin", "webhook"} <= fields
    assert any(f.startswith("schedule") for f in fields)
    assert api("GET", "/api/v1/scenes").get_json()["items"] == []  # nothing half-saved


def test_preview_runs_and_run_detail(api, catalog):
    scene = _create(api).get_json()
    preview = api("POST", f"/api/v1/scenes/{scene['id']}/preview", json={})
    assert preview.status_code == 200 and preview.get_json()["total"] > 0
    other = api("POST", f"/api/v1/scenes/{scene['id']}/preview", json={"query": {"text": "教育"}})
    assert other.get_json()["query"]["text"] == "教育"
    ran = api("POST", f"/api/v1/scenes/{scene['id']}/runs")
    assert ran.status_code == 201
    run = ran.get_json()
    assert run["diff"]["run"]["id"] == run["id"] and run["diff"]["scene"]["id"] == scene["id"]
    assert run["diff"]["counts"]["matched"] == preview.get_json()["total"]
    assert set(run["downloads"]) == {"all", "added", "changed"}
    listed = api("GET", f"/api/v1/scenes/{scene['id']}/runs").get_json()["items"]
    assert run["id"] in [r["id"] for r in listed]
    fetched = api("GET", f"/api/v1/scenes/{scene['id']}/runs/{run['id']}").get_json()
    assert fetched["diff"] == run["diff"]


def test_delete_removes_the_scene_and_its_lone_channels(api, catalog):
    from notifier.models import Channel

    scene = _create(api, webhook="http://127.0.0.1:9/hook").get_json()
    assert api("DELETE", f"/api/v1/scenes/{scene['id']}").status_code == 204
    assert api("GET", f"/api/v1/scenes/{scene['id']}").status_code == 404
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Channel)) == 0


def test_a_retried_create_with_the_same_idempotency_key_makes_one_scene(api, catalog):
    from subscriptions.models import Scene

    key = {"Idempotency-Key": "5f0c1f0e-create-once"}
    first = _create(api, headers=key)
    second = _create(api, headers=key)
    assert first.status_code == second.status_code == 201
    assert second.get_json() == first.get_json()
    assert second.headers["Idempotent-Replayed"] == "true"
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Scene)) == 1
    reused = _create(api, name="another", headers=key)
    assert reused.status_code == 422 and reused.get_json()["errors"][0]["field"] == "Idempotency-Key"


def test_concurrent_creates_with_one_key_make_one_scene(app, served, catalog, alice_token):
    import requests

    from subscriptions.models import Scene

    results: list[int] = []

    def post() -> None:
        response = requests.post(f"{served}/api/v1/scenes", timeout=30,
                                 headers={"Authorization": f"Bearer {alice_token}", "Idempotency-Key": "k-1"},
                                 json={"name": "once", "query": {}})
        results.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert set(results) <= {201, 409} and 201 in results
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Scene)) == 1


def test_patch_changes_only_what_is_given_and_a_new_query_records_a_baseline(api, catalog):
    scene = _create(api, query={"text": "交通"}).get_json()
    runs_before = api("GET", f"/api/v1/scenes/{scene['id']}/runs").get_json()["items"]
    renamed = api("PATCH", f"/api/v1/scenes/{scene['id']}", json={"name": "新名字"})
    assert renamed.status_code == 200
    assert renamed.get_json()["name"] == "新名字" and renamed.get_json()["query"]["text"] == "交通"
    assert api("GET", f"/api/v1/scenes/{scene['id']}/runs").get_json()["items"] == runs_before
    requery = api("PATCH", f"/api/v1/scenes/{scene['id']}", json={"query": {"text": "教育"}})
    assert requery.status_code == 200 and requery.get_json()["query"]["text"] == "教育"
    runs_after = api("GET", f"/api/v1/scenes/{scene['id']}/runs").get_json()["items"]
    assert len(runs_after) == len(runs_before) + 1 and runs_after[0]["state"] == "baseline"
    paused = api("PATCH", f"/api/v1/scenes/{scene['id']}", json={"paused": True}).get_json()
    assert paused["paused"] is True
    bad = api("PATCH", f"/api/v1/scenes/{scene['id']}", json={"name": "", "schedule": "fortnightly"})
    assert bad.status_code == 422 and {"name"} <= {e["field"] for e in bad.get_json()["errors"]}
    assert api("GET", f"/api/v1/scenes/{scene['id']}").get_json()["name"] == "新名字"  # nothing half-changed
