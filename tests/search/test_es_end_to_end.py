"""The README walk-through on Elasticsearch gives what it gives on the embedded default.

With SCENEWATCH_SEARCH_URL pointing at a running server (osmem-server here, or the
cluster named by SCENEWATCH_TEST_ES_URL): harvest the sample catalog, search 交通 in
the web form, save a scene, replay a catalog change, and get the diff document. The
same steps on the embedded FTS5 default must give the same page and the same diff.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

pytest_plugins = ("tests.search.es_fixtures",)  # es_url, es_backend: one server for all

T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
TITLE_KEYS = ("资源名称", "数据集名称", "title")
TEXT_KEYS = ("资源名称", "数据集名称", "title", "摘要", "数据摘要", "description")


def _sample_records() -> list[dict[str, Any]]:
    from tests.helpers import sample_records

    return sample_records()


def _text(record: dict[str, Any]) -> str:
    return " ".join(str(record.get(k) or "") for k in TEXT_KEYS)


def _title_key(record: dict[str, Any]) -> str:
    return next(k for k in TITLE_KEYS if k in record)


def _snapshots(records: list[dict[str, Any]], folder: Path) -> tuple[str, str]:
    """The sample as published, then a change touching the 交通 scene four ways."""
    traffic = [i for i, r in enumerate(records) if "交通" in _text(r)]
    other = [i for i, r in enumerate(records) if "交" not in _text(r) and "通" not in _text(r)]
    assert len(traffic) >= 4 and other
    changed = [dict(r) for r in records]
    retitled, reworded, gone = traffic[0], traffic[1], traffic[2]
    changed[retitled][_title_key(changed[retitled])] += "（更新）"  # still matches, title changed
    for key in TEXT_KEYS:  # no longer mentions 交通
        if isinstance(changed[reworded].get(key), str):
            changed[reworded][key] = changed[reworded][key].replace("交通", "运输")
    joined = changed[other[0]]
    joined[_title_key(joined)] += "（含交通数据）"  # now matches
    del changed[gone]  # deleted from the catalog
    first, second = folder / "snapshot-1.json", folder / "snapshot-2.json"
    first.write_text(json.dumps(records, ensure_ascii=False), "utf-8")
    second.write_text(json.dumps(changed, ensure_ascii=False), "utf-8")
    return str(first), str(second)


def walkthrough(env: dict[str, str], snapshots: tuple[str, str]) -> dict[str, Any]:
    """Run the README steps in a fresh installation configured by ``env``."""
    from config.app import create_app
    from config.extensions import db, search
    from config.migrate import upgrade
    from config.settings import load_settings
    from search.harvest import run_harvest
    from search.query import parse_query
    from subscriptions.accounts import operator_user
    from subscriptions.runner import run_scene
    from subscriptions.scenes import create_scene

    app = create_app(load_settings(env), TESTING=True, WTF_CSRF_ENABLED=False)
    with app.app_context():
        upgrade()
        first = run_harvest("hangzhou-sample", snapshots[0], fmt="portal-json", now=T0)
        assert first.index_failures == []
        page = app.test_client().get("/?q=交通")
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        searched = list(search.get().iter_ids(parse_query({"text": "交通"})))
        with db.session() as session:
            scene_id = create_scene(session, operator_user(session), name="交通", query={"text": "交通"},
                                    schedule="manual", now=T0).scene.id
        baseline = run_scene(scene_id, T0)  # the baseline taken on save, at T0
        second = run_harvest("hangzhou-sample", snapshots[1], fmt="portal-json", now=T0 + timedelta(days=1))
        assert second.index_failures == []
        diff = run_scene(scene_id, T0 + timedelta(days=1))
        backend = type(search.get()).__name__
        members = list(search.get().iter_ids(parse_query({"text": "交通"})))
    return {"backend": backend, "html": html, "searched": searched, "baseline": baseline, "diff": diff,
            "members": members}


def _comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The diff document without what differs between any two installations: clock
    readings and signed links."""
    out = json.loads(json.dumps(document))
    for key in ("started_at", "finished_at"):
        out["run"].pop(key, None)
    out["links"] = sorted(out.get("links", {}))
    return out


def _results(html: str) -> tuple[str, list[str]]:
    import re

    total = re.search(r'id="total" data-total="(\d+)"', html)
    return (total.group(1) if total else "?"), re.findall(r'<li class="result" data-id="([^"]+)"', html)


def test_walkthrough_on_elasticsearch_matches_the_embedded_default(tmp_path: Path, es_url: str,
                                                                   es_backends) -> None:
    records = _sample_records()
    snapshots = _snapshots(records, tmp_path)
    base = {"SCENEWATCH_SCHEDULER": "0", "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1",
            "SCENEWATCH_SECRET_KEY": "walkthrough"}
    embedded = walkthrough({**base, "SCENEWATCH_DATA_DIR": str(tmp_path / "embedded")}, snapshots)
    index = es_backends().alias  # a fresh alias, its indices deleted afterwards
    elastic = walkthrough({**base, "SCENEWATCH_DATA_DIR": str(tmp_path / "elastic"),
                           "SCENEWATCH_SEARCH_URL": es_url, "SCENEWATCH_SEARCH_INDEX": index}, snapshots)
    assert (embedded["backend"], elastic["backend"]) == ("SqliteSearchBackend", "ElasticsearchBackend")
    # The search page: same total and same first page (relevance ranks differ, members do not).
    total_e, ids_e = _results(embedded["html"])
    total_s, ids_s = _results(elastic["html"])
    assert elastic["searched"] == embedded["searched"]
    assert total_e == total_s == str(len(elastic["searched"])) and int(total_e) > 0
    assert set(ids_s) <= set(elastic["searched"]) and len(ids_s) == len(ids_e)
    # The scene: same members, same baseline, same diff document.
    assert elastic["members"] == embedded["members"] != elastic["searched"]
    assert _comparable(elastic["baseline"]) == _comparable(embedded["baseline"])
    assert elastic["baseline"]["run"]["state"] == "baseline"
    diff = _comparable(elastic["diff"])
    assert diff == _comparable(embedded["diff"])
    assert diff["run"]["state"] == "changed"
    assert diff["counts"]["added"] >= 1 and diff["counts"]["changed"] >= 1
    assert {r["reason"] for r in diff["removed"]} == {"deleted_from_catalog", "no_longer_matches"}
