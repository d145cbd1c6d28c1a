"""Harvesting real exports end to end: readers, format detection, ids, quarantine,
errors, indexing, and (realdata) every CNPDS portal and DCAT-US catalog."""
from __future__ import annotations

import csv
import functools
import gzip
import http.server
import io
import json
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from search.harvest import HarvestError, run_harvest
from search.models import Dataset, Harvest, QuarantinedRecord
from tests.search.conftest import HARVEST_FIXTURES as FIX
from tests.search.conftest import fixture_records

NOW = datetime(2023, 7, 1, tzinfo=UTC)
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
NANNING = str(FIX / "guangxi_nanning.json")


def _datasets(db: Any, source: str) -> dict[str, Dataset]:
    with db.session() as session:
        rows = session.scalars(select(Dataset).where(Dataset.source == source)).all()
        return {row.id: row for row in rows}


def _quarantine(db: Any, harvest_id: int) -> list[QuarantinedRecord]:
    with db.session() as session:
        query = select(QuarantinedRecord).where(QuarantinedRecord.harvest_id == harvest_id)
        return list(session.scalars(query.order_by(QuarantinedRecord.id)))


def _balanced(summary: Any) -> bool:
    return summary.seen == summary.new + summary.changed + summary.unchanged + summary.quarantined


def _live(db: Any) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(Dataset).where(Dataset.deleted_at.is_(None))
        return session.scalar(query) or 0


# --- portal JSON -------------------------------------------------------------------------


def test_concatenated_arrays_and_an_exact_duplicate(store: Any, tmp_path: Path) -> None:
    path = tmp_path / "hainan_hainan.json"  # its real name carries the region
    shutil.copy(FIX / "hainan_hainan.json", path)
    summary = run_harvest("hainan", str(path), now=NOW)
    assert summary.format == "portal-json"
    assert (summary.seen, summary.new, summary.quarantined) == (6, 5, 1)
    assert _balanced(summary)
    datasets = _datasets(store, "hainan")
    assert len(datasets) == 5
    assert {d.region for d in datasets.values()} == {"海南省"}
    # Ids are the detail URLs (unique in this file), prefixed by the source.
    assert all(d.id == f"hainan:{d.landing_page}" for d in datasets.values())
    # Hainan's dates carry a line break between day and time.
    assert all(d.created and "T" in d.created for d in datasets.values())
    [duplicate] = _quarantine(store, summary.harvest_id)
    assert duplicate.position == "array 2, item 3"
    assert duplicate.reason.startswith("duplicate of hainan:https://")
    assert json.loads(duplicate.raw)["目录名称"]


def test_one_detail_url_for_every_row_falls_back_to_a_stable_key(store: Any) -> None:
    # Shanghai's export repeats one URL on every row: it cannot identify a dataset.
    summary = run_harvest("shanghai", str(FIX / "shanghai_shanghai.json"), now=NOW)
    assert (summary.seen, summary.new, summary.quarantined) == (6, 5, 1)
    ids = set(_datasets(store, "shanghai"))
    assert all(i.startswith("shanghai:key-") for i in ids)
    again = run_harvest("shanghai", str(FIX / "shanghai_shanghai.json"), now=NOW)
    assert (again.new, again.unchanged, again.removed) == (0, 5, 0)  # the keys are stable


def test_wrapped_list_and_malformed_items(store: Any, tmp_path: Path) -> None:
    records: list[Any] = fixture_records("guangxi_nanning.json")[:3]
    records.insert(1, "not a record")
    records.append({"标题": "", "描述": "a record without a title", "数据量": "12"})
    path = tmp_path / "export.json"
    export = {"code": 200, "data": {"total": 5, "rows": records}}
    path.write_text(json.dumps(export, ensure_ascii=False), encoding="utf-8")
    summary = run_harvest("nanning", str(path), now=NOW)
    assert (summary.seen, summary.new, summary.quarantined) == (5, 3, 2)
    reasons = {q.position: q.reason for q in _quarantine(store, summary.harvest_id)}
    assert reasons == {
        "data.rows item 2": "record is a JSON str, not an object",
        "data.rows item 5": "no title (fields with a value: description, record_count)"}


def test_gzip_is_recognised_by_its_bytes_not_its_name(store: Any, tmp_path: Path) -> None:
    path = tmp_path / "sichuan_aba.json"  # gzip content under a plain name
    path.write_bytes(gzip.compress((FIX / "sichuan_aba.json").read_bytes()))
    summary = run_harvest("aba", str(path), now=NOW)
    assert (summary.seen, summary.new) == (4, 4)
    assert {d.region for d in _datasets(store, "aba").values()} == {"阿坝藏族羌族自治州"}


