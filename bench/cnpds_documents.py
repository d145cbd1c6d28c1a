"""Minimal conversion of the raw CNPDS portal files into search documents.

For the search benchmark and the search test fixtures only: it reads every portal
file and maps the portal's own labels through ``_mappings/field_mapping.json``
without the checks, quarantine and history of the real harvester.

``python -m bench.cnpds_documents --fixture`` rewrites the small test extract
``tests/fixtures/search/cnpds_sample.json`` (Apache-2.0 portals only, not tamakow/).
"""

from __future__ import annotations

import argparse
import ast
import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from search.harvest.portal_json import load_json_values

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cnpds-china-portals"
FIXTURE = (
    Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "search" / "cnpds_sample.json"
)

_OPEN = (
    ("无条件", "unconditional"),
    ("完全开放", "unconditional"),
    ("有条件", "conditional"),
    ("登录", "conditional"),
    ("申请", "conditional"),
    ("受限", "restricted"),
    ("不予", "restricted"),
)
_FREQ = (
    ("实时", "realtime"),
    ("即时", "realtime"),
    ("分钟", "realtime"),
    ("小时", "hourly"),
    ("每日", "daily"),
    ("每天", "daily"),
    ("每周", "weekly"),
    ("半月", "monthly"),
    ("每月", "monthly"),
    ("季度", "quarterly"),
    ("半年", "semiannual"),
    ("两年", "irregular"),
    ("年", "yearly"),
    ("不定", "irregular"),
)
_MACHINE = {"csv", "json", "xml", "xls", "xlsx", "rdf", "api", "excel", "geojson", "shp"}
_DATE = re.compile(r"(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})")
_SPLIT = re.compile(r"[\s,，、;；|/]+")


def read_records(path: Path) -> list[dict[str, Any]]:
    """Records of one portal file (some hold several JSON arrays one after another)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        text = handle.read()
    out: list[Any] = []
    for value in load_json_values(text, str(path)):
        out.extend(value if isinstance(value, list) else [value])
    return [r for r in out if isinstance(r, dict)]


def portal_files(data_dir: Path, include_tamakow: bool = True) -> list[Path]:
    folders = ["datacrawler", "guangxi_hainan", "sichuan_guizhou"] + (
        ["tamakow"] if include_tamakow else []
    )
    return sorted(p for folder in folders for p in (data_dir / folder).glob("*.json*"))


def documents(
    data_dir: Path = DEFAULT_DATA, include_tamakow: bool = True
) -> Iterator[dict[str, Any]]:
    """Every portal record as a search document."""
    mapping = json.loads((data_dir / "_mappings" / "field_mapping.json").read_text("utf-8"))
    places = json.loads((data_dir / "_mappings" / "name_mapping.json").read_text("utf-8"))
    for path in portal_files(data_dir, include_tamakow):
        portal = path.name.split(".")[0]
        province, city = portal.split("_", 1)
        labels = {**mapping["common"], **mapping["ad-hoc"].get(province, {}).get(city, {})}
        region = places.get(province, {}).get(city, city)
        for n, record in enumerate(read_records(path)):
            yield to_document(f"cnpds-{portal}", f"{n:05d}", region, record, labels)


def to_document(
    source: str, native: str, region: str, record: dict[str, Any], labels: dict[str, str]
) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    for label, value in record.items():
        name = labels.get(label)
        if name and name not in raw and _present(value):
            raw[name] = value
    formats = _formats(raw.get("data_formats"))
    doc: dict[str, Any] = {
        "id": f"{source}:{native}",
        "source": source,
        "title": _str(raw.get("title")),
        "description": _str(raw.get("description")),
        "publisher": _str(raw.get("department")),
        "region": region,
        "themes": _words(raw.get("category")) + _words(raw.get("industry")),
        "tags": _words(raw.get("tags")),
        "formats": formats,
        "machine_readable": bool(set(formats) & _MACHINE) if formats else None,
        "open_type": _lookup(_str(raw.get("is_open")), _OPEN),
        "update_frequency": _lookup(_str(raw.get("update_frequency")), _FREQ),
        "license": "",
        "created": _date(raw.get("publish_time")),
        "modified": _date(raw.get("update_time")),
        "record_count": _count(raw.get("data_volume")),
        "resources": [],
        "landing_page": _str(raw.get("url")),
        "size": None,
    }
    keys = (
        "title",
        "description",
        "publisher",
        "themes",
        "formats",
        "open_type",
        "update_frequency",
        "created",
        "modified",
        "record_count",
    )
    doc["quality"] = {
        "completeness": round(sum(1 for k in keys if doc[k]) / len(keys), 2),
        "timeliness": None,
        "accuracy": None,
    }
    return doc


def _present(value: Any) -> bool:
    return value not in (None, "", [], "None", "null", "暂无", "无", "[]", "undefined")


def _str(value: Any) -> str:
    return " ".join(str(value).split()) if _present(value) else ""


def _words(value: Any) -> list[str]:
    if isinstance(value, str) and value.startswith("["):
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            pass
    items = value if isinstance(value, list) else _SPLIT.split(str(value or ""))
    out = []
    for item in items:
        item = str(item).strip()
        if _present(item) and item not in out and item != "SODA2022":
            out.append(item)
    return out


def _formats(value: Any) -> list[str]:
    out = []
    for item in _words(value):
        item = item.lower().split("-")[-1]
        if item and item not in out:
            out.append(item)
    return out


def _lookup(text: str, table: tuple[tuple[str, str], ...]) -> str:
    return next((code for key, code in table if key in text), "")


def _date(value: Any) -> str | None:
    found = _DATE.search(str(value or ""))
    if not found:
        return None
    year, month, day = (int(x) for x in found.groups())
    if not (1990 <= year <= 2030 and 1 <= month <= 12 and 1 <= day <= 31):
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


def _count(value: Any) -> int | None:
    digits = re.sub(r"[,\s]", "", str(value or ""))
    return int(digits) if digits.isdigit() else None


# Words whose real titles make good text tests: 交通 next to 外交 (对外交通量 holds both,
# 涉外交流 only the latter), 公共 next to 交易 (公共资源交易 must not match 公共交通),
# 公交 and 通知 in one title (交 and 通 apart).
PROBE_WORDS = ("交通", "外交", "公共交通", "公共资源交易", "公交", "出租", "外事")


def write_fixture(data_dir: Path = DEFAULT_DATA, per_portal: int = 2, per_word: int = 1) -> int:
    """Write the small test extract: the first records of each Apache-2.0 portal plus
    a few whose titles hold each probe word."""
    picked: dict[str, dict[str, Any]] = {}
    seen: dict[tuple[str, str], int] = {}
    for doc in documents(data_dir, include_tamakow=False):
        source = doc["source"]
        keys = [(source, "")] + [(source, w) for w in PROBE_WORDS if w in doc["title"]]
        for key in keys:
            limit = per_portal if key[1] == "" else per_word
            if seen.get(key, 0) < limit:
                seen[key] = seen.get(key, 0) + 1
                picked[doc["id"]] = doc
    docs = list(picked.values())
    FIXTURE.parent.mkdir(parents=True, exist_ok=True)
    FIXTURE.write_text(json.dumps(docs, ensure_ascii=False, indent=0) + "\n", "utf-8")
    return len(docs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--fixture", action="store_true", help="rewrite the test extract")
    args = parser.parse_args()
    if args.fixture:
        print(f"wrote {write_fixture(args.data)} documents to {FIXTURE}")
    else:
        print(sum(1 for _ in documents(args.data)), "documents")
