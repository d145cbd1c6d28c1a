"""Normalisation of real portal wording: open types, frequencies, dates, formats,
counts, lists, regions; the field mapping."""
from __future__ import annotations

import gzip
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from search import vocabulary
from search.harvest.portal_json import load_json_values
from search.mapping import MappingError, load_mapping
from search.normalise import (
    RecordError,
    normalise_record,
    parse_count,
    parse_date,
    parse_list,
    split_tags,
)
from search.regions import portal_path, region_from_name
from tests.search.conftest import fixture_records

# --- open type -------------------------------------------------------------------


@pytest.mark.parametrize("wording, expected", [
    ("无条件开放", "unconditional"), ("有条件开放", "conditional"), ("不予开放", "restricted"),
    ("依申请开放", "conditional"), ("申请开放", "conditional"), ("受限开放", "conditional"),
    ("完全开放", "unconditional"), ("登录开放", "registration"), ("实名制开放", "registration"),
    ("无条件共享", "unconditional"),
    ("无条件", "unconditional"), ("有条件", "conditional"), ("禁止开放", "restricted"),
    ("普通公开,简单注册用户可下载", "registration"), ("需申请", "conditional"),
    ("無條件開放", "unconditional"), ("有條件開放", "conditional"), ("不予開放", "restricted"),
    ("public", "unconditional"), ("restricted public", "conditional"), ("non-public", "restricted"),
    ("ABIERTO", "unconditional"),
    ("开放网站", ""), ("暂无", ""), ("", ""), ("1级\t不脱敏", ""),
])
def test_open_type_wordings(wording: str, expected: str) -> None:
    assert vocabulary.open_type(wording) == expected


def test_open_type_ignores_non_text() -> None:
    assert vocabulary.open_type(None) == ""
    assert vocabulary.open_type(1) == ""


# --- update frequency --------------------------------------------------------------


@pytest.mark.parametrize("wording, expected", [
    ("实时", "realtime"), ("每日", "daily"), ("每天", "daily"), ("每周", "weekly"), ("每月", "monthly"),
    ("每季度", "quarterly"), ("季度", "quarterly"), ("每半年", "semiannual"), ("半年", "semiannual"),
    ("每年", "yearly"), ("年", "yearly"), ("按年更新", "yearly"), ("每两年", "yearly"),
    ("不定期", "irregular"), ("不定时", "irregular"), ("不定期更新", "irregular"), ("不更新", "never"),
    ("静态数据", "never"), ("即时", "realtime"), ("分钟级", "realtime"), ("小时级", "hourly"),
    ("每年(更新说明:暂无新业务数据产生)", "yearly"), ("不更新(更新说明:暂无新业务数据产生)", "never"),
    ("每週", "weekly"), ("即時", "realtime"), ("每小時", "hourly"),
    ("R/P1M", "monthly"), ("R/P3M", "quarterly"), ("R/P6M", "semiannual"), ("R/P1Y", "yearly"),
    ("R/P1D", "daily"), ("R/PT1H", "hourly"), ("R/PT1S", "realtime"), ("R/P1W", "weekly"),
    ("R/P2Y", "yearly"), ("R/P0.5M", "monthly"), ("R/P4M", "quarterly"), ("eventual", "irregular"),
    ("never", "never"), ("不定期", "irregular"),
    ("Quarterly", "quarterly"), ("1 Month Cycle", "monthly"),
    ("Provisional data: Monthly", "monthly"), ("Annually", "yearly"), ("BIANNUAL", "semiannual"),
    ("STATIC", "never"), ("CONTINUOUS", "realtime"),
    ("其他", ""), ("其它", ""), ("自定义", ""), ("IN PROGRESS", ""), ("OTHER", ""), ("", ""),
])
def test_update_frequency_wordings(wording: str, expected: str) -> None:
    assert vocabulary.update_frequency(wording) == expected


def test_iso_duration_days() -> None:
    assert vocabulary.duration_days("R/P1M") == pytest.approx(30.44)
    assert vocabulary.duration_days("PT12H") == pytest.approx(0.5)
    assert vocabulary.duration_days("R/P") is None
    assert vocabulary.duration_days("monthly") is None