def test_epoch_millisecond_dates(store: Any) -> None:
    summary = run_harvest("zhoushan", str(FIX / "zhejiang_zhoushan.json"), now=NOW)
    raw = fixture_records("zhejiang_zhoushan.json")
    datasets = {d.title: d for d in _datasets(store, "zhoushan").values()}
    first = datasets[raw[0]["资源名称"]]
    expected = datetime.fromtimestamp(raw[0]["更新日期"] / 1000, tz=UTC)
    assert first.modified == expected.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert first.region == "舟山市"
    assert summary.new == len(raw)


# --- CSV and XLSX ---------------------------------------------------------------------------


def _contents(db: Any, source: str) -> dict[str, dict[str, Any]]:
    return {d.title: d.content() for d in _datasets(db, source).values()}


def test_csv_in_gb18030_utf8_and_utf8_bom_read_alike(store: Any, tmp_path: Path) -> None:
    gb = FIX / "guangxi_nanning_gb18030.csv"
    text = gb.read_bytes().decode("gb18030")
    (tmp_path / "u8").mkdir()
    (tmp_path / "bom").mkdir()
    (tmp_path / "u8" / "guangxi_nanning.csv").write_bytes(text.encode("utf-8"))
    (tmp_path / "bom" / "guangxi_nanning.csv").write_bytes(text.encode("utf-8-sig"))
    results = {}
    for source, path in (("gb", gb), ("u8", tmp_path / "u8" / "guangxi_nanning.csv"),
                         ("bom", tmp_path / "bom" / "guangxi_nanning.csv")):
        summary = run_harvest(source, str(path), now=NOW)
        assert summary.format == "portal-csv" and summary.new == 6
        results[source] = _contents(store, source)
    assert results["gb"] == results["u8"] == results["bom"]
    titles = set(results["gb"])
    assert "交通招标公告" in titles
    first = results["gb"]["交通招标公告"]
    assert first["region"] == "南宁市" and first["open_type"] == "unconditional"
    assert first["formats"] == ["xls", "json", "csv"]


def test_csv_row_with_a_wrong_field_count_is_quarantined(store: Any, tmp_path: Path) -> None:
    lines = (FIX / "guangxi_nanning_gb18030.csv").read_text(encoding="gb18030").splitlines()
    lines.insert(2, "broken,line")
    path = tmp_path / "nanning.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    summary = run_harvest("nanning", str(path), now=NOW)
    assert (summary.seen, summary.new, summary.quarantined) == (7, 6, 1)
    [row] = _quarantine(store, summary.harvest_id)
    assert row.position == "line 3"
    assert row.reason.startswith("row has 2 fields where the header has")
    assert row.raw == "broken,line"


def _write_xlsx(path: Path, records: list[dict[str, Any]]) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "目录"
    sheet.append(["南宁市公共数据开放目录"])  # a title row above the header, as exports have
    columns = list(records[0])
    sheet.append(columns)
    for record in records:
        sheet.append([json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for v in
                      (record.get(c) for c in columns)])
    notes = book.create_sheet("说明")
    notes.append(["字段", "含义"])
    notes.append(["标题", "数据集名称"])
    book.save(path)


def test_xlsx_export_reads_like_the_json(store: Any, tmp_path: Path) -> None:
    records = fixture_records("guangxi_nanning.json")
    xlsx = tmp_path / "guangxi_nanning.csv"  # really XLSX, as some portals name them
    _write_xlsx(xlsx, records)
    summary = run_harvest("xlsx", str(xlsx), now=NOW)
    assert summary.format == "portal-xlsx"
    assert (summary.seen, summary.new, summary.quarantined) == (6, 6, 0)
    json_summary = run_harvest("json", NANNING, now=NOW)
    assert json_summary.new == 6
    from_xlsx = _contents(store, "xlsx")
    from_json = _contents(store, "json")
    for title in from_json:
        assert from_xlsx[title] == {**from_json[title], "region": "南宁市"}


# --- HDR UK and DCAT ----------------------------------------------------------------------------


def test_hdruk_csv_uses_its_id_column(store: Any) -> None:
    summary = run_harvest("hdruk", str(FIX / "hdruk_2020-05.csv"), now=NOW)
    rows = list(csv.DictReader(io.StringIO((FIX / "hdruk_2020-05.csv").read_text("utf-8"))))
    datasets = _datasets(store, "hdruk")
    assert set(datasets) == {f"hdruk:{row['id']}" for row in rows}
    assert summary.unmapped_labels == []
    fife = next(d for d in datasets.values() if d.title == "Fife Radiology")
    assert fife.publisher == "University of Dundee Health Informatics Centre"
    assert fife.description == "NHS Fife laboratory data. Fife 2009 – 2015."


