"""The streaming ZIP of a run's datasets: members, fetched files, caps, links, memory."""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import tracemalloc
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from config.extensions import db
from notifier.tokens import make_download_token
from subscriptions.downloads.bundle import stream_bundle
from subscriptions.downloads.exports import Batch, run_batch
from tests.notifier.downloads_support import (
    NOW,
    add_dataset,
    add_run,
    add_scene,
    add_user,
    file_server,
    init_store,
    make_settings,
    web_app,
)

BEIJING = Path(__file__).resolve().parents[3] / "shared" / "data" / "resources" / "beijing"


def _zip(chunks: Any) -> zipfile.ZipFile:
    return zipfile.ZipFile(io.BytesIO(b"".join(chunks)))


def _manifest(archive: zipfile.ZipFile) -> list[dict[str, str]]:
    text = archive.read("manifest.csv").decode("utf-8")
    assert text.startswith("\ufeff"), "manifest.csv must open in Excel as UTF-8"
    return list(csv.DictReader(io.StringIO(text[1:])))


@pytest.fixture
def settings(tmp_path: Path):
    settings = make_settings(tmp_path)
    init_store(settings)
    return settings


@pytest.fixture
def files(tmp_path: Path) -> Path:
    folder = tmp_path / "served"
    folder.mkdir()
    (folder / "名单.csv").write_text("企业名称,日期\n北京某某科技有限公司,2024-01-02\n", encoding="utf-8-sig")
    (folder / "big.bin").write_bytes(b"\x00" * 5000)
    (folder / "data.json").write_text('{"ok": true}', encoding="utf-8")
    return folder


def _scene_with_resources(base: str) -> tuple[int, int]:
    with db.session() as s:
        scene = add_scene(s, add_user(s))
        add_dataset(s, "bj:1", scene, title="北京企业名单", resources=[
            {"name": "名单", "format": "csv", "url": f"{base}/{quote('名单.csv')}", "size": None},
            {"name": "big", "format": "bin", "url": f"{base}/big.bin", "size": 5000},
            {"name": "gone", "format": "csv", "url": f"{base}/missing.csv", "size": None},
            {"name": "ftp copy", "format": "csv", "url": "ftp://ftp.example.org/x.csv"},
        ])
        add_dataset(s, "bj:2", scene, title="=HYPERLINK(\"http://evil\")", resources=[
            {"name": "接口", "format": "json", "url": f"{base}/data.json", "size": 12},
        ])
        add_dataset(s, "bj:3", scene, title="没有资源的数据集", resources=[])
        run = add_run(s, scene, {"added": [{"id": "bj:1", "title": "北京企业名单"}],
                                 "moved": [{"from": "old:9", "to": "bj:3", "title": "没有资源的数据集"}],
                                 "changed": [{"id": "bj:2", "title": "x", "changes": []},
                                             {"id": "bj:404", "title": "lost", "changes": []}]})
        return scene.id, run.id


def test_all_selection_members_and_contents(settings, files: Path) -> None:
    with file_server(files) as base:
        _scene_id, run_id = _scene_with_resources(base)
        batch = run_batch(run_id, "all")
        assert batch is not None
        archive = _zip(stream_bundle(batch, allow_private=True, max_file_bytes=1000))

    names = archive.namelist()
    assert names[:2] == ["datasets.json", "urls.txt"] and names[-1] == "manifest.csv"
    assert archive.testzip() is None
    documents = json.loads(archive.read("datasets.json"))
    assert [d["id"] for d in documents] == ["bj:1", "bj:2", "bj:3"]
    assert documents[0]["title"] == "北京企业名单" and documents[0]["resources"][0]["format"] == "csv"

    urls = archive.read("urls.txt").decode("utf-8").splitlines()
    assert len(urls) == 5 and "ftp://ftp.example.org/x.csv" in urls and f"{base}/data.json" in urls

    rows = _manifest(archive)
    by_url = {row["url"]: row for row in rows if row["url"]}
    good = by_url[f"{base}/{quote('名单.csv')}"]
    assert good["status"] == "ok" and good["path"] == "files/00001_bj_1/名单.csv"
    assert archive.read(good["path"]) == (files / "名单.csv").read_bytes()
    assert int(good["bytes"]) == (files / "名单.csv").stat().st_size and len(good["sha256"]) == 64
    big = by_url[f"{base}/big.bin"]
    assert big["status"] == "skipped" and not big["path"]
    assert "per-file size cap of 1000" in big["reason"]
    assert by_url[f"{base}/missing.csv"]["status"] == "failed"
    assert by_url[f"{base}/missing.csv"]["reason"] == "HTTP 404"
    assert by_url["ftp://ftp.example.org/x.csv"]["reason"] == "not an http(s) URL"
    assert archive.read(by_url[f"{base}/data.json"]["path"]) == b'{"ok": true}'
    # One row per resource, one for a dataset without any; formulas are defused.
    assert [r["dataset_id"] for r in rows] == ["bj:1"] * 4 + ["bj:2", "bj:3"]
    assert rows[4]["title"].startswith("'=") and rows[5]["status"] == "no resources"
    assert rows[0]["publisher"] == "北京市经济和信息化局" and rows[0]["resource_count"] == "4"
    assert not [n for n in names if n.startswith("files/") and "big" in n]