# --- dates ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("2023-06-17", "2023-06-17"),
    ("2023-06-17\n07:35", "2023-06-17T07:35:00"),  # Hainan's 目录发布时间
    ("2023/6/17", "2023-06-17"),
    ("2019/11/22 10:24:45", "2019-11-22T10:24:45"),
    ("2023年6月17日", "2023-06-17"),
    ("2021-7-06", "2021-07-06"),
    ("2020-3-3", "2020-03-03"),
    (1608174549000, "2020-12-17T03:09:09Z"),  # Zhoushan's epoch milliseconds
    ("1608174549000", "2020-12-17T03:09:09Z"),
    ("2017-01-02T20:41:34.000Z", "2017-01-02T20:41:34Z"),
    ("2016-09-19T17:30:38.744175", "2016-09-19T17:30:38"),
    ("2023-06-07T10:02:51+08:00", "2023-06-07T02:02:51Z"),
    ("20230617", "2023-06-17"),
    ("2023-06", "2023-06"),
    ("107/05/07", "2018-05-07"),  # Taiwan, year of the Republic
    ("2023-13-01", None), ("2023-02-30", None), ("04/26\n   ", None), ("暂无", None), ("", None),
    (None, None), (True, None), (42, None),
])
def test_parse_date(raw: object, expected: str | None) -> None:
    assert parse_date(raw) == expected


def test_parse_date_keeps_datetime_objects() -> None:
    assert parse_date(datetime(2023, 6, 17, 7, 35)) == "2023-06-17T07:35:00"
    assert parse_date(datetime(2023, 6, 17)) == "2023-06-17"
    assert parse_date(datetime(2023, 6, 17, 7, 35, tzinfo=UTC)) == "2023-06-17T07:35:00Z"


# --- counts, lists, formats -----------------------------------------------------------


@pytest.mark.parametrize("raw, expected", [
    ("1,241,609", 1241609), ("0", 0), (0, 0), (12681, 12681), ("约1筆", 1), (" 1", 1),
    ("12.5万", 125000), ("1000条", 1000), (1000.0, 1000), ("暂无", None), ("", None), (None, None),
    (-5, None), (True, None),
    ("３", 3),
])
def test_parse_count(raw: object, expected: int | None) -> None:
    assert parse_count(raw) == expected


def test_parse_list_shapes() -> None:
    assert parse_list("['xls', 'xml']") == ["xls", "xml"]
    assert parse_list(["a", "", "b"]) == ["a", "b"]
    assert parse_list("生活服务,社保就业") == ["生活服务", "社保就业"]
    # 、 belongs to theme names; it is not a separator for themes
    assert parse_list("公共管理、社会保障和社会组织") == ["公共管理、社会保障和社会组织"]
    assert parse_list("暂无") == []


def test_tags_split_like_the_portals_write_them() -> None:
    assert parse_list("绍兴市、城镇、公共、厕所", split_tags) == ["绍兴市", "城镇", "公共", "厕所"]
    assert parse_list("民政、社区\r\n\t公共管理、社会保障和社会组织", split_tags) == [
        "民政、社区", "公共管理、社会保障和社会组织"]
    assert parse_list("公路 桥梁 明细 信息", split_tags) == ["公路", "桥梁", "明细", "信息"]
    assert parse_list(["Flood Zones", "ACS"], split_tags) == ["Flood Zones", "ACS"]


@pytest.mark.parametrize("raw, expected", [
    (["json"], ["json"]),
    ("['xls', 'xml', 'json', 'csv', 'rdf', '接口']", ["xls", "xml", "json", "csv", "rdf", "api"]),
    ("xls,xml,json,csv", ["xls", "xml", "json", "csv"]),
    ("电子表格-xlsx", ["xlsx"]), ("数据库/mysql", ["mysql"]), ("数据库:impala", ["impala"]),
    ("电子表格-其他", ["xls"]), ("03,0310", []), ("EXCEL", ["xls"]), ("text/csv", ["csv"]),
    ("application/vnd.geo+json", ["geojson"]), ("Esri REST", ["esri rest"]), ("Web page", ["html"]),
    ("['api']", ["api"]), ([], []), (None, []), ("其他", []),
])
def test_format_tokens(raw: object, expected: list[str]) -> None:
    assert vocabulary.format_tokens(raw) == expected


def test_machine_readable_follows_formats() -> None:
    assert vocabulary.machine_readable(["pdf", "csv"]) is True
    assert vocabulary.machine_readable(["docx", "pdf"]) is False
    assert vocabulary.machine_readable(["file"]) is None
    assert vocabulary.machine_readable([]) is None


# --- regions -------------------------------------------------------------------------