def test_hdruk_2021_layout_with_nested_cells(store: Any) -> None:
    summary = run_harvest("hdruk", str(FIX / "hdruk_2021-04.csv"), now=NOW)
    assert summary.quarantined == 0 and summary.new == 4
    for dataset in _datasets(store, "hdruk").values():
        assert dataset.title and dataset.publisher
        assert dataset.modified and dataset.created


def test_dcat_data_json(store: Any) -> None:
    catalog = json.loads((FIX / "argentina_justicia.json").read_text(encoding="utf-8"))
    summary = run_harvest("justicia", str(FIX / "argentina_justicia.json"), now=NOW)
    assert summary.format == "dcat-json" and summary.new == 3
    datasets = _datasets(store, "justicia")
    labels = {t["id"]: t["label"] for t in catalog["themeTaxonomy"]}
    frequencies = {"R/P1D": "daily", "R/P1M": "monthly", "R/P3M": "quarterly",
                   "R/P6M": "semiannual", "R/P1Y": "yearly", "eventual": "irregular"}
    for raw in catalog["dataset"]:
        dataset = datasets[f"justicia:{raw['identifier']}"]
        assert dataset.title == raw["title"]
        assert dataset.publisher == raw["publisher"]["name"]
        assert dataset.tags == raw["keyword"]
        assert dataset.themes == [labels.get(t, t) for t in raw["theme"]]
        assert dataset.landing_page == raw["landingPage"]
        assert dataset.license == raw["license"]
        assert dataset.update_frequency == frequencies[raw["accrualPeriodicity"]]
        assert [r["url"] for r in dataset.resources] == [d.get("downloadURL") or d["accessURL"]
                                                         for d in raw["distribution"]]
        assert all(r["format"] == "csv" for r in dataset.resources)
        assert dataset.formats == ["csv"] and dataset.machine_readable is True


def test_dcat_licence_falls_back_to_the_catalog(store: Any, tmp_path: Path) -> None:
    catalog = json.loads((FIX / "argentina_justicia.json").read_text(encoding="utf-8"))
    catalog["license"] = "Creative Commons Attribution 4.0"
    for dataset in catalog["dataset"]:
        dataset.pop("license", None)
    path = tmp_path / "data.json"
    path.write_text(json.dumps(catalog, ensure_ascii=False), encoding="utf-8")
    run_harvest("justicia", str(path), now=NOW)
    licences = {d.license for d in _datasets(store, "justicia").values()}
    assert licences == {"Creative Commons Attribution 4.0"}


def test_format_can_be_forced(store: Any) -> None:
    with pytest.raises(HarvestError, match="not a DCAT catalog"):
        run_harvest("nanning", NANNING, fmt="dcat-json", now=NOW)
    summary = run_harvest("nanning", NANNING, fmt="portal-json", now=NOW)
    assert summary.new == 6


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize("content, message", [
    (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "cannot read"),  # gzip header, then garbage
    ('[{"标题": "交通"} {"标题": "公交"}]'.encode(), "is not valid JSON"),  # a missing comma
    ('[{"标题": "交通"}, {"标题": 公交}]'.encode(), "is not valid JSON"),
    (b"", "is empty"),
])
def test_unreadable_snapshots_raise_and_are_recorded(store: Any, tmp_path: Path, content: bytes,
                                                     message: str) -> None:
    path = tmp_path / "broken.json"
    path.write_bytes(content)
    with pytest.raises(HarvestError, match=message):
        run_harvest("broken", str(path), now=NOW)
    with store.session() as session:
        harvest = session.scalars(select(Harvest).order_by(Harvest.id.desc())).first()
    assert harvest.state == "error" and message in harvest.error
    assert _datasets(store, "broken") == {}


def test_json_cut_short_keeps_its_whole_records_and_quarantines_the_cut_one(
        store: Any, tmp_path: Path) -> None:
    path = tmp_path / "cut.json"
    path.write_bytes('[{"标题": "交通"}, {"标题": "公交"}, {"标题": '.encode())
    summary = run_harvest("cut", str(path), now=NOW)
    assert (summary.seen, summary.new, summary.quarantined) == (3, 2, 1)
    with store.session() as session:
        rejected = session.scalars(select(QuarantinedRecord)).all()
    assert [r.reason for r in rejected] == ["the snapshot ends inside this record: it was cut short"]
    assert "标题" in rejected[0].raw  # the cut text is kept for the admin to see


def test_truncated_gzip_of_a_real_file(store: Any, tmp_path: Path) -> None:
    data = gzip.compress((FIX / "shanghai_shanghai.json").read_bytes())
    path = tmp_path / "shanghai.json.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(HarvestError, match="truncated or not valid gzip"):
        run_harvest("shanghai", str(path), now=NOW)


