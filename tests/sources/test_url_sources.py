"""URL sources: conditional GET (an unchanged portal costs one request and writes no
version), extra headers sent, the swap to the next snapshot harvested."""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from tests.helpers import sample_records, write_snapshot
from tests.http_catalog import HttpCatalog

TOKEN = "Bearer portal-token-0123456789"


def _versions(cli_env) -> int:
    from config.app import create_app
    from config.extensions import db
    from config.settings import load_settings
    from search.models import DatasetVersion

    app = create_app(load_settings(cli_env))
    with app.app_context(), db.session() as session:
        return int(session.scalar(select(func.count()).select_from(DatasetVersion)) or 0)


def test_unchanged_portal_answers_304_and_nothing_is_written(run_json, cli_env, tmp_path: Path) -> None:
    records = sample_records()[:200]
    first = Path(write_snapshot(tmp_path / "first.json", records))
    second = Path(write_snapshot(tmp_path / "second.json", records[:190] + sample_records()[200:230]))
    with HttpCatalog() as portal:
        portal.put("export/catalog.json", first)
        url = portal.url("export/catalog.json")
        code, added = run_json("sources", "add", "portal", url, "--header", f"Authorization: {TOKEN}")
        assert code == 0 and added["location"] == url

        code, record = run_json("sources", "run", "portal")
        assert record["status"] == "ok" and record["http_status"] == 200
        assert record["bytes"] == first.stat().st_size
        new = record["counts"]["new"]
        versions = _versions(cli_env)
        assert versions == new
        code, shown = run_json("sources", "show", "portal")
        assert shown["etag"] and shown["last_modified"]

        code, again = run_json("sources", "run", "portal")
        assert again["status"] == "not_modified" and again["http_status"] == 304
        assert again["counts"] == dict.fromkeys(again["counts"], 0) and again["error"] is None
        assert _versions(cli_env) == versions  # no version written
        requests = portal.requests_for("/export/catalog.json")
        assert [r.status for r in requests] == [200, 304]
        assert "if-none-match" not in requests[0].headers
        assert requests[1].headers["if-none-match"] == shown["etag"]
        assert requests[1].headers["if-modified-since"] == shown["last_modified"]
        assert all(r.headers["authorization"] == TOKEN for r in requests)
        assert requests[0].headers["user-agent"].startswith("scenewatch")

        # The portal publishes its next snapshot: fetched in full and applied.
        portal.put("export/catalog.json", second)
        code, third = run_json("sources", "run", "portal")
        assert third["status"] == "ok" and third["http_status"] == 200
        assert third["counts"]["removed"] == 10 and third["counts"]["new"] == 30
        code, shown_after = run_json("sources", "show", "portal")
        assert shown_after["etag"] != shown["etag"]
        assert [h["status"] for h in shown_after["harvests"]] == ["ok", "not_modified", "ok"]

        # --full skips the conditional GET.
        code, full = run_json("sources", "run", "portal", "--full")
        assert full["status"] == "ok" and full["counts"]["unchanged"] == third["counts"]["seen"] - \
            third["counts"]["quarantined"]
        assert "if-none-match" not in portal.requests_for("/export/catalog.json")[-1].headers


def test_portal_errors_are_recorded_and_the_data_kept(run_json, tmp_path: Path) -> None:
    with HttpCatalog() as portal:
        portal.put("c.json", Path(write_snapshot(tmp_path / "c.json", sample_records()[:20])))
        run_json("sources", "add", "p", portal.url("c.json"))
        code, good = run_json("sources", "run", "p")
        assert good["status"] == "ok"
        portal.remove("c.json")
        code, bad = run_json("sources", "run", "p", "--full")
        assert code == 1 and bad["status"] == "error" and "404" in bad["error"]
        assert bad["http_status"] == 404
        code, found = run_json("search", "--query", '{"filters": {"source": ["p"]}}')
        assert found["total"] == good["counts"]["new"]
