"""The README walk-through on PostgreSQL (store and search index in one database) gives
what it gives on the embedded default: the same search page, members and diff."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.search.test_es_end_to_end import (
    _comparable,
    _results,
    _sample_records,
    _snapshots,
    walkthrough,
)

pytestmark = pytest.mark.postgres


def test_walkthrough_on_postgresql_matches_the_embedded_default(tmp_path: Path, postgres_url: str) -> None:
    snapshots = _snapshots(_sample_records(), tmp_path)
    base = {"SCENEWATCH_SCHEDULER": "0", "SCENEWATCH_WEBHOOK_ALLOW_PRIVATE": "1",
            "SCENEWATCH_SECRET_KEY": "walkthrough"}
    embedded = walkthrough({**base, "SCENEWATCH_DATA_DIR": str(tmp_path / "embedded")}, snapshots)
    postgres = walkthrough({**base, "SCENEWATCH_DATA_DIR": str(tmp_path / "postgres"),
                            "SCENEWATCH_DATABASE_URL": postgres_url}, snapshots)
    assert (embedded["backend"], postgres["backend"]) == ("SqliteSearchBackend", "PostgresSearchBackend")
    # Nothing of the index went to a file in the data dir: it is all in the database.
    assert not (tmp_path / "postgres" / "search.sqlite").exists()
    total_e, ids_e = _results(embedded["html"])
    total_p, ids_p = _results(postgres["html"])
    assert postgres["searched"] == embedded["searched"]
    assert total_e == total_p == str(len(postgres["searched"])) and int(total_e) > 0
    assert set(ids_p) <= set(postgres["searched"]) and len(ids_p) == len(ids_e)
    assert postgres["members"] == embedded["members"] != postgres["searched"]
    assert _comparable(postgres["baseline"]) == _comparable(embedded["baseline"])
    diff = _comparable(postgres["diff"])
    assert diff == _comparable(embedded["diff"])
    assert diff["run"]["state"] == "changed"
    assert diff["counts"]["added"] >= 1 and diff["counts"]["changed"] >= 1
    assert {r["reason"] for r in diff["removed"]} == {"deleted_from_catalog", "no_longer_matches"}
