"""Normalisation: a mapped record (field → candidate values) becomes a dataset dict.

Single-valued fields take the first candidate that normalises to something; list
fields (themes, tags, formats) take the union of all candidates. A value that cannot
be understood (a date without a year, a count of "暂无") is left empty rather than
guessed. Only a record with no usable title is rejected, with a :class:`RecordError`
whose message says why.
"""
from __future__ import annotations

import ast
import html
import json
import math
import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from search import regions, vocabulary

PUBLISHER_MAX = 512
REGION_MAX = 256
LICENSE_MAX = 512
# Values portals put where they have nothing to say.
PLACEHOLDERS = frozenset({
    "", "暂无", "无", "null", "none", "undefined", "nan", "n/a", "na", "-", "--", "—", "/", "未知",
    "in progress", "not specified", "not available", "unknown", "默认主题", "默认行业", "暂无数据",
})
_PLACEHOLDER_MAX = max(len(p) for p in PLACEHOLDERS)
LICENSE_PLACEHOLDERS = frozenset({
    "license not specified", "no se especificó la licencia",
    "please contact the publisher using contact point details provided.",
})
_WHITESPACE = re.compile(r"\s+")
_TAG = re.compile(r"<(/?[a-zA-Z][^<>]*|!--.*?--)>", re.S)
_LIST_SPLIT = re.compile(r"[,，;；|\n\r\t]+")
_CJK = re.compile(r"[\u3400-\u9fff]")
_URL = re.compile(r"^https?://\S+$", re.I)
_DATE = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
    r"(?:[\sT]*(\d{1,2})\s*[:时]\s*(\d{1,2})(?:\s*[:分]\s*(\d{1,2})(?:[.,]\d+)?\s*秒?)?)?"
    r"\s*(Z|[+-]\d{2}:?\d{2})?$", re.I)
_YEAR_MONTH = re.compile(r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*月?$")
# Taiwan counts years of the Republic: 107/05/07 is 2018-05-07.
_ROC_DATE = re.compile(r"^(\d{2,3})[/.-](\d{1,2})[/.-](\d{1,2})$")
_COUNT = re.compile(r"^(\d+(?:\.\d+)?)([万亿千]?)$")
_MULTIPLIER = {"": 1, "千": 1_000, "万": 10_000, "亿": 100_000_000}


class RecordError(ValueError):
    """A record that cannot become a dataset; ``str(error)`` is the human reason."""


# --- scalar values -------------------------------------------------------------

def clean_text(value: Any) -> str:
    """A value as one line of text ("" for placeholders, lists joined with "; ")."""
    if value is None or isinstance(value, bool):
        return ""
    if isinstance(value, str):
        text = " ".join(value.split())  # collapses any run of (Unicode) whitespace
    elif isinstance(value, int):
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            return ""
        text = str(int(value)) if value.is_integer() else repr(value)
    elif isinstance(value, dict):
        for key in ("name", "label", "title", "value", "fn"):
            if isinstance(value.get(key), str):
                return clean_text(value[key])
        return ""
    elif isinstance(value, (list, tuple)):
        return "; ".join(t for t in (clean_text(v) for v in value) if t)
    else:
        text = _WHITESPACE.sub(" ", str(value)).strip()
    return "" if len(text) <= _PLACEHOLDER_MAX and text.lower() in PLACEHOLDERS else text


def strip_html(text: str) -> str:
    """Plain text from a value that may be HTML (DCAT-US descriptions and licences)."""
    if "<" not in text and "&" not in text:
        return text
    text = _TAG.sub(" ", text)
    return _WHITESPACE.sub(" ", html.unescape(text)).strip()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _iso(year: int, month: int, day: int, hour: int | None = None, minute: int = 0,
         second: int = 0, zone: str | None = None) -> str | None:
    if not 1900 <= year <= 2100:
        return None
    try:
        if hour is None:
            date(year, month, day)  # validates
            return f"{year:04d}-{month:02d}-{day:02d}"
        moment = datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None
    if not zone:
        return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}"
    if zone.upper() != "Z":  # convert to UTC so every zoned value compares as text
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        moment = moment - timedelta(minutes=sign * (int(digits[:2]) * 60 + int(digits[2:])))
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_epoch(number: float) -> str | None:
    seconds = number / 1000 if number > 1e11 else number
    try:
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if 1900 <= moment.year <= 2100 else None


