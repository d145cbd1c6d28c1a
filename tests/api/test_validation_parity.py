"""The API's scene create and the web form give the same message, for the same field,
for the same bad input: both call the one domain function."""
from __future__ import annotations

import html
import re
from typing import Any

import pytest

from tests.api.conftest import PASSWORD

# (web form fields, the same input as an API body)
BAD_INPUTS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"name": ""}, {"name": ""}),
    ({"name": "x" * 201}, {"name": "x" * 201}),
    ({"schedule": "cron", "cron": "61 * * * *"}, {"schedule": "61 * * * *"}),
    ({"schedule": "fortnightly"}, {"schedule": "fortnightly"}),
    ({"timezone": "Mars/Olympus"}, {"timezone": "Mars/Olympus"}),
    ({"tracked_fields": ["colour"]}, {"tracked_fields": ["colour"]}),
    ({"email": "not-an-address"}, {"email": "not-an-address"}),
    ({"email": "a@example.org", "email_cadence": "hourly"}, {"email": "a@example.org", "email_cadence": "hourly"}),
    ({"webhook": "ftp://example.org/hook"}, {"webhook": "ftp://example.org/hook"}),
    ({"webhook": "http://"}, {"webhook": "http://"}),
    ({"f.regoin": "杭州市"}, {"query": {"filters": {"regoin": ["杭州市"]}}}),
    ({"f.open_type": "sometimes"}, {"query": {"filters": {"open_type": ["sometimes"]}}}),
    ({"modified_from": "last tuesday"}, {"query": {"ranges": {"modified": {"gte": "last tuesday"}}}}),
    ({"min_completeness": "lots"}, {"query": {"ranges": {"quality.completeness": {"gte": "lots"}}}}),
    ({"q": '"unclosed'}, {"query": {"text": '"unclosed'}}),
]


def _web_messages(page: str) -> set[str]:
    items = re.findall(r'<ul class="errors"[^>]*>(.*?)</ul>', page, re.S)
    return {html.unescape(re.sub(r"<[^>]+>", "", li)).strip()
            for block in items for li in re.findall(r"<li>(.*?)</li>", block, re.S)}


@pytest.fixture
def web_client(app, client, alice):
    client.post("/login", data={"email": "alice@example.org", "password": PASSWORD})
    return client


@pytest.mark.parametrize(("form", "body"), BAD_INPUTS)
def test_web_form_and_api_say_the_same(web_client, api, catalog, form, body):
    fields = {"name": "场景", "schedule": "daily", "timezone": "Asia/Shanghai", "email_cadence": "immediate",
              **form}
    page = web_client.post("/scenes/new?lang=en", data=fields)
    assert page.status_code == 400
    web = _web_messages(page.get_data(as_text=True))
    payload = {"name": "场景", "schedule": "daily", "timezone": "Asia/Shanghai", **body}
    response = api("POST", "/api/v1/scenes", json=payload)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert errors
    for error in errors:
        # The form shows a query problem after the name of the field it is about, in
        # the reader's words ("region: …"); the API names the path (query.filters.region).
        if error["field"].startswith("query"):
            assert any(m.endswith(": " + error["message"]) for m in web), (error, sorted(web))
        else:
            assert error["message"] in web, f"API says {error!r}; the web form says {sorted(web)}"
