"""/api/v1/datasets: search with a scene query, facets, cursor paging, versions and diffs."""
from __future__ import annotations

import json
from urllib.parse import quote

from tests.api.conftest import harvest_sample


def test_search_by_query_string_and_body_agree_and_facet(api, catalog):
    query = {"text": "交通"}
    by_url = api("GET", "/api/v1/datasets?q=" + quote(json.dumps(query)) + "&limit=5")
    by_body = api("POST", "/api/v1/datasets/search?limit=5", json=query)
    assert by_url.status_code == by_body.status_code == 200
    page, body_page = by_url.get_json(), by_body.get_json()
    assert page["total"] == body_page["total"] > 0
    assert [d["id"] for d in page["items"]] == [d["id"] for d in body_page["items"]]
    assert all("交通" in (d["title"] or "") + (d["description"] or "") + " ".join(d["tags"] or [])
               for d in page["items"])
    counts = {f["value"]: f["count"] for f in page["facets"]["source"]}
    assert counts == {"hz": page["total"]}


def test_cursor_paging_walks_every_result_once(api, catalog):
    seen: list[str] = []
    url = "/api/v1/datasets?limit=7&sort=title"
    total = None
    while True:
        page = api("GET", url).get_json()
        total = page["total"]
        seen += [d["id"] for d in page["items"]]
        if not page["next_cursor"]:
            break
        url = f"/api/v1/datasets?limit=7&sort=title&cursor={page['next_cursor']}"
    assert len(seen) == len(set(seen)) == total > 7


def test_bad_queries_name_the_field(api, catalog):
    bad = api("GET", "/api/v1/datasets?q=" + quote('{"filters": {"regoin": ["杭州市"]}}'))
    assert bad.status_code == 422 and bad.content_type == "application/problem+json"
    problem = bad.get_json()
    assert problem["errors"][0]["field"] == "filters.regoin"
    assert "region" in problem["errors"][0]["message"]
    garbled = api("GET", "/api/v1/datasets?q=%7Bnot json")
    assert garbled.status_code == 422 and garbled.get_json()["errors"][0]["field"] == "q"
    assert api("GET", "/api/v1/datasets?limit=1000").get_json()["errors"][0]["field"] == "limit"
    assert api("GET", "/api/v1/datasets?cursor=abc").get_json()["errors"][0]["field"] == "cursor"
    not_json = api("POST", "/api/v1/datasets/search", data="{", content_type="application/json")
    assert not_json.status_code in (400, 422) and not_json.content_type == "application/problem+json"


def test_a_dataset_with_its_versions_and_a_field_diff(api, app, tmp_path):
    records = harvest_sample(tmp_path, 10)
    first = api("GET", "/api/v1/datasets?limit=1&sort=title").get_json()["items"][0]
    changed = [dict(r) for r in records]
    for record in changed:
        record["资源名称"] = (record.get("资源名称") or "") + "（修订）"
    from search.harvest import run_harvest
    from tests.helpers import write_snapshot

    run_harvest("hz", write_snapshot(tmp_path / "second.json", changed), fmt="portal-json")
    detail = api("GET", "/api/v1/datasets/" + quote(first["id"], safe=":/"))
    assert detail.status_code == 200
    data = detail.get_json()
    assert [v["number"] for v in data["versions"]] == [1, 2]
    assert data["title"].endswith("（修订）")
    diff = api("GET", "/api/v1/datasets/" + quote(first["id"], safe=":/") + "/versions/1/diff/2").get_json()
    title = next(c for c in diff["changes"] if c["field"] == "title")
    assert title["old"] == first["title"] and title["new"] == first["title"] + "（修订）"
    assert api("GET", "/api/v1/datasets/" + quote(first["id"], safe=":/") + "/versions/1/diff/3").status_code == 404
    assert api("GET", "/api/v1/datasets/hz:nothing-here").status_code == 404


def test_etag_gives_304_when_nothing_changed(api, catalog):
    first = api("GET", "/api/v1/datasets?limit=3")
    etag = first.headers["ETag"]
    again = api("GET", "/api/v1/datasets?limit=3", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = api("GET", "/api/v1/datasets?limit=4", headers={"If-None-Match": etag})
    assert other.status_code == 200


def test_admins_list_sources_and_harvest_now(app, client, tmp_path):
    from tests.api.conftest import bearer, issue_token, new_account
    from tests.helpers import sample_records, write_snapshot

    harvest_sample(tmp_path, 20)
    admin = issue_token(new_account("admin@example.org", admin=True), "admin")
    listed = client.get("/api/v1/sources", headers=bearer(admin)).get_json()["items"]
    assert [s["name"] for s in listed] == ["hz"] and listed[0]["last_harvest"]["counts"]["new"] == 20
    write_snapshot(tmp_path / "snapshot.json", sample_records()[:25])  # the portal publishes more
    ran = client.post("/api/v1/sources/hz/harvests", json={}, headers=bearer(admin))
    assert ran.status_code == 201, ran.get_json()
    assert ran.get_json()["counts"]["new"] == 5
    harvests = client.get("/api/v1/sources/hz/harvests", headers=bearer(admin)).get_json()["items"]
    assert [h["counts"]["new"] for h in harvests] == [5, 20]
    assert client.get("/api/v1/sources/nope", headers=bearer(admin)).status_code == 404
    # A write token of an ordinary account, or an admin's write token, may not.
    writer = issue_token(new_account("someone@example.org"), "write")
    assert client.get("/api/v1/sources", headers=bearer(writer)).status_code == 403
    admin_write = issue_token(new_account("admin2@example.org", admin=True), "write")
    assert client.post("/api/v1/sources/hz/harvests", json={}, headers=bearer(admin_write)).status_code == 403
