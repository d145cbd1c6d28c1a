"""The test portal itself: conditional requests, swapping snapshots, the request log."""
from __future__ import annotations

import gzip
import json
from pathlib import Path

import requests

from tests.http_catalog import HttpCatalog, LoggedRequest, Reply


def _get(url: str, **headers: str) -> requests.Response:
    return requests.get(url, headers=headers, timeout=5)


def test_serves_a_directory_with_validators_and_answers_304(tmp_path: Path) -> None:
    (tmp_path / "catalog.json").write_text('[{"title": "a"}]', encoding="utf-8")
    with HttpCatalog(tmp_path) as portal:
        first = _get(portal.url("catalog.json"))
        assert first.status_code == 200 and first.json() == [{"title": "a"}]
        etag, modified = first.headers["ETag"], first.headers["Last-Modified"]
        assert etag.startswith('"') and modified.endswith("GMT")
        assert _get(portal.url("catalog.json"), **{"If-None-Match": etag}).status_code == 304
        assert _get(portal.url("catalog.json"), **{"If-Modified-Since": modified}).status_code == 304
        # If-None-Match decides when both are sent (RFC 9110): a stale tag means 200.
        stale = _get(portal.url("catalog.json"), **{"If-None-Match": '"other"',
                                                     "If-Modified-Since": modified})
        assert stale.status_code == 200
        assert _get(portal.url("missing.json")).status_code == 404
        assert _get(portal.url("../" + tmp_path.name + "/catalog.json")).status_code in (200, 404)
        log = portal.requests_for("/catalog.json")
        assert [r.status for r in log] == [200, 304, 304, 200]
        assert "if-none-match" not in log[0].headers and log[1].headers["if-none-match"] == etag


def test_swapping_the_snapshot_changes_both_validators(tmp_path: Path) -> None:
    first, second = tmp_path / "one.json", tmp_path / "two.json"
    first.write_text("[1]")
    second.write_text("[1, 2]")
    with HttpCatalog() as portal:
        portal.put("feed/catalog.json", first)
        before = _get(portal.url("feed/catalog.json"))
        portal.put("feed/catalog.json", second)
        after = _get(portal.url("feed/catalog.json"), **{
            "If-None-Match": before.headers["ETag"],
            "If-Modified-Since": before.headers["Last-Modified"]})
        assert after.status_code == 200 and after.json() == [1, 2]
        assert after.headers["ETag"] != before.headers["ETag"]
        assert after.headers["Last-Modified"] != before.headers["Last-Modified"]
        # A client that only knows Last-Modified also sees the swap.
        portal.put("feed/catalog.json", b"[3]")
        only_date = _get(portal.url("feed/catalog.json"),
                         **{"If-Modified-Since": after.headers["Last-Modified"]})
        assert only_date.status_code == 200 and only_date.json() == [3]
        portal.remove("feed/catalog.json")
        assert _get(portal.url("feed/catalog.json")).status_code == 404


def test_validators_can_be_switched_off(tmp_path: Path) -> None:
    (tmp_path / "c.csv").write_text("a,b\n1,2\n")
    with HttpCatalog(tmp_path, etag=False) as portal:
        reply = _get(portal.url("c.csv"))
        assert "ETag" not in reply.headers and "Last-Modified" in reply.headers
        assert _get(portal.url("c.csv"), **{"If-None-Match": '"x"'}).status_code == 200


def test_routes_failures_query_log_and_gzip_encoding(tmp_path: Path) -> None:
    def search(request: LoggedRequest) -> Reply:
        rows = int(request.param("rows") or 10)
        return Reply(200, json.dumps({"rows": rows}).encode())

    (tmp_path / "big.json").write_bytes(b"[" + b"0," * 5000 + b"0]")
    with HttpCatalog(tmp_path, gzip_encoding=True) as portal:
        portal.route("api/3/action/package_search", search)
        portal.fail_next("api/3/action/package_search", 503, 502)
        url = portal.url("api/3/action/package_search") + "?rows=7&fq=metadata_modified:[a TO b]"
        assert [_get(url).status_code for _ in range(3)] == [503, 502, 200]
        log = portal.requests_for("api/3/action/package_search")
        assert log[-1].param("rows") == "7" and log[-1].param("fq") == "metadata_modified:[a TO b]"
        raw = requests.get(portal.url("big.json"), headers={"Accept-Encoding": "gzip"},
                           stream=True, timeout=5)
        assert raw.headers["Content-Encoding"] == "gzip"
        assert len(gzip.decompress(raw.raw.read(decode_content=False))) == 10003
