"""Controlled vocabularies of the dataset model and how portal wording maps onto them.

Portals word the same thing many ways (无条件开放, 完全开放, 無條件開放, "public";
每月, 月, "1 Month Cycle", ``R/P1M``). Classification works on a simplified, lower-cased
form: Traditional characters that matter here are folded to Simplified first.
Unrecognised wording gives ``""`` (unknown), never a guess.
"""
from __future__ import annotations

import ast
import json
import math
import re
from functools import lru_cache
from typing import Any

# "registration": open to anyone after logging in / real-name registration, nothing
# reviewed (Hangzhou's 登录开放) — the portals keep it apart from 完全开放, and so do we.
OPEN_TYPES: tuple[str, ...] = ("unconditional", "registration", "conditional", "restricted")
# "never": the portal says the data is not updated (不更新, static, one-off), unlike
# "irregular", which is updated at no fixed interval (不定期).
FREQUENCIES: tuple[str, ...] = (
    "realtime", "hourly", "daily", "weekly", "monthly", "quarterly", "semiannual", "yearly",
    "irregular", "never",
)
# Nominal period of each frequency in days (used for ISO 8601 durations and timeliness).
FREQUENCY_DAYS: dict[str, float] = {
    "realtime": 1 / 1440, "hourly": 1 / 24, "daily": 1.0, "weekly": 7.0, "monthly": 30.44,
    "quarterly": 91.31, "semiannual": 182.62, "yearly": 365.25,
}

_TRADITIONAL = str.maketrans({
    "開": "开", "無": "无", "條": "条", "週": "周", "時": "时", "實": "实", "請": "请", "審": "审",
    "權": "权", "內": "内", "僅": "仅", "須": "须", "註": "注", "冊": "册", "錄": "录", "態": "态",
    "靜": "静", "兩": "两", "個": "个", "與": "与", "數": "数", "據": "据", "電": "电", "檔": "档",
    "資": "资", "隨": "随", "狀": "状", "聯": "联", "網": "网",
    "頁": "页", "庫": "库", "圖": "图", "屬": "属", "類": "类", "別": "别", "區": "区", "縣": "县",
})


def simplify(text: str) -> str:
    """Fold the Traditional characters the vocabularies use to Simplified."""
    return text.translate(_TRADITIONAL)


def _key(value: Any) -> str:
    if not isinstance(value, str):
        return ""
    text = simplify(value).lower()
    # Drop notes in brackets: "每年(更新说明:暂无新业务数据产生)".
    text = re.sub(r"[(（\[【][^)）\]】]*[)）\]】]", "", text)
    return re.sub(r"[\s\u3000]+", " ", text).strip()


# --- open type ---------------------------------------------------------------

_OPEN_EXACT = {
    "public": "unconditional", "open": "unconditional", "abierto": "unconditional",
    "restricted public": "conditional", "restricted": "conditional", "restringido": "conditional",
    "non-public": "restricted", "non public": "restricted", "nonpublic": "restricted",
    "private": "restricted", "closed": "restricted", "cerrado": "restricted",
}
_RESTRICTED = ("不予开放", "不开放", "禁止开放", "不予公开", "不公开", "非开放", "暂不开放", "局内使用",
               "内部使用", "仅限内部")
# Login or real-name registration is not a condition in the portals' own sense (anyone
# may register, nothing is reviewed), but it is not "unconditional" either: the portals
# list it apart (Hangzhou: 完全开放 / 登录开放 / 申请开放), so it has its own type.
_REGISTRATION = ("登录开放", "登录后开放", "实名制开放", "实名开放", "实名公开", "注册用户可下载", "实名注册",
                 "注册后开放", "登录后下载")
_UNCONDITIONAL = ("无条件", "完全开放", "普通公开", "无特殊条件", "无限制")
_CONDITIONAL = ("有条件", "条件开放", "依申请", "申请", "受限", "审核", "审批", "授权", "同意",
                "校验", "核验", "协同", "半开放", "需", "限制")


def open_type(value: Any) -> str:
    """unconditional | conditional | restricted, or "" when the wording says neither."""
    return _open_type(value) if isinstance(value, str) else ""