def parse_date(value: Any) -> str | None:
    """An ISO 8601 date (``2023-06-17``) or date-time (``2023-06-17T07:35:00``, with
    ``Z`` when the source gave a zone or an epoch), or None when not a date."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if value.time() == datetime.min.time():
            return value.date().isoformat()
        return value.strftime("%Y-%m-%dT%H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (int, float)):
        return _from_epoch(float(value)) if value > 1e8 else None
    if not isinstance(value, str):
        return None
    return _parse_date_text(value)


@lru_cache(maxsize=65536)  # a portal publishes many datasets on the same day
def _parse_date_text(value: str) -> str | None:
    text = value.strip()
    if not text:
        return None
    if len(text) == 10 and text[4] == "-" and text[7] == "-":  # the common case, fast
        try:
            return _iso(int(text[:4]), int(text[5:7]), int(text[8:]))
        except ValueError:
            pass
    match = _DATE.match(text)
    if match:
        y, m, d, hh, mm, ss, zone = match.groups()
        hour = int(hh) if hh else None
        return _iso(int(y), int(m), int(d), hour, int(mm or 0), int(ss or 0), zone)
    if text.isascii() and text.isdigit():
        if len(text) == 8:
            return _iso(int(text[:4]), int(text[4:6]), int(text[6:]))
        if len(text) in (10, 13):
            return _from_epoch(float(text))
        if len(text) == 4 and 1900 <= int(text) <= 2100:
            return text
        return None
    match = _YEAR_MONTH.match(text)
    if match and 1 <= int(match.group(2)) <= 12 and 1900 <= int(match.group(1)) <= 2100:
        return f"{int(match.group(1)):04d}-{int(match.group(2)):02d}"
    match = _ROC_DATE.match(text)
    if match and int(match.group(1)) < 200:
        return _iso(int(match.group(1)) + 1911, int(match.group(2)), int(match.group(3)))
    return None


def parse_count(value: Any) -> int | None:
    """A non-negative whole number from ``1241609``, ``"1,241,609"``, ``"约1筆"``, ``"12.5万"``."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value >= 0 else None
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and value >= 0 else None
    if not isinstance(value, str):
        return None
    if value.isascii() and value.isdigit():  # the common case, fast
        return int(value)
    text = value.strip().replace(",", "").replace("，", "").replace(" ", "")
    # Character sets on purpose: any run of these marks goes, in any order.
    text = text.lstrip("约約~≈大概").rstrip("条筆笔行条记录余多+")  # noqa: B005
    text = text.removesuffix("records").removesuffix("rows")
    match = _COUNT.match(text)
    if not match:
        return None
    number = float(match.group(1)) * _MULTIPLIER[match.group(2)]
    return int(number) if number < 2**63 else None


def split_list(text: str) -> list[str]:
    """Items of a separated string: commas, semicolons, bars, line breaks, tabs.
    Not 、: it is part of many theme names (公共管理、社会保障和社会组织)."""
    return _LIST_SPLIT.split(text)


def split_tags(text: str) -> list[str]:
    """Tags: like :func:`split_list`, but a string with no other separator is split on
    、 (绍兴市、城镇、公共), and spaces separate Chinese tags (公路 桥梁 明细) though not
    English ones (Flood Zones)."""
    parts = _LIST_SPLIT.split(text)
    if len(parts) == 1 and "、" in text:
        parts = text.split("、")
    found: list[str] = []
    for part in parts:
        words = part.split()
        if len(words) > 1 and all(_CJK.search(word) for word in words):
            found.extend(words)
        else:
            found.append(part)
    return found


Splitter = Callable[[str], list[str]]


def parse_list(value: Any, splitter: Splitter = split_list) -> list[str]:
    """Strings from a list, a stringified list (``"['a', 'b']"``) or a separated string."""
    if isinstance(value, str):
        return list(_parse_string_list(value, splitter))
    return _parse_list(value, splitter)


@lru_cache(maxsize=65536)  # themes and tags repeat across thousands of records
def _parse_string_list(value: str, splitter: Splitter) -> tuple[str, ...]:
    return tuple(_parse_list(value, splitter))