@pytest.mark.parametrize("name, expected", [
    ("zhejiang_hangzhou.json.gz", "杭州市"), ("../shared/data/x/guangxi_guangxi.json", "广西壮族自治区"),
    ("shanghai_shanghai.json.gz", "上海市"), ("2023-06-13_9290ca7_anhui_suzhou.json.gz", "宿州市"),
    ("sichuan_aba.json.gz", "阿坝藏族羌族自治州"), ("xinjiang_wlmq.json", "乌鲁木齐市"),
    ("01_taipei.json.gz", ""), ("catalog.csv", ""),
])
def test_region_from_file_name(name: str, expected: str) -> None:
    assert region_from_name(name) == expected


# --- whole records ----------------------------------------------------------------------


def test_sichuan_aba_record_with_english_keys() -> None:
    mapping = load_mapping()
    raw = fixture_records("sichuan_aba.json")[0]
    doc = normalise_record(mapping.apply(raw), portal_path("sichuan_aba.json.gz"))
    assert doc["title"] == raw["subjectBaseName"]
    assert doc["publisher"] == raw["orgName"]
    assert doc["formats"] == ["xls", "xml", "json", "csv"]
    assert doc["machine_readable"] is True
    assert doc["open_type"] == vocabulary.open_type(raw["openTypeName"]) != ""
    assert doc["record_count"] == raw["dataNumSum"]
    assert doc["created"] == raw["releaseTime"].replace(" ", "T")
    assert doc["region"] == "阿坝藏族羌族自治州"
    assert doc["region_path"] == ["四川省", "阿坝藏族羌族自治州"]
    assert doc["landing_page"] == raw["详情页网址"]
    assert doc["tags"] == []  # its label is always the placeholder 暂无


def test_a_district_column_wins_over_the_file_region() -> None:
    mapping = load_mapping()
    hangzhou = portal_path("zhejiang_hangzhou.json.gz")
    doc = normalise_record(mapping.apply({"资源名称": "公交线路", "所属区县": "西湖区"}), hangzhou)
    assert doc["region"] == "西湖区"
    # 西湖区 is also a district of Nanchang: the portal places it.
    assert doc["region_path"] == ["浙江省", "杭州市", "西湖区"]
    doc = normalise_record(mapping.apply({"资源名称": "公交线路"}), hangzhou)
    assert doc["region"] == "杭州市"
    assert doc["region_path"] == ["浙江省", "杭州市"]


def test_traditional_chinese_record() -> None:
    mapping = load_mapping()
    raw = fixture_records("taiwan_taichung.json")[0]
    doc = normalise_record(mapping.apply(raw))
    assert doc["title"] == raw["資料集名稱"]
    assert doc["publisher"] == raw["資料來源(部會單位)"]
    assert doc["modified"] == raw["最後更新時間"]
    assert doc["record_count"] == int(raw["資料量"])


def test_first_usable_candidate_wins() -> None:
    # Yancheng: 开放类型 says only 可开放; 开放条件 carries the real type.
    mapping = load_mapping()
    doc = normalise_record(mapping.apply({"目录名称": "x", "开放类型": "可开放", "开放条件": "有条件开放"}))
    assert doc["open_type"] == "conditional"


def test_record_without_title_is_rejected_with_a_reason() -> None:
    mapping = load_mapping()
    with pytest.raises(RecordError) as error:
        normalise_record(mapping.apply({"标题": "  ", "更新频率": "每年", "数据量": "3"}))
    assert "no title" in str(error.value)
    assert "record_count" in str(error.value) and "update_frequency" in str(error.value)


def test_html_licence_and_description_become_text() -> None:
    doc = normalise_record({"title": ["t"], "description": ["<p>Roads &amp; <b>bridges</b></p>"],
                            "license": ["<span style='x'>" + "Public domain. " * 60 + "</span>"]})
    assert doc["description"] == "Roads & bridges"
    assert doc["license"].startswith("Public domain.") and len(doc["license"]) <= 512


# --- mapping -------------------------------------------------------------------------------


