"""The search page on real Hangzhou portal records: text, facets, ranges, paging."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any
from urllib.parse import quote

import pytest
from flask.testing import FlaskClient

from subscriptions.i18n import label
from tests.web.conftest import text_of


def _page(client: FlaskClient, query: str, status: int = 200) -> str:
    response = client.get("/" + query)
    assert response.status_code == status, response.get_data(as_text=True)[:3000]
    return response.get_data(as_text=True)


def _ids(html: str) -> list[str]:
    return re.findall(r'<li class="result" data-id="([^"]+)"', html)


def _total(html: str) -> int:
    match = re.search(r'id="total" data-total="(\d+)"', html)
    assert match, "no total on the page"
    return int(match.group(1))


def _facet_counts(html: str, field: str) -> dict[str, int]:
    section = re.search(rf'<section class="facet" data-field="{field}">(.*?)</section>', html, re.S)
    assert section, f"no {field} facet"
    return {
        value: int(count.replace(",", ""))
        for value, count in re.findall(
            r'data-value="([^"]+)">.*?<span class="count">([\d,]+)</span>', section.group(1), re.S
        )
    }


def _by_id(catalog: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {d["id"]: d for d in catalog}


def _traffic(catalog: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in catalog if "交通" in text_of(d)]


def test_text_search_finds_only_traffic_datasets(client: FlaskClient, catalog: list[dict]) -> None:
    html = _page(client, "?q=交通")
    expected = _traffic(catalog)
    assert _total(html) == len(expected) > 20
    docs = _by_id(catalog)
    ids = _ids(html)
    assert len(ids) == 20
    for dataset_id in ids:
        doc = docs[dataset_id]
        assert "交通" in text_of(doc), doc["title"]
    assert "<mark>交通</mark>" in html
    # The title links to the dataset page (ids hold whole URLs, "?" included).
    link = re.search(r'<h3><a href="(/datasets/[^"]+)">', html).group(1)
    page = client.get(link.replace("&amp;", "&"))
    assert page.status_code == 200 and docs[ids[0]]["landing_page"] in page.get_data(as_text=True)


def test_facet_counts_match_the_results(client: FlaskClient, catalog: list[dict]) -> None:
    html = _page(client, "?q=交通")
    regions = Counter(r for d in _traffic(catalog) for r in d["region_path"])  # every level
    shown = _facet_counts(html, "region")
    assert shown and all(shown[value] == regions[value] for value in shown)
    assert shown["杭州市"] == shown["浙江省"] == len(_traffic(catalog)) > shown["桐庐县"]
    open_types = _facet_counts(html, "open_type")
    assert set(open_types) <= {"conditional", "unconditional", "registration"} and "registration" in open_types
    for value in open_types:  # enum values are shown as words
        assert label("open_type", value, "zh") in html


def test_filters_or_within_a_field_and_across_fields(
    client: FlaskClient, catalog: list[dict]
) -> None:
    traffic = _traffic(catalog)
    one = _page(client, "?q=交通&f.region=" + quote("桐庐县"))
    assert _total(one) == sum(1 for d in traffic if d["region"] == "桐庐县") > 0
    assert all(_by_id(catalog)[i]["region"] == "桐庐县" for i in _ids(one))
    assert 'aria-checked="true" data-value="桐庐县"' in one
    # Values of the same field stay listed with what they would add (OR within a field).
    regions = Counter(r for d in traffic for r in d["region_path"])
    assert _facet_counts(one, "region")["淳安县"] == regions["淳安县"]
    assert _facet_counts(one, "region")["桐庐县"] == regions["桐庐县"]
    # Other fields are counted over the filtered results.
    assert sum(_facet_counts(one, "open_type").values()) == _total(one)
    either = _page(client, "?q=交通&f.region=" + quote("淳安县") + "&f.region=" + quote("桐庐县"))
    assert _total(either) == sum(1 for d in traffic if d["region"] in ("淳安县", "桐庐县"))
    # A city includes its districts (every level of the region path matches).
    city = _page(client, "?q=交通&f.region=" + quote("杭州市"))
    assert _total(city) == sum(1 for d in traffic if "杭州市" in d["region_path"]) > _total(either)
    both = _page(client, "?f.region=" + quote("杭州市") + "&f.open_type=unconditional")
    assert _total(both) == sum(
        1 for d in catalog if "杭州市" in d["region_path"] and d["open_type"] == "unconditional"
    )


def test_facet_links_toggle_one_value_and_reset_the_page(
    client: FlaskClient, catalog: list[dict]
) -> None:
    html = _page(client, "?q=交通&page=2")
    link = re.search(
        r'<a href="([^"]+)" role="checkbox" aria-checked="false" data-value="杭州市"', html
    )
    assert link
    href = link.group(1).replace("&amp;", "&")
    assert "page=" not in href and "f.region=" in href and "q=" in href
    ticked = _page(client, href)
    untick = re.search(
        r'<a href="([^"]+)" role="checkbox" aria-checked="true" data-value="杭州市"', ticked
    )
    assert untick
    assert _total(_page(client, untick.group(1).replace("&amp;", "&"))) == len(_traffic(catalog))


def test_ranges_on_modified_and_completeness(client: FlaskClient, catalog: list[dict]) -> None:
    recent = _page(client, "?modified_from=2023-06-10&modified_to=2023-06-16")
    expected = [
        d for d in catalog if d["modified"] and "2023-06-10" <= d["modified"][:10] <= "2023-06-16"
    ]
    assert _total(recent) == len(expected) > 0
    best = max(d["quality"]["completeness"] for d in catalog)
    complete = _page(client, f"?min_completeness={best}")
    assert _total(complete) == sum(1 for d in catalog if d["quality"]["completeness"] >= best)
    assert 0 < _total(complete) < len(catalog)


def test_bad_ranges_are_explained_next_to_the_form(
    client: FlaskClient, catalog: list[dict]
) -> None:
    html = _page(client, "?modified_from=yesterday&lang=en", status=400)
    assert "Modified" in html and "yesterday" in html and "is not a date" in html
    assert 'id="modified_from" name="modified_from" value="yesterday"' in html
    assert 'id="total"' not in html
    html = _page(client, "?min_completeness=lots&lang=zh", status=400)
    assert "完整度" in html and "不是数字" in html


def test_paging_twenty_per_page(client: FlaskClient, catalog: list[dict]) -> None:
    first = _page(client, "?sort=title")
    assert _total(first) == len(catalog)
    pages = -(-len(catalog) // 20)
    last = _page(client, f"?sort=title&page={pages}")
    second = _page(client, "?sort=title&page=2")
    assert len(_ids(first)) == len(_ids(second)) == 20
    assert len(_ids(last)) == len(catalog) - 20 * (pages - 1)
    assert not set(_ids(first)) & set(_ids(second))
    assert 'rel="next"' in first and 'rel="prev"' not in first
    assert 'rel="prev"' in last and 'rel="next"' not in last
    # Out-of-range and garbage page numbers do not break the page.
    assert _ids(_page(client, "?sort=title&page=abc")) == _ids(first)


def test_save_link_carries_the_query(client: FlaskClient, catalog: list[dict]) -> None:
    html = _page(
        client, "?q=交通&f.region=" + quote("杭州市") + "&modified_from=now-900d&sort=title&page=2"
    )
    link = re.search(r'id="save-scene" href="([^"]+)"', html)
    assert link
    href = link.group(1).replace("&amp;", "&")
    assert href.startswith("/scenes/new?")
    assert (
        "q=%E4%BA%A4%E9%80%9A" in href and "f.region=" in href and "modified_from=now-900d" in href
    )
    assert "page=" not in href and "sort=" not in href


@pytest.mark.parametrize(
    "lang,word", [("zh", "将此检索保存为场景"), ("en", "Save this search as a scene")]
)
def test_search_page_in_both_languages(
    client: FlaskClient, catalog: list[dict], lang: str, word: str
) -> None:
    html = _page(client, f"?q=交通&lang={lang}")
    assert word in html
