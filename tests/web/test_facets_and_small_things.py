"""Every facet value reachable ("show all" with a filter box, counts kept), api/data
formats in words, and the small things: page past the end, CSV type, site icon."""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import quote

from flask.testing import FlaskClient

from tests.web.conftest import text_of


def _values(html: str) -> dict[str, int]:
    pairs = re.findall(r'data-value="([^"]*)">.*?<span class="count">([\d,]+)</span>', html, re.S)
    return {v: int(c.replace(",", "")) for v, c in pairs}


def test_show_all_lists_every_publisher_with_its_count(client: FlaskClient, catalog: list[dict]) -> None:
    expected = Counter(d["publisher"] for d in catalog if d["publisher"])
    assert len(expected) > 20  # more than the search page's top values
    search = client.get("/").get_data(as_text=True)
    link = re.search(r'class="show-all" href="(/facets/publisher[^"]*)"', search).group(1)
    page = client.get(link.replace("&amp;", "&"))
    assert page.status_code == 200
    assert _values(page.get_data(as_text=True)) == dict(expected)
    name = sorted(expected)[3]
    narrowed = client.get(f"/facets/publisher?filter={quote(name[:4])}").get_data(as_text=True)
    assert set(_values(narrowed)) == {p for p in expected if name[:4].lower() in p.lower()}
    assert "facet-filter.js" in narrowed
    script = client.get("/static/facet-filter.js")
    assert script.status_code == 200 and "facet-filter" in script.get_data(as_text=True)


def test_show_all_keeps_the_other_filters_and_counts_its_field_unfiltered(
    client: FlaskClient, catalog: list[dict]
) -> None:
    traffic = [d for d in catalog if "交通" in text_of(d)]
    first = sorted({d["publisher"] for d in traffic})[0]
    html = client.get(f"/facets/publisher?q=交通&f.publisher={quote(first)}").get_data(as_text=True)
    assert _values(html) == dict(Counter(d["publisher"] for d in traffic))
    assert re.search(rf'aria-checked="true" data-value="{re.escape(first)}"', html)
    # Ticking a value goes back to the search with every other part kept.
    other = sorted({d["publisher"] for d in traffic})[1]
    href = re.search(rf'href="([^"]+)" role="checkbox" aria-checked="false" data-value="{re.escape(other)}"',
                     html).group(1).replace("&amp;", "&")
    assert href.startswith("/?") and "q=" in href and href.count("f.publisher=") == 2


def test_unknown_facet_field_is_404(client: FlaskClient) -> None:
    assert client.get("/facets/password_hash").status_code == 404
    assert client.get("/facets/publisher?modified_from=someday").status_code == 200


def test_formats_in_words(client: FlaskClient, catalog: list[dict]) -> None:
    html = client.get("/?lang=zh").get_data(as_text=True)
    assert "接口 API" in html and "文件下载" in html
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "File download" in html


def test_page_past_the_end_shows_the_last_page(client: FlaskClient, catalog: list[dict]) -> None:
    pages = -(-len(catalog) // 20)
    html = client.get("/?page=99&lang=zh").get_data(as_text=True)
    assert f"第 99 / {pages} 页" not in html and f"{pages} / {pages}" in html
    assert html.count('class="result"') == len(catalog) - 20 * (pages - 1)


def test_csv_type_once_and_an_icon(user_client: FlaskClient, catalog: list[dict]) -> None:
    made = user_client.post("/scenes/new", data={"q": "交通", "name": "csv", "schedule": "daily",
                                                 "timezone": "UTC", "email_cadence": "immediate"})
    scene_id = made.headers["Location"].rsplit("/", 1)[1]
    export = user_client.get(f"/scenes/{scene_id}/export.csv")
    assert export.status_code == 200 and export.headers["Content-Type"] == "text/csv; charset=utf-8"
    icon = user_client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"


def test_facets_stay_on_a_search_error(client: FlaskClient, catalog: list[dict]) -> None:
    html = client.get("/?q=交通&modified_from=someday&lang=zh").get_data(as_text=True)
    assert "不是日期" in html and 'id="total"' not in html
    counts = re.findall(r'<section class="facet" data-field="region">(.*?)</section>', html, re.S)
    # Every level of a record's region path counts (浙江省 and 杭州市 too).
    assert counts and _values(counts[0]) == dict(Counter(r for d in catalog if "交通" in text_of(d)
                                                         for r in d["region_path"]))


def test_scene_page_plots_changes_per_run(user_client: FlaskClient, catalog: list[dict], records: list[dict],
                                          tmp_path) -> None:
    from tests.web.conftest import harvest, later

    made = user_client.post("/scenes/new", data={"q": "交通", "name": "plot", "schedule": "daily",
                                                 "timezone": "UTC", "email_cadence": "immediate"})
    scene_path = made.headers["Location"]
    user_client.post(scene_path + "/run")
    changed = [dict(r) for r in records]
    retitled = 0
    for row in changed:
        if "交通" in (row.get("资源名称") or "") and retitled < 3:
            row["资源名称"] += "（更新）"
            retitled += 1
    harvest(changed, tmp_path, now=later(1))
    user_client.post(scene_path + "/run")
    html = user_client.get(scene_path + "?lang=zh").get_data(as_text=True)
    chart = re.search(r'<section class="card" id="changes-chart">(.*?)</section>', html, re.S).group(1)
    assert "每次运行" in chart and 'role="img"' in chart
    bars = re.findall(r'data-series="(\w+)"', chart)
    assert bars == ["changed"]  # the baseline has no bars; the second run changed 3
    assert "变更 3" in chart


def test_a_moved_datasets_old_page_links_to_its_new_id(client: FlaskClient, catalog: list[dict],
                                                      records: list[dict], tmp_path) -> None:
    from tests.web.conftest import dataset_path, harvest, later

    moved = [dict(r) for r in records]
    old_url = moved[0]["详情页网址"]
    moved[0]["详情页网址"] = old_url.replace("source_id=", "source_id=9") + "&v=2"
    harvest(moved, tmp_path, now=later(1))
    old_id = f"hangzhou:{old_url}"
    new_id = f"hangzhou:{moved[0]['详情页网址']}"
    html = client.get(dataset_path(old_id) + "?lang=en").get_data(as_text=True)
    link = re.search(r'id="moved-to" href="([^"]+)"', html)
    assert link and client.get(link.group(1).replace("&amp;", "&")).status_code == 200
    assert "This dataset moved" in html
    assert 'id="moved-to"' not in client.get(dataset_path(new_id)).get_data(as_text=True)