def test_user_mapping_overlays_the_default(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    user = {"名称": "description", "数据集名称": None, "Nombre": "title"}
    path.write_text(json.dumps(user), encoding="utf-8")
    mapping = load_mapping(path)
    mapped = mapping.apply({"数据集名称": "ignored now", "Nombre": "Título", "名称": "说明"})
    assert mapped == {"title": ["Título"], "description": ["说明"]}


def test_user_mapping_first_in_preference(tmp_path: Path) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(json.dumps({"备注": "title"}), encoding="utf-8")
    mapped = load_mapping(path).apply({"标题": "default title", "备注": "preferred title"})
    assert mapped["title"] == ["preferred title", "default title"]


@pytest.mark.parametrize("content, message", [
    ('{"标题": "headline"}', "unknown field 'headline'"),
    ('["标题"]', "must be a JSON object"),
    ('{"标题": 3}', "must be a string or null"),
    ("{not json", "not valid JSON"),
])
def test_bad_mapping_files_are_explained(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "mapping.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(MappingError, match=message):
        load_mapping(path)


def test_labels_match_without_trailing_colon() -> None:
    assert load_mapping().apply({"开放条件：": "有条件开放"}) == {"open_type": ["有条件开放"]}


def test_dotted_labels_reach_into_nested_cells() -> None:
    # HDR UK's 2021 layout keeps title, publisher and keywords in a dict literal cell.
    cell = ("{'title': 'PTCL Biobank', 'keywords': ['PTCL', 'Biobank'], "
            "'publisher': {'name': 'TISSUE DIRECTORY'}}")
    mapped = load_mapping().apply({"summary": cell, "id": "0121c132"})
    assert mapped["title"] == ["PTCL Biobank"]
    assert mapped["publisher"] == ["TISSUE DIRECTORY"]
    assert mapped["tags"] == [["PTCL", "Biobank"]]
    assert mapped["native_id"] == ["0121c132"]


def test_ckan_package_fields() -> None:
    # The shape of a CKAN package_show / package_search result.
    package = {"id": "3b1f", "title": "Bus stops", "notes": "All stops",
               "organization": {"name": "transit", "title": "Transit Agency"},
               "tags": [{"name": "transport"}, {"name": "bus"}], "license_title": "CC-BY-4.0",
               "metadata_created": "2021-03-04T10:00:00.123456",
               "metadata_modified": "2023-01-02T03:04:05.000001",
               "resources": [{"format": "CSV", "url": "https://example.org/a.csv"},
                             {"format": "GeoJSON", "url": "https://example.org/a.geojson"}]}
    doc = normalise_record(load_mapping().apply(package))
    assert (doc["native_id"], doc["title"]) == ("3b1f", "Bus stops")
    assert doc["description"] == "All stops"
    assert (doc["publisher"], doc["license"]) == ("Transit Agency", "CC-BY-4.0")
    assert doc["tags"] == ["transport", "bus"] and doc["formats"] == ["csv", "geojson"]
    assert (doc["created"], doc["modified"]) == ("2021-03-04T10:00:00", "2023-01-02T03:04:05")


def test_unmapped_labels_are_reported() -> None:
    mapping = load_mapping()
    mapping.apply({"标题": "x", "联系电话": "123", "某个新字段": "?"})
    assert mapping.unmapped == {"某个新字段"}  # contacts are ignored on purpose, not "unmapped"


CNPDS = Path(__file__).resolve().parents[3] / "shared" / "data" / "cnpds-china-portals"


def _cnpds_files() -> list[Path]:
    return sorted(p for p in CNPDS.glob("*/*.json*") if p.parent.name != "_mappings")


def _cnpds_records(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    records: list[dict] = []
    for value in load_json_values(text, str(path)):
        records.extend(value)
    return records


@pytest.mark.realdata
def test_default_mapping_covers_every_cnpds_label() -> None:
    labels = set(load_mapping().labels)
    files = _cnpds_files()
    assert len(files) == 68
    missing = {}
    for path in files:
        found = {label for record in _cnpds_records(path) for label in record}
        if found - labels:
            missing[path.name] = sorted(found - labels)
    assert missing == {}


@pytest.mark.realdata
def test_default_mapping_agrees_with_the_cnpds_reference() -> None:
    reference_file = CNPDS / "_mappings" / "field_mapping.json"
    reference = json.loads(reference_file.read_text(encoding="utf-8"))["common"]
    ours = load_mapping().labels
    meaning = {"title": "title", "description": "description", "department": "publisher",
               "category": "themes", "industry": "themes", "tags": "tags",
               "data_formats": "formats", "is_open": "open_type",
               "update_frequency": "update_frequency", "publish_time": "created",
               "update_time": "modified", "data_volume": "record_count", "url": "landing_page",
               "email": None, "telephone": None}
    # "label" is a title in the HDR UK export and only ever 暂无 in Sichuan Aba's.
    exceptions = {"label"}
    disagreements = {label: (field, ours.get(label, "missing"))
                     for label, field in reference.items()
                     if label not in exceptions and ours.get(label, "missing") != meaning[field]}
    assert disagreements == {}
