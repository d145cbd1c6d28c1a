"""The web form in headless Chromium: register, search, filter, save a scene, switch language.

Screenshots land in /tmp (scenewatch-*.png) so a person can look at the pages.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from flask import Flask
from werkzeug.serving import make_server

if TYPE_CHECKING:
    from playwright.sync_api import Page

from tests.web.browser_support import chromium
from tests.web.conftest import PASSWORD, harvest, slice_records

pytestmark = pytest.mark.browser
SHOTS = Path("/tmp")


@pytest.fixture
def base_url(csrf_app: Flask, tmp_path: Path) -> Iterator[str]:
    """The app (CSRF on, as in production) serving the real slice on a free port."""
    harvest(slice_records(), tmp_path)
    server = make_server("127.0.0.1", 0, csrf_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=5)


@pytest.fixture
def page(base_url: str) -> Iterator[Page]:
    with chromium() as browser:
        context = browser.new_context(locale="zh-CN", viewport={"width": 1280, "height": 900})
        tab = context.new_page()
        tab.set_default_timeout(15_000)
        yield tab
        context.close()


def _register(page: Page, email: str) -> None:
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.fill("#password2", PASSWORD)
    page.click("form button[type=submit]")


def test_register_search_filter_save_and_switch_language(page: Page, base_url: str) -> None:
    page.goto(base_url + "/")
    page.click("header >> text=注册")
    _register(page, "browser@example.org")
    page.wait_for_url(base_url + "/")
    assert "browser@example.org" in page.inner_text("header")

    page.fill("#q", "交通")
    page.press("#q", "Enter")
    page.wait_for_selector("li.result")
    results = page.locator("li.result")
    assert results.count() == 20
    for i in range(results.count()):
        item = results.nth(i)
        text = item.locator("h3").inner_text() + " " + " ".join(item.locator("p").all_inner_texts())
        assert "交通" in text, text
    total_before = int(page.get_attribute("#total", "data-total"))
    page.screenshot(path=str(SHOTS / "scenewatch-search.png"), full_page=True)

    # A region facet counts every level (the city and its province hold every record of
    # the Hangzhou portal): pick a district, which narrows the results.
    regions = page.locator('section.facet[data-field="region"] a[role="checkbox"]')
    region = next(
        regions.nth(i) for i in range(regions.count())
        if int(regions.nth(i).locator(".count").inner_text().replace(",", "")) < total_before
    )
    value = region.get_attribute("data-value")
    region.click()
    page.wait_for_selector(
        f'section.facet[data-field="region"] a[aria-checked="true"][data-value="{value}"]'
    )
    total_after = int(page.get_attribute("#total", "data-total"))
    assert 0 < total_after < total_before
    for meta in page.locator("li.result .meta").all_inner_texts():
        assert value in meta

    page.click("#save-scene")
    page.wait_for_selector("#name")
    assert f"当前匹配 {total_after} 个数据集" in page.inner_text("main")
    page.fill("#name", "浏览器里的交通场景")
    page.select_option("#schedule", "weekly")
    page.screenshot(path=str(SHOTS / "scenewatch-new-scene.png"), full_page=True)
    page.click("#save")
    page.wait_for_selector("#run-now")
    assert "场景已保存" in page.inner_text("main")

    page.click("#run-now")
    page.wait_for_selector("#counts")
    assert str(total_after) in page.inner_text('[data-count="matched"]')
    page.click("header nav >> text=我的场景")
    page.wait_for_selector("#scenes")
    assert "浏览器里的交通场景" in page.inner_text("#scenes")
    assert "无变化" in page.inner_text("#scenes")  # the baseline was taken on save

    page.click('.lang a[hreflang="en"]')
    page.wait_for_selector("html[lang=en]")
    assert "My scenes" in page.inner_text("header") and "no change" in page.inner_text("#scenes")
    page.screenshot(path=str(SHOTS / "scenewatch-scenes-en.png"), full_page=True)
    page.click("#scenes a")
    page.wait_for_selector("#run-now")
    assert page.locator("svg.chart circle").count() == 2  # baseline on save + run now
    page.screenshot(path=str(SHOTS / "scenewatch-scene-en.png"), full_page=True)
    page.click('.lang a[hreflang="zh"]')
    page.wait_for_selector("html[lang=zh-CN]")
    assert "立即运行" in page.inner_text("main")


def test_saving_while_logged_out_comes_back_after_login(page: Page, base_url: str) -> None:
    page.goto(base_url + "/?q=交通&lang=en")
    page.locator('section.facet[data-field="open_type"] a[role="checkbox"]').first.click()
    page.wait_for_selector('section.facet[data-field="open_type"] a[aria-checked="true"]')
    page.click("#save-scene")
    page.wait_for_selector("text=Please log in first")
    page.click("main >> text=Register")
    _register(page, "later@example.org")
    page.wait_for_selector("#name")
    assert "/scenes/new?" in page.url and "f.open_type=" in page.url
    assert page.input_value("#name") == "交通"
    page.click("#save")
    page.wait_for_selector("#run-now")
    assert "Scene saved." in page.inner_text("main")


def test_phone_width_layout(page: Page, base_url: str) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(base_url + "/?q=交通")
    page.wait_for_selector("li.result")
    # Nothing wider than the screen: the page never scrolls sideways.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "scenewatch-phone.png"), full_page=False)