@lru_cache(maxsize=4096)  # portals repeat a handful of wordings thousands of times
def _open_type(value: str) -> str:
    key = _key(value)
    if not key:
        return ""
    if key in _OPEN_EXACT:
        return _OPEN_EXACT[key]
    compact = key.replace(" ", "")
    if any(word in compact for word in _RESTRICTED):
        return "restricted"
    if any(word in compact for word in _REGISTRATION):
        return "registration"
    if any(word in compact for word in _UNCONDITIONAL):
        return "unconditional"
    if any(word in compact for word in _CONDITIONAL):
        return "conditional"
    return ""


# --- update frequency ----------------------------------------------------------

_ISO_DURATION = re.compile(
    r"^(?:r\d*/)?p(?:(\d+(?:\.\d+)?)y)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)w)?"
    r"(?:(\d+(?:\.\d+)?)d)?"
    r"(?:t(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?)?$"
)
# Checked in order: the more specific wording first (半年 before 年, 半月 before 月).
_FREQUENCY_WORDS: tuple[tuple[str, str], ...] = (
    ("不定期", "irregular"), ("不定时", "irregular"), ("不更新", "never"), ("无需更新", "never"),
    ("静态", "never"), ("一次性", "never"), ("按需", "irregular"), ("随时", "irregular"),
    ("实时", "realtime"), ("即时", "realtime"), ("分钟", "realtime"), ("秒", "realtime"),
    ("小时", "hourly"), ("半年", "semiannual"), ("两年", "yearly"), ("季", "quarterly"),
    ("半月", "monthly"), ("旬", "weekly"), ("月", "monthly"), ("周", "weekly"), ("日", "daily"),
    ("天", "daily"), ("年", "yearly"),
    ("irregular", "irregular"), ("as required", "irregular"), ("as needed", "irregular"),
    ("ad hoc", "irregular"), ("adhoc", "irregular"), ("eventual", "irregular"),
    ("static", "never"),
    ("never", "never"), ("one-off", "never"), ("one off", "never"),
    ("not updated", "never"), ("discontinued", "never"),
    ("continuous", "realtime"), ("real-time", "realtime"), ("realtime", "realtime"),
    ("real time", "realtime"), ("streaming", "realtime"), ("hour", "hourly"),
    ("semiweekly", "weekly"), ("semi-weekly", "weekly"), ("biweekly", "weekly"),
    ("bi-weekly", "weekly"),
    ("fortnight", "weekly"), ("semiannual", "semiannual"), ("semi-annual", "semiannual"),
    ("biannual", "semiannual"), ("bi-annual", "semiannual"), ("half-year", "semiannual"),
    ("half year", "semiannual"), ("twice a year", "semiannual"), ("six month", "semiannual"),
    ("6 month", "semiannual"), ("quarter", "quarterly"), ("three month", "quarterly"),
    ("3 month", "quarterly"), ("biennial", "yearly"), ("month", "monthly"), ("week", "weekly"),
    ("daily", "daily"), ("day", "daily"), ("annual", "yearly"), ("year", "yearly"),
)


def duration_days(text: str) -> float | None:
    """Days in an ISO 8601 duration or repeating interval (``R/P1M``, ``P0.5M``, ``PT1H``)."""
    match = _ISO_DURATION.match(text.strip().lower())
    if not match or not any(match.groups()):
        return None
    y, mo, w, d, h, mi, s = (float(g) if g else 0.0 for g in match.groups())
    return y * 365.25 + mo * 30.44 + w * 7 + d + h / 24 + mi / 1440 + s / 86400


def nearest_frequency(days: float) -> str:
    """The frequency whose period is nearest to ``days`` (on a log scale)."""
    if days <= 0:
        return "realtime"
    return min(FREQUENCY_DAYS, key=lambda name: abs(math.log(FREQUENCY_DAYS[name] / days)))


def update_frequency(value: Any) -> str:
    """realtime … yearly, irregular, or "" when the wording says nothing usable."""
    return _update_frequency(value) if isinstance(value, str) else ""


