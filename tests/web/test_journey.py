"""The researcher's whole journey in headless Chromium, in Chinese and in English, on a
non-default port: register → confirm the address from the mail → search with two
facets → save → edit the query (a new baseline) → a changed real snapshot is harvested
→ the run and its diff → download the ZIP → language and time zone on the account page
→ reset the password from the mail. Screenshots go to test-artefacts/browser/; every
link seen on the way is followed and must answer 2xx."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest

from tests.web.browser_support import LinkLog, Shots, chromium, dump, free_port, served_app
from tests.web.conftest import PASSWORD, harvest, later, slice_records

pytestmark = pytest.mark.browser
NEW_PASSWORD = "another long passphrase"


def _mail_link(page, base: str, kind: str) -> str:
    """Open the newest outbox message and return its ``/kind/…`` link."""
    page.goto(base + "/outbox")
    page.locator("#outbox tbody a").first.click()
    page.wait_for_selector("#text-part")
    text = page.inner_text("#text-part")
    return re.search(rf"{re.escape(base)}/{kind}/\S+", text).group(0)


def _mailbox_link(app, to: str, kind: str) -> str:
    """The ``/kind/…`` link of the newest mail to ``to``, read from the Maildir as the
    recipient's mail program would (logged out, the web outbox hides an account's mail)."""
    from notifier.mailer import list_outbox, read_outbox_message

    settings = app.config["SCENEWATCH"]
    entry = next(e for e in list_outbox(settings) if e.to == to)
    text = read_outbox_message(settings, entry.key).text
    return re.search(rf"{re.escape(settings.base_url)}/{kind}/\S+", text).group(0)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_whole_journey(tmp_path: Path, lang: str) -> None:
    other = "en" if lang == "zh" else "zh"
    port = free_port()
    with served_app(tmp_path, port) as (app, base), chromium() as browser:
        assert not base.endswith(":8000")
        records = slice_records()
        harvest(records, tmp_path)
        context = browser.new_context(locale="zh-CN" if lang == "zh" else "en-US", accept_downloads=True,
                                      viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        shots, links = Shots(f"journey-{lang}"), LinkLog(base)
        links.watch(page)
        email = f"journey-{lang}@example.org"

        # Register, then confirm the account's address from the mail in the outbox.
        page.goto(f"{base}/register?lang={lang}")
        page.fill("#email", email)
        page.fill("#password", PASSWORD)
        page.fill("#password2", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_selector(f"header >> text={email}")
        page.click(f"header >> text={email}")
        page.wait_for_selector("#confirm-address")
        page.click("#confirm-address")
        page.wait_for_selector(".flash.info")
        shots.take(page, "account-before-confirm")
        link = _mail_link(page, base, "confirm")
        shots.take(page, "confirmation-mail")
        page.goto(link)
        page.click("#confirm-address")
        page.wait_for_selector('#confirm[data-state="done"]')
        shots.take(page, "address-confirmed")

        # Search with two facets and save.
        page.goto(base + "/")
        page.fill("#q", "交通")
        page.press("#q", "Enter")
        page.wait_for_selector("li.result")
        links.collect(page)
        for field in ("region", "open_type"):
            item = page.locator(f'section.facet[data-field="{field}"] a[role="checkbox"]').first
            value = item.get_attribute("data-value")
            item.click()
            page.wait_for_selector(
                f'section.facet[data-field="{field}"] a[aria-checked="true"][data-value="{value}"]')
        total = int(page.get_attribute("#total", "data-total"))
        assert total > 0
        shots.take(page, "search-two-facets")
        links.collect(page)
        page.click("#save-scene")
        page.fill("#name", f"journey {lang}")
        page.fill("#email", email)
        page.click("#save")
        page.wait_for_selector("#run-now")
        scene_url = page.url
        assert "awaiting" not in page.inner_text("#channels") and "等待" not in page.inner_text("#channels")
        shots.take(page, "scene-saved")
        links.collect(page)

        # Edit the query in the search builder: add a format; saving records a new baseline.
        page.click("#edit-scene")
        page.wait_for_selector("#edit-query")
        shots.take(page, "edit-page")
        links.collect(page)
        page.click("#edit-query")
        page.wait_for_selector("#editing-scene")
        page.locator('section.facet[data-field="formats"] a[role="checkbox"]').first.click()
        page.wait_for_selector('section.facet[data-field="formats"] a[aria-checked="true"]')
        narrowed = int(page.get_attribute("#total", "data-total"))
        assert 0 < narrowed <= total
        page.click("#use-for-scene")
        page.wait_for_selector("#baseline-warning")
        assert page.get_attribute("#query-total", "data-total") == str(narrowed)
        shots.take(page, "edit-baseline-warning")
        page.click("#save")
        page.wait_for_selector("#run-now")
        assert f"{narrowed:,}" in page.inner_text(".flash.ok")
        assert page.locator("#runs .badge.baseline").count() >= 1
        shots.take(page, "new-baseline")

        # A changed real snapshot: every traffic record retitled, one withdrawn.
        traffic = [i for i, r in enumerate(records) if "交通" in (r.get("资源名称") or "")]
        changed = [dict(r) for r in records]
        for i in traffic:
            changed[i]["资源名称"] = changed[i]["资源名称"] + "（更新）"
        del changed[traffic[-1]]
        harvest(changed, tmp_path, now=later(1))

        # Run it, see the run and its diff, download the ZIP.
        page.goto(scene_url)
        page.click("#run-now")
        page.wait_for_selector("#counts")
        counts = {k: int(page.inner_text(f'[data-count="{k}"] b').replace(",", ""))
                  for k in ("matched", "changed", "removed")}
        assert counts["changed"] + counts["removed"] > 0
        if counts["changed"]:
            assert "（更新）" in page.inner_text("#changed")
        shots.take(page, "run-diff")
        links.collect(page)
        with page.expect_download() as download_info:
            page.click('a[data-download="all"]')
        archive = shots.dir / "batch.zip"
        download_info.value.save_as(str(archive))
        with zipfile.ZipFile(archive) as bundle:
            assert "manifest.csv" in bundle.namelist()

        # Language and time zone on the account page.
        page.goto(base + "/account")
        page.select_option("#locale", other)
        page.fill("#timezone", "Europe/Berlin")
        page.click("#save-preferences")
        page.wait_for_selector(f"html[lang={'en' if other == 'en' else 'zh-CN'}]")
        page.goto(scene_url)
        assert "CET" in page.inner_text("#runs")
        shots.take(page, "scene-other-language-berlin")
        links.collect(page)

        # Forgot the password: reset it from the mail, then log in with the new one.
        page.click("header form button[type=submit]")
        page.goto(base + "/login")
        page.click('a[href^="/password/forgot"]')
        page.fill("#email", email)
        page.click("#send-reset")
        page.wait_for_selector(".flash.info")
        link = _mailbox_link(app, email, "password/reset")
        page.goto(link)
        page.fill("#new_password", NEW_PASSWORD)
        page.fill("#new_password2", NEW_PASSWORD)
        shots.take(page, "reset-password")
        page.click("#set-password")
        page.wait_for_selector(f"header >> text={email}")
        page.click("header form button[type=submit]")
        page.goto(base + "/login")
        page.fill("#email", email)
        page.fill("#password", NEW_PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_selector("#scenes")
        shots.take(page, "logged-in-with-new-password")
        links.collect(page)

        failed_pages = [(u, s) for u, s in links.documents if s >= 400]
        failed_links = links.check(page)
        dump(shots.dir / "links.json", {"pages": links.documents, "links": sorted(links.links),
                                        "failed": failed_links})
        assert not failed_pages, failed_pages
        assert not failed_links, failed_links
        assert all(u.startswith(base) for u, _ in links.documents)
        assert len(links.links) > 30
        context.close()
