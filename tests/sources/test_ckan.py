"""CKAN sources against a CKAN Action API serving real datos.gob.ar records.

A first harvest lists everything (paged); the next asks only for packages modified
since; a package deleted on the portal is tombstoned at the next full listing
(forced with ``--full``, or when ``SCENEWATCH_HARVEST_FULL_EVERY`` has passed).
"""
from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from search.harvest import HarvestError
from search.harvest.ckan import map_package, read_ckan, solr_time, wants_full
from search.harvest.http import FetchPolicy
from tests.ckan_portal import CkanPortal, packages_from_datajson
from tests.search.conftest import HARVEST_FIXTURES

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
POLICY = FetchPolicy(allow_private=True, backoff=0.01)


def _justicia() -> list[dict[str, Any]]:
    return packages_from_datajson(json.loads((HARVEST_FIXTURES / "argentina_justicia.json").read_text()))


def _datos() -> list[dict[str, Any]]:
    path = SHARED / "datajson-argentina" / "datos.gob.ar_data.json_2019-04-08.json.gz"
    return packages_from_datajson(json.loads(gzip.decompress(path.read_bytes())))


def test_package_mapping_keeps_organisation_groups_tags_licence_resources() -> None:
    package = _justicia()[0]
    mapped = map_package(package, "http://portal.example")
    assert mapped["publisher"][0].startswith("Ministerio de Justicia")
    assert mapped["themes"] == [g["display_name"] for g in package["groups"]] and mapped["themes"]
    assert "leyes" in mapped["tags"]
    assert mapped["license"][0] == "Open Data Commons Open Database License (ODbL)"
    resource = mapped["resources"][0][0]
    assert resource["format"] == "CSV" and resource["url"].endswith(".csv") and resource["name"]
    assert mapped["landing_page"] == [f"http://portal.example/dataset/{package['name']}"]


def test_paging_full_then_incremental_at_the_api_level() -> None:
    packages = _justicia()
    for package in packages:  # three packages on one timestamp: paging must not loop
        package["metadata_modified"] = "2019-01-01T00:00:00.000000"
    with CkanPortal(packages) as portal:
        import search.harvest.ckan as ckan

        original, ckan.PAGE_ROWS = ckan.PAGE_ROWS, 2
        try:
            first = read_ckan(portal.url, policy=POLICY)
            assert first.full and len(first.records) == 3 and first.pages == 2
            assert sorted(r.raw["id"] for r in first.records) == sorted(p["id"] for p in packages)
            assert first.state["last_modified"] == "2019-01-01T00:00:00.000000"
            seen = len(portal.answers)
            changed = packages[1]["id"]
            portal.edit(changed, "2019-02-01T10:00:00.123456", title="Nuevo título")
            second = read_ckan(portal.url, state=first.state, policy=POLICY)
        finally:
            ckan.PAGE_ROWS = original
    assert not second.full
    assert portal.returned_ids(seen) == [changed]  # only the changed package was sent
    request = portal.answers[seen][0]
    assert request.param("fq") == "metadata_modified:{2019-01-01T00:00:00.000Z TO *]"
    assert [(r.mapped or {})["title"] for r in second.records] == [["Nuevo título"]]
    assert second.state["last_modified"] == "2019-02-01T10:00:00.123456"
    assert second.state["last_full_at"] == first.state["last_full_at"]


def test_full_listing_is_due_by_period_or_force() -> None:
    now = datetime(2024, 5, 1, tzinfo=UTC)
    state = {"last_modified": "2024-04-30T00:00:00", "last_full_at": (now - timedelta(hours=2)).isoformat()}
    assert not wants_full(state, False, now, 24 * 3600)
    assert wants_full(state, True, now, 24 * 3600)
    assert wants_full(state, False, now, 3600)
    assert wants_full({}, False, now, 24 * 3600)
    assert solr_time("2016-12-19T18:19:32.496552") == "2016-12-19T18:19:32.496Z"
    assert solr_time("2016-12-19T20:19:32+02:00") == "2016-12-19T18:19:32.000Z"


def test_api_errors_are_clear() -> None:
    with CkanPortal(_justicia()) as portal:
        portal.http.route("api/3/action/package_search", lambda r: __import__(
            "tests.http_catalog", fromlist=["Reply"]).Reply(200, b"<html>portal</html>"))
        with pytest.raises(HarvestError, match="is not a CKAN API answer"):
            read_ckan(portal.url, policy=POLICY)
    with pytest.raises(HarvestError, match="needs the portal's http"):
        read_ckan("ftp://portal.example", policy=POLICY)


def _tombstoned(data_dir: Path, source: str) -> set[str]:
    engine = create_engine(f"sqlite:///{data_dir / 'scenewatch.sqlite'}")
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT native_id FROM dataset WHERE source = :s AND deleted_at IS NOT NULL"),
                            {"s": source}).scalars().all()
    engine.dispose()
    return set(rows)


