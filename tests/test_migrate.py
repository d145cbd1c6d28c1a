"""Start-up: migrations, and the search index kept in step with the catalog."""
from __future__ import annotations

from pathlib import Path


def test_an_empty_search_index_is_refilled_from_the_catalog(app, tmp_path: Path) -> None:
    """After an index schema change (or a new search backend) the catalog is reindexed
    on start-up: harvests alone would only index what changed."""
    from config.extensions import search
    from config.migrate import upgrade
    from search.harvest import run_harvest
    from search.query import parse_query
    from tests.helpers import sample_records, write_snapshot

    run_harvest("hz", write_snapshot(tmp_path / "a.json", sample_records()[:40]), fmt="portal-json")
    indexed = search.get().count()
    assert indexed > 30
    search.get().clear()
    assert search.get().count() == 0
    upgrade()
    assert search.get().count() == indexed
    assert search.get().search(parse_query({}), limit=1).total == indexed
