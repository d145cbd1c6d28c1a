"""Every page, in headless Chromium: no serious or critical axe-core violation, and
usable at 390 px wide without sideways scrolling (zh and en). The facet counts the
search page shows equal the backend's for 20 random facet combinations."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from flask.testing import FlaskClient

from tests.web.browser_support import (
    PHONE,
    Shots,
    axe_violations,
    chromium,
    dump,
    free_port,
    horizontal_overflow,
    served_app,
)
from tests.web.conftest import PASSWORD, harvest, later, slice_records, text_of


def _prepare(page, base: str, tmp_path: Path, records: list[dict]) -> dict[str, str]:
    """A logged-in researcher with a scene that has a changed run; returns page paths."""
    page.goto(f"{base}/register")
    page.fill("#email", "pages@example.org")
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD)
    page.click("main form button[type=submit]")
    page.wait_for_selector("header >> text=pages@example.org")
    page.goto(f"{base}/scenes/new?q=交通")
    page.fill("#name", "一个很长的场景名称" * 20)
    page.fill("#email", "pages@example.org")
    page.fill("#webhook", "http://127.0.0.1:9/hook")
    page.click("#save")
    page.wait_for_selector("#run-now")
    scene = page.url[len(base):]
    page.click("#run-now")
    page.wait_for_selector("#counts")
    changed = [dict(r) for r in records]
    for row in changed:
        if "交通" in (row.get("资源名称") or ""):
            row["资源名称"] += "（更新）"
    harvest(changed, tmp_path, now=later(1))
    page.goto(base + scene)
    page.click("#run-now")
    page.wait_for_selector("#changed")
    run = page.url[len(base):]
    dataset = page.locator("#changed li.result a").first.get_attribute("href")
    page.goto(f"{base}/outbox")
    message = page.locator("#outbox tbody a").first.get_attribute("href")
    return {"scene": scene, "run": run, "message": message, "dataset": dataset}


LOGGED_OUT = ["/", "/?q=交通", "/?q=交通&modified_from=someday", "/?page=99", "/facets/publisher?q=交通",
              "/login", "/register", "/password/forgot", "/password/reset/not-a-token", "/no/such/page"]


def _logged_in(paths: dict[str, str]) -> list[str]:
    scene_id = paths["scene"].rsplit("/", 1)[1]
    return ["/scenes", paths["scene"], f"/scenes/{scene_id}/edit", f"/scenes/{scene_id}/edit?q=交通&f.region="
            + quote("杭州市"), f"/?q=交通&edit={scene_id}", paths["run"], f"/scenes/{scene_id}/delete",
            "/scenes/new?q=交通", "/account", "/account/delete", "/outbox", paths["message"], paths["dataset"]]


@pytest.mark.browser
def test_every_page_is_accessible_and_fits_a_phone(tmp_path: Path) -> None:
    port = free_port()
    with served_app(tmp_path, port) as (_app, base), chromium() as browser:
        records = slice_records()
        harvest(records, tmp_path)
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900}, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(20_000)
        shots = Shots("every-page")
        logged_out_results = {}
        for path in LOGGED_OUT:
            page.goto(base + path)
            logged_out_results[path] = axe_violations(page)
        paths = _prepare(page, base, tmp_path, records)
        pages = LOGGED_OUT[:5] + _logged_in(paths)
        report: dict[str, dict] = {p: {"axe": v} for p, v in logged_out_results.items()}
        for path in _logged_in(paths):
            page.goto(base + path)
            report[path] = {"axe": axe_violations(page)}
        for lang in ("zh", "en"):
            page.set_viewport_size(PHONE)
            for path in pages:
                sep = "&" if "?" in path else "?"
                page.goto(f"{base}{path}{sep}lang={lang}")
                overflow = horizontal_overflow(page)
                report.setdefault(path, {})[f"overflow_{lang}"] = overflow
                if overflow > 0:
                    shots.take(page, f"overflow-{lang}-{len(report)}")
            page.set_viewport_size({"width": 1280, "height": 900})
        page.set_viewport_size(PHONE)
        for name in ("scene", "run", "dataset"):
            page.goto(base + paths[name])
            shots.take(page, f"phone-{name}")
        dump(shots.dir / "report.json", report)
        bad_axe = {p: r["axe"] for p, r in report.items() if r.get("axe")}
        wide = {p: (r.get("overflow_zh"), r.get("overflow_en")) for p, r in report.items()
                if (r.get("overflow_zh") or 0) > 0 or (r.get("overflow_en") or 0) > 0}
        assert not bad_axe, bad_axe
        assert not wide, wide
        assert len(report) >= 20
        context.close()


def _page_counts(html: str, field: str) -> dict[str, int]:
    section = re.search(rf'<section class="facet" data-field="{field}">(.*?)</section>', html, re.S)
    if section is None:
        return {}
    pairs = re.findall(r'data-value="([^"]*)">.*?(?:<span class="count">([\d,]+)</span>)?\s*</a>',
                       section.group(1), re.S)
    return {v: int(c.replace(",", "")) for v, c in pairs if c}


def test_facet_counts_equal_the_backends_for_random_combinations(client: FlaskClient,
                                                                  catalog: list[dict]) -> None:
    from config.extensions import search
    from search.query import parse_query

    fields = ("region", "publisher", "formats", "open_type", "update_frequency")
    def of(d: dict, field: str) -> list:
        """The values a filter on ``field`` compares with (a region: every level of its path)."""
        raw = d["region_path"] if field == "region" else d[field]
        return [v for v in (raw if isinstance(raw, list) else [raw]) if v]

    values = {f: sorted({v for d in catalog for v in of(d, f)}) for f in fields}
    chooser = random.Random(20261202)
    checked = 0
    for _ in range(20):
        picked = chooser.sample(fields, 2)
        filters = {f: chooser.sample(values[f], min(len(values[f]), chooser.choice((1, 2)))) for f in picked}
        text = chooser.choice(["", "交通", "数据"])
        params = [("q", text)] if text else []
        params += [(f"f.{f}", v) for f, vs in filters.items() for v in vs]
        html = client.get("/?" + urlencode(params)).get_data(as_text=True)
        for field in fields:
            # The backend's answer: a filtered field is counted as if it were not filtered.
            others = {f: vs for f, vs in filters.items() if f != field}
            query = parse_query({"text": text, "filters": others})
            backend = dict(search.get().search(query, limit=0, facets=(field,), facet_size=20).facets[field])
            shown = _page_counts(html, field)
            assert shown == {str(k): v for k, v in backend.items() if str(k) != "" and str(k) in shown}
            assert set(shown) == {str(k) for k in backend if str(k) != ""}, (field, filters)
            # And by hand over the documents, for the values shown.
            def keep(d: dict, others: dict = others) -> bool:
                for f, vs in others.items():
                    if not set(map(str, of(d, f))) & set(vs):
                        return False
                return True
            matching = [d for d in catalog if keep(d) and (not text or text in text_of(d))]
            by_hand = Counter(str(v) for d in matching for v in of(d, field))
            for value, count in shown.items():
                assert by_hand[value] == count, (field, value)
            checked += 1
    assert checked == 20 * len(fields)
