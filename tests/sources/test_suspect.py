"""A snapshot that looks cut short is not applied as the truth: its removals are held
(`suspect`) until an admin accepts them; a last record cut mid-way is quarantined."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from tests.helpers import sample_records, write_snapshot

HDRUK = "hdruk-gateway/datasets_csv_history"


def _scene(run_json, source: str) -> int:
    code, created = run_json("scenes", "create", "--name", "all of " + source, "--query",
                             json.dumps({"filters": {"source": [source]}}), "--schedule", "on-change")
    assert code == 0, created
    return int(created["id"])


def _last_run(run_json, scene_id: int) -> dict:
    code, scenes = run_json("scenes", "list")
    return next(s for s in scenes if s["id"] == scene_id)["last_run"]


def test_truncated_json_holds_removals_until_accepted(run_json, run_cli, tmp_path: Path) -> None:
    path = tmp_path / "catalog.json"
    write_snapshot(path, sample_records())
    run_json("sources", "add", "hz", str(path))
    code, first = run_json("sources", "run", "hz")
    total = first["counts"]["new"]
    scene_id = _scene(run_json, "hz")  # saving takes the baseline
    assert _last_run(run_json, scene_id)["state"] == "baseline"

    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # a download cut at 50 %
    code, record = run_json("sources", "run", "hz")
    assert code == 0
    assert record["status"] == "suspect"
    counts = record["counts"]
    assert counts["removed"] == 0
    assert counts["quarantined"] == 1  # the record the file ends in
    kept = counts["unchanged"]
    assert 0.4 * total < kept < 0.6 * total
    assert counts["held_removals"] == total - kept
    assert counts["seen"] == kept + 1
    code, found = run_json("search", "--query", '{"filters": {"source": ["hz"]}}')
    assert found["total"] == total  # nothing was removed

    shown = run_cli("sources", "show", "hz").output
    assert "SUSPECT" in shown and "--accept-removals" in shown
    code, shown_json = run_json("sources", "show", "hz")
    assert shown_json["harvests"][0]["status"] == "suspect"
    assert shown_json["quarantine"]["total"] == 1
    assert "cut short" in shown_json["quarantine"]["reasons"][0]["reason"]
    # No subscriber heard of a removal.
    assert _last_run(run_json, scene_id)["state"] == "baseline"

    code, accepted = run_json("sources", "run", "hz", "--accept-removals")
    assert accepted["status"] == "ok"
    assert accepted["counts"]["removed"] == total - kept and accepted["counts"]["held_removals"] == 0
    assert accepted["scenes"] == [{"id": scene_id, "state": "changed"}]
    code, found = run_json("search", "--query", '{"filters": {"source": ["hz"]}}')
    assert found["total"] == kept


def test_small_removals_are_applied(run_json, tmp_path: Path) -> None:
    records = sample_records()[:100]
    path = Path(write_snapshot(tmp_path / "c.json", records))
    run_json("sources", "add", "few", str(path))
    run_json("sources", "run", "few")
    write_snapshot(path, records[:85])  # 15 % < 20 %
    code, record = run_json("sources", "run", "few")
    assert record["status"] == "ok" and record["counts"]["removed"] == 15


def test_threshold_is_a_setting(cli_env, run_json, tmp_path: Path) -> None:
    records = sample_records()[:100]
    path = Path(write_snapshot(tmp_path / "c.json", records))
    cli_env["SCENEWATCH_HARVEST_MAX_REMOVAL"] = "10%"
    run_json("sources", "add", "few", str(path))
    run_json("sources", "run", "few")
    write_snapshot(path, records[:85])
    code, record = run_json("sources", "run", "few")
    assert record["status"] == "suspect" and record["counts"]["held_removals"] == 15


def _cut_csv(source: Path, target: Path, share: float) -> bytes:
    with gzip.open(source, "rb") as handle:
        data = handle.read()
    target.write_bytes(data[: int(len(data) * share)])
    return data


@pytest.mark.realdata
def test_truncated_real_csv_is_suspect_and_its_cut_row_quarantined(
        run_json, shared_data: Path, tmp_path: Path) -> None:
    snapshot = sorted((shared_data / HDRUK).glob("*.csv.gz"))[-1]
    path = tmp_path / "hdruk.csv"
    full = _cut_csv(snapshot, path, 1.0)
    run_json("sources", "add", "hdruk", str(path), "--format", "portal-csv")
    code, first = run_json("sources", "run", "hdruk")
    assert first["status"] == "ok"
    live = first["counts"]["new"]
    scene_id = _scene(run_json, "hdruk")

    path.write_bytes(full[: len(full) // 2])
    code, record = run_json("sources", "run", "hdruk")
    assert record["status"] == "suspect", record
    assert record["counts"]["removed"] == 0 and record["counts"]["held_removals"] > 0.2 * live
    assert record["counts"]["quarantined"] >= first["counts"]["quarantined"] + 1
    assert record["counts"]["changed"] == 0  # the cut row was not stored with a cut value
    code, shown = run_json("sources", "show", "hdruk")
    reasons = " ".join(r["reason"] for r in shown["quarantine"]["reasons"])
    assert "cut short" in reasons or "fields where the header has" in reasons
    assert _last_run(run_json, scene_id)["state"] == "baseline"

    code, accepted = run_json("sources", "run", "hdruk", "--accept-removals")
    assert accepted["counts"]["removed"] == record["counts"]["held_removals"]
    code, run = run_json("scenes", "run", str(scene_id))
    assert run["counts"]["removed"] == 0  # already reported by the on-change run
    assert _last_run(run_json, scene_id)["state"] in ("changed", "noop")


@pytest.mark.realdata
def test_truncated_real_data_json_is_suspect(run_json, shared_data: Path, tmp_path: Path) -> None:
    series = sorted((shared_data / "dcat-us-arcgis" / "series").iterdir())[0]
    snapshot = sorted(p for p in series.iterdir() if p.suffix == ".json")[0]
    path = tmp_path / "data.json"
    data = snapshot.read_bytes()
    path.write_bytes(data)
    run_json("sources", "add", "arcgis", str(path))
    code, first = run_json("sources", "run", "arcgis")
    assert first["status"] == "ok" and first["format"] == "dcat-json"
    path.write_bytes(data[: len(data) // 2])
    code, record = run_json("sources", "run", "arcgis")
    assert record["status"] == "suspect"
    assert record["counts"]["quarantined"] == first["counts"]["quarantined"] + 1
    assert record["counts"]["removed"] == 0
    assert record["counts"]["unchanged"] + record["counts"]["held_removals"] == first["counts"]["new"]
