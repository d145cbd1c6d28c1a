"""Regions: the place a catalog file stands for, from its CNPDS-style name."""
from __future__ import annotations

import json
import re
from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=1)
def _region_names() -> dict[str, dict[str, str]]:
    text = resources.files("search").joinpath("region_names.json").read_text(encoding="utf-8")
    return json.loads(text)


def region_from_name(name: str) -> str:
    """The place a CNPDS-style file name stands for: ``zhejiang_hangzhou.json.gz`` → 杭州市.

    The last two ``_``-separated parts are tried first (dated copies such as
    ``2023-06-13_9290ca7_anhui_suzhou``), then the first two. Unknown names give "".
    """
    stem = name.replace("\\", "/").rsplit("/", 1)[-1].lower()
    stem = re.sub(r"(\.(json|csv|tsv|xlsx|xls|txt|gz|zip))+$", "", stem)
    parts = [p for p in re.split(r"[_\-]", stem) if p]
    names = _region_names()
    for province, place in ((parts[-2:] + ["", ""])[:2], (parts[:2] + ["", ""])[:2]):
        found = names.get(province, {}).get(place)
        if found:
            return found
    return ""
