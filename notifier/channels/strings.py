"""The words in diff emails, in Chinese and English (chosen by the channel's locale)."""
from __future__ import annotations

from typing import Any

STRINGS: dict[str, dict[str, str]] = {
    "zh": {
        "brand": "scenewatch",
        "subject_prefix": "【scenewatch】",
        "headline_one": "{scene}：{summary}",
        "headline_digest": "{cadence}摘要：{scenes} 个场景，{updates} 次更新",
        "subject_empty": "无变化",
        "count_added": "新增 {n}",
        "count_removed": "移除 {n}",
        "count_changed": "变更 {n}",
        "count_moved": "迁移 {n}",
        "sep": "，",
        "cadence_daily": "每日",
        "cadence_weekly": "每周",
        "cadence_immediate": "",
        "intro_one": "场景「{scene}」有新的变化（共匹配 {matched} 个数据集）。",
        "intro_digest": "以下是您订阅的场景在本期的变化。",
        "run_at": "运行时间",
        "added": "新增数据集",
        "removed": "移除的数据集",
        "changed": "变更的数据集",
        "moved": "迁移（编号变化）的数据集",
        "publisher": "发布机构",
        "region": "地区",
        "formats": "格式",
        "modified": "更新时间",
        "field": "字段",
        "old": "原值",
        "new": "新值",
        "reason_no_longer_matches": "不再符合条件",
        "reason_deleted_from_catalog": "已从目录中删除",
        "from_to": "{old} → {new}",
        "more": "另有 {n} 项未列出，请在场景页面查看。",
        "open_scene": "打开场景",
        "download_all": "下载全部数据（链接有时效）",
        "links": "链接",
        "nothing": "本次运行没有变化。",
        "footer_why": "您收到这封邮件，是因为您在 scenewatch 订阅了上述场景。",
        "unsubscribe": "退订此邮箱的通知",
        "empty_value": "（空）",
    },
    "en": {
        "brand": "scenewatch",
        "subject_prefix": "[scenewatch] ",
        "headline_one": "{scene}: {summary}",
        "headline_digest": "{cadence} digest: {updates} updates in {scenes} scenes",
        "subject_empty": "no changes",
        "count_added": "{n} added",
        "count_removed": "{n} removed",
        "count_changed": "{n} changed",
        "count_moved": "{n} moved",
        "sep": ", ",
        "cadence_daily": "Daily",
        "cadence_weekly": "Weekly",
        "cadence_immediate": "",
        "intro_one": "Scene “{scene}” has changed ({matched} datasets match now).",
        "intro_digest": "Here is what changed in your scenes this period.",
        "run_at": "Run at",
        "added": "Added datasets",
        "removed": "Removed datasets",
        "changed": "Changed datasets",
        "moved": "Moved datasets (new id)",
        "publisher": "Publisher",
        "region": "Region",
        "formats": "Formats",
        "modified": "Modified",
        "field": "Field",
        "old": "Old",
        "new": "New",
        "reason_no_longer_matches": "no longer matches",
        "reason_deleted_from_catalog": "deleted from the catalog",
        "from_to": "{old} → {new}",
        "more": "{n} more not listed; see the scene page.",
        "open_scene": "Open the scene",
        "download_all": "Download all datasets (link expires)",
        "links": "Links",
        "nothing": "Nothing changed in this run.",
        "footer_why": "You get this email because you subscribed to the scenes above on scenewatch.",
        "unsubscribe": "Unsubscribe this address",
        "empty_value": "(empty)",
    },
}


def strings_for(locale: str | None) -> dict[str, str]:
    """The strings for ``locale`` ('zh' or 'en'; anything else falls back to Chinese)."""
    return STRINGS.get((locale or "zh").split("-")[0].lower(), STRINGS["zh"])


def count_summary(counts: dict[str, Any], t: dict[str, str]) -> str:
    """"新增 3，移除 1" / "3 added, 1 removed": the non-zero counts, or "no changes"."""
    parts = [t[f"count_{name}"].format(n=int(counts.get(name) or 0))
             for name in ("added", "removed", "changed", "moved") if counts.get(name)]
    return t["sep"].join(parts) if parts else t["subject_empty"]


# Dataset field names as readers know them; unknown fields show their own name.
FIELD_LABELS: dict[str, dict[str, str]] = {
    "zh": {
        "title": "标题", "description": "描述", "publisher": "发布机构", "region": "地区",
        "themes": "主题", "tags": "标签", "formats": "格式", "machine_readable": "机器可读",
        "open_type": "开放类型", "update_frequency": "更新频率", "license": "许可协议",
        "created": "创建时间", "modified": "更新时间", "record_count": "记录数",
        "resources": "资源文件", "landing_page": "详情页", "quality": "质量",
    },
    "en": {
        "title": "Title", "description": "Description", "publisher": "Publisher", "region": "Region",
        "themes": "Themes", "tags": "Tags", "formats": "Formats", "machine_readable": "Machine readable",
        "open_type": "Open type", "update_frequency": "Update frequency", "license": "License",
        "created": "Created", "modified": "Modified", "record_count": "Records",
        "resources": "Resources", "landing_page": "Landing page", "quality": "Quality",
    },
}


def field_label(name: str, locale: str | None) -> str:
    """The reader's name for dataset field ``name`` in ``locale``."""
    key = "en" if strings_for(locale) is STRINGS["en"] else "zh"
    return FIELD_LABELS[key].get(name, name)