def test_added_and_changed_selections(settings, files: Path) -> None:
    with file_server(files) as base:
        _scene_id, run_id = _scene_with_resources(base)
        added = run_batch(run_id, "added")
        changed = run_batch(run_id, "changed")
        assert added is not None and changed is not None
        assert added.ids == ("bj:1", "bj:3")  # added plus the moved-to id
        archive = _zip(stream_bundle(changed, allow_private=True))
    assert [d["id"] for d in json.loads(archive.read("datasets.json"))] == ["bj:2"]
    rows = _manifest(archive)
    assert rows[-1]["dataset_id"] == "bj:404" and rows[-1]["status"] == "missing"


def test_caps_time_budget_and_private_addresses(settings, files: Path) -> None:
    with file_server(files) as base:
        with db.session() as s:
            scene = add_scene(s, add_user(s))
            add_dataset(s, "t:1", scene, resources=[
                {"name": "a", "format": "csv", "url": f"{base}/{quote('名单.csv')}"},
                {"name": "b", "format": "json", "url": f"{base}/data.json"},
                {"name": "stream", "format": "bin", "url": f"{base}/_stream/4000"},
                {"name": "slow", "format": "txt", "url": f"{base}/_slow/2"},
            ])
            scene_id = scene.id
        batch = Batch(scene_id=scene_id, scene_name="t", label="current")

        capped = _manifest(_zip(stream_bundle(batch, allow_private=True, max_total_bytes=70,
                                              max_file_bytes=3000, file_timeout=0.5)))
        assert [r["status"] for r in capped] == ["ok", "skipped", "skipped", "failed"]
        assert "total size cap of 70" in capped[1]["reason"]
        refused = _manifest(_zip(stream_bundle(batch, allow_private=True, max_file_bytes=3000,
                                               file_timeout=0.5)))
        # No Content-Length: the cap is found while reading and the file is left out whole.
        assert refused[2]["status"] == "skipped" and "more than 3000 bytes" in refused[2]["reason"]
        assert refused[3]["status"] == "failed" and "0.5 s" in refused[3]["reason"]

        out_of_time = _manifest(_zip(stream_bundle(batch, allow_private=True, time_budget=0)))
        assert {r["reason"] for r in out_of_time} == {"time budget of 0 s used up"}

        private = _manifest(_zip(stream_bundle(batch, allow_private=False)))
        assert all(r["status"] == "failed" and r["reason"].startswith("refused:") for r in private)
        assert "loopback" in private[0]["reason"]


def _started(run_id: int) -> datetime:
    """The run's start (what its download links bind), or any time for a missing run."""
    from config.extensions import db
    from subscriptions.models import SceneRun

    with db.session() as s:
        run = s.get(SceneRun, run_id)
        return run.started_at if run is not None else datetime(2026, 1, 1, tzinfo=UTC)


def _token_client(settings, run_id: int, selection: str = "all", **changes: Any):
    app = web_app(dataclasses.replace(settings, **changes) if changes else settings)
    return app.test_client(), make_download_token(run_id, selection, settings,
                                                  started_at=_started(run_id))


def test_download_route_streams_zip_with_filename(settings, files: Path) -> None:
    with file_server(files) as base:
        _scene_id, run_id = _scene_with_resources(base)
        client, token = _token_client(settings, run_id, "added")
        response = client.get(f"/downloads/{token}")
        assert response.status_code == 200 and response.is_streamed
        assert response.mimetype == "application/zip"
        body = response.get_data()
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith('attachment; filename="')
    assert f"filename*=UTF-8''{quote('北京 企业名单')}-run-{run_id}-added.zip" in disposition
    disposition.encode("latin-1")  # header values must be ASCII-safe
    assert "no-store" in response.headers["Cache-Control"]
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert [d["id"] for d in json.loads(archive.read("datasets.json"))] == ["bj:1", "bj:3"]