def _parse_list(value: Any, splitter: Splitter) -> list[str]:
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("[") and text.endswith("]"):
            try:
                value = json.loads(text)
            except ValueError:
                try:
                    value = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    value = text
        if isinstance(value, str):
            return [t for t in (clean_text(p) for p in splitter(value)) if t]
    if isinstance(value, dict):
        text = clean_text(value)
        return [text] if text else []
    if isinstance(value, (list, tuple)):
        found: list[str] = []
        for item in value:
            found.extend(parse_list(item, splitter) if isinstance(item, (str, list, tuple)) else
                         [t for t in [clean_text(item)] if t])
        return found
    text = clean_text(value)
    return [text] if text else []


def _union(candidates: list[Any], splitter: Splitter) -> list[str]:
    found: list[str] = []
    seen: set[str] = set()
    for candidate in candidates:
        for item in parse_list(candidate, splitter):
            if item not in seen:
                seen.add(item)
                found.append(item)
    return found


def _first_text(candidates: list[Any]) -> str:
    for candidate in candidates:
        text = clean_text(candidate)
        if text:
            return text
    return ""


def _first(candidates: list[Any], parse: Any) -> Any:
    for candidate in candidates:
        parsed = parse(candidate)
        if parsed:
            return parsed
    return None


def _landing_page(candidates: list[Any]) -> str:
    for candidate in candidates:
        if isinstance(candidate, str) and _URL.match(candidate.strip()):
            return candidate.strip()
    return ""


def _license(candidates: list[Any]) -> str:
    for candidate in candidates:
        text = strip_html(clean_text(candidate))
        if text and text.lower() not in LICENSE_PLACEHOLDERS:
            return _clip(text, LICENSE_MAX)
    return ""


def _resources(candidates: list[Any]) -> list[dict[str, Any]]:
    for candidate in candidates:
        if not isinstance(candidate, list):
            continue
        found = []
        for item in candidate:
            if not isinstance(item, dict):
                continue
            raw_url = item.get("url")
            url = raw_url if isinstance(raw_url, str) else ""
            name = clean_text(item.get("name"))
            if not url and not name:
                continue
            formats = vocabulary.format_tokens(item.get("format"))
            found.append({"name": name, "format": formats[0] if formats else "",
                          "url": url.strip(), "size": parse_count(item.get("size"))})
        return found
    return []


# --- the record --------------------------------------------------------------------

def normalise_record(mapped: dict[str, list[Any]], portal: Sequence[str] = ()) -> dict[str, Any]:
    """The dataset fields (and ``native_id``) for one mapped record.

    ``portal`` is the path of the portal's place (:func:`search.regions.portal_path`):
    the region of a record that names none, and where a named one is placed
    (``region_path``)."""
    get = mapped.get
    title = strip_html(_first_text(get("title", ())))  # type: ignore[arg-type]
    if not title:
        filled = sorted(k for k, v in mapped.items() if any(clean_text(x) for x in v))
        present = ", ".join(filled) or "none"
        raise RecordError(f"no title (fields with a value: {present})")
    found_resources = _resources(get("resources") or [])
    formats: list[str] = []
    for candidate in (get("formats") or []):
        for token in vocabulary.format_tokens(candidate):
            if token not in formats:
                formats.append(token)
    for resource in found_resources:
        if resource["format"] and resource["format"] not in formats:
            formats.append(resource["format"])
    region = ""
    for candidate in (get("region") or []):
        text = clean_text(candidate)
        if text and not _URL.match(text):
            region = text
            break
    region = _clip(region or (portal[-1] if portal else ""), REGION_MAX)
    native = _first_text(get("native_id") or [])
    return {
        "native_id": native or None,
        "title": title,
        "description": strip_html(_first_text(get("description") or [])),
        "publisher": _clip(_first_text(get("publisher") or []), PUBLISHER_MAX),
        "region": region,
        "region_path": list(regions.region_path(region, portal)),
        "themes": _union(get("themes") or [], split_list),
        "tags": _union(get("tags") or [], split_tags),
        "formats": formats,
        "machine_readable": vocabulary.machine_readable(formats),
        "open_type": _first(get("open_type") or [], vocabulary.open_type) or "",
        "update_frequency": (
            _first(get("update_frequency") or [], vocabulary.update_frequency) or ""),
        "license": _license(get("license") or []),
        "created": _first(get("created") or [], parse_date),
        "modified": _first(get("modified") or [], parse_date),
        "record_count": _first_count(get("record_count") or []),
        "resources": found_resources,
        "landing_page": _landing_page(get("landing_page") or []),
    }


def _first_count(candidates: list[Any]) -> int | None:
    for candidate in candidates:
        count = parse_count(candidate)
        if count is not None:
            return count
    return None