@lru_cache(maxsize=4096)
def _update_frequency(value: str) -> str:
    key = _key(value)
    if not key:
        return ""
    if key[0] in "rp" and "/" in key or key.startswith("p"):
        days = duration_days(key)
        if days is not None:
            return nearest_frequency(days)
    for word, frequency in _FREQUENCY_WORDS:
        if word in key:
            return frequency
    return ""


# --- formats -------------------------------------------------------------------

_FORMAT_SPLIT = re.compile(r"[,，、;；|\n\t]+")
_CATEGORY = re.compile(r"^(电子表格|数据库|电子文件|图形图像|自描述格式|自描述|接口|文件)\s*[-/:：]\s*(.+)$")
_ALIASES = {
    "接口": "api", "excel": "xls", "excl": "xls", "电子表格": "xls", "word": "doc",
    "web page": "html", "webpage": "html", "链接": "link", "http": "link", "数据库": "database",
    "db数据库": "database", "电子文件": "file", "文件目录": "file", "esri rest": "esri rest",
}
_MIME = {
    "text/csv": "csv", "application/json": "json", "application/vnd.geo+json": "geojson",
    "application/geo+json": "geojson", "application/xml": "xml", "text/xml": "xml",
    "text/html": "html", "application/pdf": "pdf", "application/zip": "zip",
    "application/vnd.ms-excel": "xls", "text/plain": "txt", "application/rdf+xml": "rdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/msword": "doc", "application/vnd.google-earth.kml+xml": "kml",
    "application/vnd.google-earth.kmz": "kmz", "text/tab-separated-values": "tsv",
}
_NOT_FORMATS = {"其他", "其它", "$type", "none", "null", "undefined", "暂无", "无", "-", "in progress",
                "any", "n/a", "other"}
MACHINE_READABLE = frozenset({
    "csv", "tsv", "json", "geojson", "xml", "rdf", "xls", "xlsx", "ods", "et", "kml", "kmz", "shp",
    "gml", "api", "esri rest", "wms", "wfs", "sql", "database", "mysql", "oracle", "sqlserver",
    "access", "db2", "mongodb", "impala", "greenplum", "postgresql", "kingbasees", "dm", "parquet",
})
NOT_MACHINE_READABLE = frozenset({
    "pdf", "doc", "docx", "wps", "jpg", "jpeg", "png", "gif", "tif", "tiff", "html", "rar", "txt",
})


@lru_cache(maxsize=4096)
def _cached_format_token(token: str) -> str:
    return _format_token(token)


def _format_token(token: str) -> str:
    token = token.strip().strip("'\"").strip().lower().lstrip(".")
    if not token or token.isdigit() or token in _NOT_FORMATS:
        return ""
    category = _CATEGORY.match(token)
    if category:
        inner = category.group(2).strip()
        token = _ALIASES.get(category.group(1), "") if inner in _NOT_FORMATS else inner
    if token in _MIME:
        return _MIME[token]
    if re.fullmatch(r"[a-z]+/[a-z0-9.+-]+", token):
        subtype = token.split("/", 1)[1]
        return subtype.removeprefix("vnd.").removeprefix("x-")
    return _ALIASES.get(token, token)


def format_tokens(value: Any) -> list[str]:
    """Lower-case format names from a list, a stringified list or a separated string."""
    if isinstance(value, str):
        return list(_string_format_tokens(value))
    return _format_tokens(value)


@lru_cache(maxsize=16384)
def _string_format_tokens(value: str) -> tuple[str, ...]:
    return tuple(_format_tokens(value))


def _format_tokens(value: Any) -> list[str]:
    if value is None or isinstance(value, bool):
        return []
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)
        except ValueError:
            try:
                value = ast.literal_eval(value.strip())
            except (ValueError, SyntaxError):
                pass
    items = value if isinstance(value, (list, tuple)) else [value]
    found: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("format") or item.get("name") or ""
        if not isinstance(item, str):
            continue
        for part in _FORMAT_SPLIT.split(item):
            token = _cached_format_token(part)
            if token and token not in found:
                found.append(token)
    return found


def machine_readable(formats: list[str]) -> bool | None:
    """True if any format is machine readable, False if all are known not to be, else None."""
    if any(f in MACHINE_READABLE for f in formats):
        return True
    if formats and all(f in NOT_MACHINE_READABLE for f in formats):
        return False
    return None
