"""Pure helpers of the pages: URL ⇄ query, highlighting, the SVG chart."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from werkzeug.datastructures import MultiDict

from search.query import parse_query
from subscriptions.views.charts import line_chart
from subscriptions.views.query_params import (
    build_query,
    highlight,
    highlight_terms,
    query_to_params,
    toggle_filter,
    with_params,
)
from subscriptions.views.search_page import error_slot


def test_build_query_from_url_parameters() -> None:
    args = MultiDict(
        [
            ("q", " 交通 -出租 "),
            ("f.region", "杭州市"),
            ("f.region", "桐庐县"),
            ("f.region", "杭州市"),
            ("f.formats", ""),
            ("x.publisher", "往年开放数据"),
            ("modified_from", "now-90d"),
            ("min_completeness", "0.8"),
            ("page", "3"),
            ("lang", "en"),
        ]
    )
    query = build_query(args)
    assert query == {
        "text": "交通 -出租",
        "filters": {"region": ["杭州市", "桐庐县"]},
        "exclude": {"publisher": ["往年开放数据"]},
        "ranges": {"modified": {"gte": "now-90d"}, "quality.completeness": {"gte": 0.8}},
    }
    parse_query(query)  # the model accepts what the page builds


def test_query_round_trips_through_the_url() -> None:
    query = {
        "text": "公交",
        "filters": {"open_type": ["conditional", "unconditional"]},
        "exclude": {},
        "ranges": {
            "modified": {"gte": "2023-01-01", "lte": "2023-06-30"},
            "quality.completeness": {"gte": 1.0},
        },
    }
    rebuilt = build_query(MultiDict(query_to_params(query)))
    assert parse_query(rebuilt) == parse_query(query)


def test_toggle_filter_adds_removes_and_drops_the_page() -> None:
    params = [("q", "交通"), ("f.region", "杭州市"), ("page", "4")]
    added = dict(parse_qsl(toggle_filter(params, "open_type", "conditional")[1:]))
    assert added == {"q": "交通", "f.region": "杭州市", "f.open_type": "conditional"}
    removed = parse_qsl(toggle_filter(params, "region", "杭州市")[1:])
    assert removed == [("q", "交通")]
    assert with_params(params, page="5").endswith("page=5")
    assert "page" not in with_params(params, page=None)


def test_highlight_escapes_and_marks() -> None:
    terms = highlight_terms('交通 "bus stop" -出租 a|b')
    assert "出租" not in terms and "bus stop" in terms and "a" in terms
    marked = highlight("<b>杭州交通</b> Bus Stop", ["交通", "bus stop"])
    assert str(marked) == "&lt;b&gt;杭州<mark>交通</mark>&lt;/b&gt; <mark>Bus Stop</mark>"
    assert str(highlight("一二三四五六", [], 3)) == "一二三…"


def test_error_slots() -> None:
    assert error_slot("text") == "q"
    assert error_slot("ranges.modified.gte") == "modified"
    assert error_slot("ranges.quality.completeness.gte") == "min_completeness"
    assert error_slot("filters.open_type[0]") == "filters"
    assert error_slot("query") == "general"


def test_line_chart_is_valid_svg_with_one_point_per_run() -> None:
    points = [(datetime(2026, 1, d, tzinfo=UTC), n) for d, n in ((1, 10), (2, 12), (3, 7))]
    svg = str(line_chart(points, title="匹配 <数>"))
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}circle")) == 3
    assert root.find(f"{ns}title").text == "匹配 <数>"
    ys = [float(c.get("cy")) for c in root.findall(f"{ns}circle")]
    assert ys[1] < ys[0] < ys[2]  # more matches are drawn higher
    assert str(line_chart([], title="x")) == ""
    single = ET.fromstring(str(line_chart(points[:1], title="x")))
    assert len(single.findall(f"{ns}circle")) == 1 and single.find(f"{ns}polyline") is None