@pytest.mark.realdata
def test_ckan_source_full_incremental_and_deletions(run_json, cli_env, tmp_path: Path) -> None:
    packages = _datos()
    assert len(packages) == 859
    with CkanPortal(packages) as portal:
        code, added = run_json("sources", "add", "datos-ar", portal.url, "--format", "ckan")
        assert code == 0 and added["format"] == "ckan"
        code, first = run_json("sources", "run", "datos-ar")
        assert code == 0 and first["status"] == "ok", first
        assert first["counts"]["seen"] == 859
        assert first["counts"]["new"] + first["counts"]["quarantined"] == 859
        full_requests = len(portal.answers)
        assert full_requests == 9  # 859 packages, 100 a page
        assert len(set(portal.returned_ids())) == 859

        later = "2019-05-01T12:00:00.000000"
        edited = [packages[10]["id"], packages[500]["id"], packages[858]["id"]]
        for number, package_id in enumerate(edited):
            portal.edit(package_id, later, title=f"Editado {number}")
        code, second = run_json("sources", "run", "datos-ar")
        assert second["status"] == "ok", second
        assert sorted(portal.returned_ids(full_requests)) == sorted(edited)
        assert second["counts"]["changed"] == 3 and second["counts"]["seen"] == 3
        assert second["counts"]["removed"] == 0

        gone = [packages[20]["id"], packages[21]["id"]]
        for package_id in gone:
            portal.delete(package_id)
        code, third = run_json("sources", "run", "datos-ar")
        assert third["counts"]["seen"] == 0 and third["counts"]["removed"] == 0  # cannot see it
        assert _tombstoned(Path(cli_env["SCENEWATCH_DATA_DIR"]), "datos-ar") == set()
        code, fourth = run_json("sources", "run", "datos-ar", "--full")
        assert fourth["status"] == "ok" and fourth["counts"]["removed"] == 2, fourth
        assert fourth["counts"]["seen"] == 857 and fourth["counts"]["changed"] == 0
        assert _tombstoned(Path(cli_env["SCENEWATCH_DATA_DIR"]), "datos-ar") == set(gone)
        code, shown = run_json("sources", "show", "datos-ar")
        assert [h["counts"]["removed"] for h in shown["harvests"]][:1] == [2]


@pytest.mark.realdata
def test_auto_detects_a_ckan_portal(run_json) -> None:
    with CkanPortal(_datos()[:50]) as portal:
        code, summary = run_json("harvest", "ckan-auto", portal.url + "/")
    assert code == 0 and summary["format"] == "ckan" and summary["new"] == 50


def test_odd_answers_are_quarantined_not_fatal() -> None:
    packages = _justicia()
    packages[0]["metadata_modified"] = "not a date"
    with CkanPortal(packages) as portal:
        portal.packages["junk"] = {"id": "", "metadata_modified": "2019-01-01T00:00:00"}
        found = read_ckan(portal.url, policy=POLICY)
    problems = [r.problem for r in found.records if r.problem]
    assert problems == ["CKAN result has no id or name"]
    assert len([r for r in found.records if r.mapped]) == 3
    assert found.state["last_modified"] == max(p["metadata_modified"] for p in packages[1:])


def test_add_refuses_what_the_harvester_would_refuse(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from config.cli import cli

    production = {"SCENEWATCH_DATA_DIR": str(tmp_path / "prod"), "SCENEWATCH_ENV": "production",
                  "SCENEWATCH_SECRET_KEY": "k" * 40}
    runner = CliRunner()
    for url, words in (("http://127.0.0.1:8080/catalog.json", "127.0.0.1 is a loopback address"),
                       ("http://169.254.169.254/latest/", "cloud metadata"),
                       ("http://[::ffff:10.0.0.1]/c.json", "private address")):
        result = runner.invoke(cli, ["sources", "add", "p", url, "--json"], env=production)
        assert result.exit_code != 0 and "Traceback" not in result.output
        error = json.loads(result.stdout)["error"]
        assert words in error["message"] and "location" in json.dumps(error), error
    development = {"SCENEWATCH_DATA_DIR": str(tmp_path / "dev")}
    path = HARVEST_FIXTURES / "argentina_justicia.json"
    result = runner.invoke(cli, ["sources", "add", "c", str(path), "--format", "ckan", "--json"],
                           env=development)
    assert result.exit_code != 0
    assert "CKAN source is the portal's http(s) base URL" in result.stdout
    ok = runner.invoke(cli, ["sources", "add", "d", "http://127.0.0.1:8080/", "--format", "ckan"],
                       env=development)
    assert ok.exit_code == 0, ok.output