def test_bad_expired_and_unknown_links(settings) -> None:
    client, token = _token_client(settings, 12345)
    missing = client.get(f"/downloads/{token}")
    assert missing.status_code == 404 and "no longer exists" in missing.get_data(as_text=True)
    assert client.get(f"/downloads/{token[:-3]}xyz").status_code == 400
    assert client.get("/downloads/not-a-token").status_code == 400
    expired_client, token = _token_client(settings, 12345, download_ttl=-1)
    expired = expired_client.get(f"/downloads/{token}")
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    # A token signed with another key is not ours.
    other = make_download_token(1, "all", dataclasses.replace(settings, secret_key="other"),
                                started_at=_started(1))
    assert client.get(f"/downloads/{other}").status_code == 400


@pytest.mark.realdata
def test_real_resource_files(settings) -> None:
    manifest = json.loads((BEIJING / "_manifest.json").read_text(encoding="utf-8"))
    cap = 100_000
    with file_server(BEIJING) as base:
        with db.session() as s:
            scene = add_scene(s, add_user(s), name="北京 真实资源")
            for entry in manifest:
                record = entry["catalog_record"]
                add_dataset(s, f"beijing:{record['序号']}", scene, title=record["数据集名称"],
                            publisher=record["所属部门"], landing_page=record["文章访问路径"],
                            resources=[{"name": record["数据集名称"], "format": "csv",
                                        "url": f"{base}/{quote(entry['file'])}",
                                        "size": entry["bytes"]}])
            run_id = add_run(s, scene, {}).id
        batch = run_batch(run_id, "all")
        assert batch is not None
        archive = _zip(stream_bundle(batch, allow_private=True, max_file_bytes=cap))
    rows = _manifest(archive)
    assert len(rows) == len(manifest)
    by_title = {row["title"]: row for row in rows}
    for entry in manifest:
        row = by_title[entry["catalog_record"]["数据集名称"]]
        if entry["bytes"] > cap:
            assert row["status"] == "skipped" and "per-file size cap" in row["reason"]
        else:
            assert row["status"] == "ok", row
            assert archive.read(row["path"]) == (BEIJING / entry["file"]).read_bytes()
            assert row["path"].endswith(entry["file"])
    assert any(entry["bytes"] > cap for entry in manifest)
    assert len(json.loads(archive.read("datasets.json"))) == len(manifest)


def test_memory_stays_flat_for_a_large_batch(settings, tmp_path: Path) -> None:
    count = 20_000
    description = "北京市公共交通线路与站点数据，按月更新。" * 40  # ~1 KB of text per dataset
    with db.session() as s:
        scene = add_scene(s, add_user(s))
        scene_id = scene.id
    from search.models import Dataset, DatasetVersion
    from subscriptions.models import SceneMember

    for start in range(0, count, 2000):
        ids = [f"big:{n:06d}" for n in range(start, min(count, start + 2000))]
        with db.session() as s:
            s.execute(Dataset.__table__.insert(), [dict(
                id=i, source="big", native_id=i[4:], title=f"公交数据 {i}", description=description,
                publisher="北京市交通委员会", region="北京市", formats=["csv"], resources=[],
                content_hash="0" * 64, first_seen_at=NOW, last_seen_at=NOW, last_changed_at=NOW,
                themes=[], tags=[], quality={}) for i in ids])
            s.execute(DatasetVersion.__table__.insert(), [dict(
                id=int(i[4:]) + 1, dataset_id=i, content_hash="0" * 64, content={}, quality={},
                seen_at=NOW) for i in ids])
            s.execute(SceneMember.__table__.insert(), [dict(
                scene_id=scene_id, dataset_id=i, version_id=int(i[4:]) + 1) for i in ids])
    batch = Batch(scene_id=scene_id, scene_name="big", label="current")
    target = tmp_path / "big.zip"
    tracemalloc.start()
    try:
        with target.open("wb") as out:
            for chunk in stream_bundle(batch):
                out.write(chunk)
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        raw = archive.getinfo("datasets.json").file_size
        rows = _manifest(archive)
        assert len(rows) == count and rows[-1]["dataset_id"] == f"big:{count - 1:06d}"
    # datasets.json alone is far bigger than the bound: only streaming stays under it.
    assert raw > 40 * 1024 * 1024
    assert peak < 12 * 1024 * 1024, f"peak traced memory {peak / 2**20:.1f} MiB"