def test_missing_file_bad_source_and_bad_format(store: Any, tmp_path: Path) -> None:
    with pytest.raises(HarvestError, match="no such file"):
        run_harvest("x", str(tmp_path / "nope.json"), now=NOW)
    with pytest.raises(HarvestError, match="bad source name"):
        run_harvest("has space", str(tmp_path), now=NOW)
    with pytest.raises(HarvestError, match="unknown format"):
        run_harvest("x", str(tmp_path), fmt="rdf", now=NOW)
    with pytest.raises(HarvestError, match="is a directory"):
        run_harvest("x", str(tmp_path), now=NOW)
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\x00\x01\x02binary")
    with pytest.raises(HarvestError, match="pass --format"):
        run_harvest("x", str(blob), now=NOW)


def test_a_bad_mapping_file_stops_the_harvest(store: Any, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text('{"标题": "heading"}', encoding="utf-8")
    with pytest.raises(HarvestError, match="unknown field 'heading'"):
        run_harvest("nanning", NANNING, mapping_path=str(mapping), now=NOW)


def test_user_mapping_changes_what_is_read(store: Any, tmp_path: Path) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"所属行业": None, "重点领域": None}), encoding="utf-8")
    run_harvest("nanning", NANNING, mapping_path=str(mapping), now=NOW)
    assert all(d.themes == [] for d in _datasets(store, "nanning").values())


# --- http, progress, task ---------------------------------------------------------------------


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root
    finally:
        server.shutdown()
        server.server_close()


def test_harvest_over_http(store: Any, http_root: tuple[str, Path]) -> None:
    base, root = http_root
    (root / "guangxi_nanning.json.gz").write_bytes(gzip.compress(Path(NANNING).read_bytes()))
    summary = run_harvest("nanning", f"{base}/guangxi_nanning.json.gz", now=NOW)
    assert (summary.seen, summary.new) == (6, 6)
    assert {d.region for d in _datasets(store, "nanning").values()} == {"南宁市"}
    with pytest.raises(HarvestError, match="HTTP 404"):
        run_harvest("nanning", f"{base}/missing.json", now=NOW)


def test_progress_bar_goes_to_stderr(store: Any, capsys: pytest.CaptureFixture[str]) -> None:
    run_harvest("nanning", NANNING, progress=True, now=NOW)
    captured = capsys.readouterr()
    assert "nanning" in captured.err and captured.out == ""


def test_celery_task_runs_the_harvest(store: Any) -> None:
    from search.tasks import harvest_source

    result = harvest_source.apply(args=("nanning", NANNING)).get()
    assert result["new"] == 6 and result["source"] == "nanning"
    assert json.loads(json.dumps(result)) == result  # what a broker would carry


# --- real data ------------------------------------------------------------------------------


def _portal_files() -> list[Path]:
    root = SHARED / "cnpds-china-portals"
    return sorted(p for p in root.glob("*/*.json*") if p.parent.name != "_mappings")


@pytest.mark.realdata
def test_every_cnpds_portal_and_dcat_us_catalog(indexed_store: Any) -> None:
    files = _portal_files()
    assert len(files) == 68  # older_versions/ is one level deeper and not included
    dcat = sorted((SHARED / "dcat-us-arcgis" / "latest").iterdir())
    totals = {"seen": 0, "new": 0, "quarantined": 0}
    for path in files + dcat:
        source = path.name.split(".")[0].replace("_", "-")
        summary = run_harvest(source, str(path), now=NOW)
        assert _balanced(summary), (path.name, summary)
        assert summary.warnings == [] or path.name.startswith("_"), (path.name, summary.warnings)
        assert summary.index_failures == [], path.name
        assert summary.unmapped_labels == [], (path.name, summary.unmapped_labels)
        for key in totals:
            totals[key] += getattr(summary, key)
    assert totals["seen"] > 127_000 + 18_000
    from config.extensions import db

    assert _live(db) == totals["new"] == indexed_store.count()


@pytest.mark.realdata
def test_hdruk_monthly_snapshots_replay(store: Any) -> None:
    history = sorted((SHARED / "hdruk-gateway" / "datasets_csv_history").glob("*.csv.gz"))
    assert len(history) == 12
    live = 0
    for path in history:
        taken = datetime.fromisoformat(path.name.split("_")[1]).replace(tzinfo=UTC)
        summary = run_harvest("hdruk", str(path), now=taken)
        assert _balanced(summary) and summary.quarantined == 0 and summary.unmapped_labels == []
        live = live + summary.new - summary.removed
        assert live == summary.new + summary.changed + summary.unchanged
    assert _live(store) == live
