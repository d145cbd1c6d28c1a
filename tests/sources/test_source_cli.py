"""`scenewatch sources …` and `users grant-admin`, as a user runs them."""
from __future__ import annotations

from pathlib import Path

from tests.helpers import sample_file, sample_records, write_snapshot

TOKEN = "Bearer s3cret-token-0123456789"


def test_add_run_show_list_a_file_source(run_cli, run_json, tmp_path: Path) -> None:
    code, added = run_json("sources", "add", "hz", str(sample_file()), "--schedule", "daily",
                           "--timezone", "Asia/Shanghai", "--header", f"Authorization: {TOKEN}")
    assert code == 0
    assert added["schedule"] == "daily" and added["timezone"] == "Asia/Shanghai"
    assert added["next_harvest_at"]  # 08:00 Shanghai is 00:00 UTC
    assert added["next_harvest_at"].split(" ")[1].startswith("00:00")

    code, record = run_json("sources", "run", "hz")
    assert code == 0
    assert record["status"] == "ok" and record["error"] is None
    counts = record["counts"]
    assert set(counts) == {"seen", "new", "changed", "unchanged", "removed", "quarantined",
                           "held_removals"}
    assert counts["new"] == counts["seen"] > 1000
    assert record["bytes"] == sample_file().stat().st_size

    # The file has not changed (size, mtime, inode): nothing is read or written.
    code, same = run_json("sources", "run", "hz")
    assert same["status"] == "not_modified" and same["http_status"] is None
    assert same["counts"]["seen"] == 0
    code, again = run_json("sources", "run", "hz", "--full")  # read it anyway
    assert again["status"] == "ok"
    assert again["counts"]["unchanged"] == counts["new"] and again["counts"]["new"] == 0

    code, shown = run_json("sources", "show", "hz")
    assert [h["id"] for h in shown["harvests"]] == [again["id"], same["id"], record["id"]]
    assert shown["quarantine"]["total"] == 0
    code, listed = run_json("sources", "list")
    assert [s["name"] for s in listed] == ["hz"] and listed[0]["last_harvest"]["id"] == again["id"]

    # The token is never printed back in full, by any command.
    for args in (("sources", "list"), ("sources", "show", "hz"), ("sources", "list", "--json"),
                 ("sources", "show", "hz", "--json")):
        result = run_cli(*args)
        assert "s3cret" not in result.output and "0123456789" not in result.output
        assert "Authorization" in result.output or args == ("sources", "list")


def test_one_off_harvest_makes_a_manual_source(run_json) -> None:
    code, summary = run_json("harvest", "hangzhou", str(sample_file()))
    assert code == 0 and summary["status"] == "ok" and summary["new"] > 1000
    code, shown = run_json("sources", "show", "hangzhou")
    assert shown["schedule"] == "manual" and shown["next_harvest_at"] is None
    assert shown["location"] == str(sample_file().resolve())
    assert shown["harvests"][0]["id"] == summary["harvest_id"]
    # `sources run` now harvests the same location again.
    code, record = run_json("sources", "run", "hangzhou")
    assert record["counts"]["unchanged"] == summary["new"]


def test_pause_resume_and_remove(run_json, tmp_path: Path) -> None:
    records = sample_records()[:50]
    run_json("sources", "add", "small", write_snapshot(tmp_path / "s.json", records),
             "--schedule", "hourly")
    code, record = run_json("sources", "run", "small")
    live = record["counts"]["new"]
    assert live > 40
    code, paused = run_json("sources", "pause", "small")
    assert paused["paused"] is True
    code, resumed = run_json("sources", "resume", "small")
    assert resumed["paused"] is False and resumed["next_harvest_at"]

    code, found = run_json("search", "--query", '{"filters": {"source": ["small"]}}')
    assert found["total"] == live
    code, removed = run_json("sources", "remove", "small")
    assert code == 0 and removed["tombstoned"] == live
    code, found = run_json("search", "--query", '{"filters": {"source": ["small"]}}')
    assert found["total"] == 0
    code, error = run_json("sources", "show", "small")
    assert code == 2 and error["error"]["field"] == "name"


def test_bad_input_names_the_field(run_cli, run_json, tmp_path: Path) -> None:
    mapping = tmp_path / "m.json"
    mapping.write_text("{}")
    cases = [
        (("sources", "add", "has space", str(sample_file())), "name"),
        (("sources", "add", "a:b", str(sample_file())), "name"),
        (("sources", "add", "x", str(tmp_path / "missing.json")), "location"),
        (("sources", "add", "x", str(sample_file()), "--schedule", "every day"), "schedule"),
        (("sources", "add", "x", str(sample_file()), "--schedule", "on-change"), "schedule"),
        (("sources", "add", "x", str(sample_file()), "--timezone", "Mars/Base"), "timezone"),
        (("sources", "add", "x", str(sample_file()), "--header", "no colon"), "header"),
        (("sources", "add", "x", str(sample_file()), "--header", "Host: evil"), "header"),
        (("sources", "add", "x", str(sample_file()), "--mapping", str(tmp_path / "n.json")), "mapping"),
    ]
    for args, field in cases:
        code, error = run_json(*args)
        assert code == 2, args
        assert error["error"]["field"] == field, args
    code, _ = run_json("sources", "add", "x", str(sample_file()), "--mapping", str(mapping))
    assert code == 0
    code, error = run_json("sources", "add", "x", str(sample_file()))
    assert code == 2 and "already exists" in error["error"]["message"]
    for args in (("sources", "run", "nope"), ("sources", "pause", "nope"),
                 ("sources", "remove", "nope"), ("users", "grant-admin", "nobody@example.org")):
        result = run_cli(*args)
        assert result.exit_code == 2 and "Traceback" not in result.output, args


def test_a_failed_harvest_is_recorded_and_shown(run_json, tmp_path: Path) -> None:
    path = tmp_path / "cat.json"
    write_snapshot(path, sample_records()[:30])
    run_json("sources", "add", "flaky", str(path))
    code, good = run_json("sources", "run", "flaky")
    assert good["status"] == "ok"
    path.write_text('{"not": "closed"')
    code, bad = run_json("sources", "run", "flaky")
    assert code == 1 and bad["status"] == "error" and "not valid JSON" in bad["error"]
    code, shown = run_json("sources", "show", "flaky")
    assert shown["harvests"][0]["status"] == "error"
    code, found = run_json("search", "--query", '{"filters": {"source": ["flaky"]}}')
    assert found["total"] == good["counts"]["new"]  # the earlier data is untouched


def test_grant_admin_to_a_registered_user(run_json, cli_env, monkeypatch) -> None:
    from config.app import create_app
    from config.extensions import db
    from config.migrate import upgrade
    from subscriptions.accounts import find_user, register_user

    for key, value in cli_env.items():
        monkeypatch.setenv(key, value)
    app = create_app()
    with app.app_context():
        upgrade()
        with db.session() as session:
            register_user(session, "Ada@Example.org", "long enough pw")
    code, result = run_json("users", "grant-admin", "ada@example.org")
    assert code == 0 and result["is_admin"] is True
    with app.app_context(), db.session() as session:
        user = find_user(session, "ada@example.org")
        assert user is not None and user.is_admin
    code, listed = run_json("users", "list")
    assert [u["is_admin"] for u in listed if u["email"] == "ada@example.org"] == [True]
    code, result = run_json("users", "grant-admin", "someone@example.org")
    assert code == 2 and result["error"]["field"] == "email"
