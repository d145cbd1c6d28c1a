"""Fetching URL sources politely and safely, against real local servers.

Conditional GET, retries with backoff, caps on the body and on what gzip expands to,
a minimum transfer speed, an overall deadline, one request at a time per host, the
address policy, and credentials not following a redirect to another host.
"""
from __future__ import annotations

import gzip
import itertools
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from config.settings import load_settings
from search.harvest import HarvestError
from search.harvest.fetch import NotModified, open_location, read_all
from search.harvest.http import FetchPolicy, user_agent
from tests.hostile_servers import DripServer, gzip_bomb
from tests.http_catalog import HttpCatalog, LoggedRequest, Reply
from tests.search.conftest import HARVEST_FIXTURES

NANNING = HARVEST_FIXTURES / "guangxi_nanning.json"
QUICK = FetchPolicy(backoff=0.01, allow_private=True, read_timeout=5, connect_timeout=5)


def _read(url: str, policy: FetchPolicy = QUICK, **kwargs: Any) -> tuple[bytes, Any]:
    with open_location(url, policy=policy, **kwargs) as snapshot:
        return bytes(read_all(snapshot)), snapshot


def test_conditional_get_sends_the_stored_validators_and_stops_at_304() -> None:
    with HttpCatalog() as portal:
        portal.put("nanning.json", NANNING)
        body, first = _read(portal.url("nanning.json"), headers={"X-Api-Key": "k1"})
        assert body == NANNING.read_bytes()
        assert first.http_status == 200 and first.bytes_read == len(body)
        assert first.etag and first.last_modified
        with pytest.raises(NotModified) as caught:
            _read(portal.url("nanning.json"), etag=first.etag, last_modified=first.last_modified)
        assert caught.value.http_status == 304
        portal.put("nanning.json", b"[]")
        body, changed = _read(portal.url("nanning.json"), etag=first.etag,
                              last_modified=first.last_modified)
        assert body == b"[]" and changed.etag != first.etag
    plain, conditional, after_swap = portal.requests_for("nanning.json")
    assert plain.headers["x-api-key"] == "k1" and "if-none-match" not in plain.headers
    assert conditional.headers["if-none-match"] == first.etag
    assert conditional.headers["if-modified-since"] == first.last_modified
    assert conditional.status == 304 and after_swap.status == 200
    assert plain.headers["user-agent"] == user_agent()
    assert user_agent().startswith("scenewatch-harvester/")


def test_gzip_content_encoding_is_undone_and_file_gzip_is_kept_apart(tmp_path: Path) -> None:
    with HttpCatalog(tmp_path, gzip_encoding=True) as portal:
        portal.put("nanning.json", NANNING)
        portal.put("nanning.json.gz", gzip.compress(NANNING.read_bytes()))
        body, snapshot = _read(portal.url("nanning.json"))
        assert body == NANNING.read_bytes() and snapshot.name == "nanning.json"
        assert snapshot.bytes_read < len(body)  # what came over the wire, compressed
        body, snapshot = _read(portal.url("nanning.json.gz"))  # gzip in gzip
        assert body == NANNING.read_bytes() and snapshot.name == "nanning.json"


def test_5xx_and_429_are_retried_with_backoff_then_reported() -> None:
    with HttpCatalog() as portal:
        portal.put("c.json", b"[1]")
        portal.fail_next("c.json", 503, 429, 502)
        started = time.monotonic()
        assert _read(portal.url("c.json"))[0] == b"[1]"
        assert len(portal.requests_for("c.json")) == 4
        portal.fail_next("c.json", 500, 500, 500)
        policy = FetchPolicy(backoff=0.05, retries=2, allow_private=True)
        with pytest.raises(HarvestError, match=r"HTTP 500 after 3 attempts"):
            _read(portal.url("c.json"), policy)
        requests = portal.requests_for("c.json")[4:]
        assert len(requests) == 3
        gaps = [b.at - a.at for a, b in itertools.pairwise(requests)]
        assert gaps[0] >= 0.04 and gaps[1] >= 0.08  # 0.05 s, then doubled
        portal.fail_next("c.json", 404)
        with pytest.raises(HarvestError, match="HTTP 404"):
            _read(portal.url("c.json"))
        assert len(portal.requests_for("c.json")) == 8  # a 404 is not retried
        assert time.monotonic() - started < 10


def test_a_refused_connection_is_retried_then_reported() -> None:
    with HttpCatalog() as portal:
        url = portal.url("c.json")
    policy = FetchPolicy(backoff=0.01, retries=1, allow_private=True)
    with pytest.raises(HarvestError, match=r"could not fetch .*after 2 attempts"):
        _read(url, policy)


def test_retry_after_is_honoured_within_the_deadline() -> None:
    with HttpCatalog() as portal:
        portal.route("busy.json", lambda r: Reply(503, b"busy", {"Retry-After": "120"}))
        policy = FetchPolicy(backoff=0.01, deadline=3, allow_private=True)
        started = time.monotonic()
        with pytest.raises(HarvestError, match="no time left to retry within 3 s"):
            _read(portal.url("busy.json"), policy)
        assert time.monotonic() - started < 2  # did not sleep 120 s first
        assert len(portal.requests_for("busy.json")) == 1


def test_body_over_the_cap_is_abandoned_while_streaming(tmp_path: Path) -> None:
    policy = FetchPolicy(max_bytes=64 * 1024, allow_private=True)
    big = b"[" + b"1," * 100_000 + b"1]"
    with HttpCatalog() as portal:
        portal.put("big.json", big)
        with pytest.raises(HarvestError, match=r"larger than 65536 bytes \(SCENEWATCH_HARVEST_MAX_BYTES\)"):
            _read(portal.url("big.json"), policy)  # refused on its Content-Length
        portal.put("bomb.json.gz", gzip_bomb(4))
        with pytest.raises(HarvestError, match="larger than 65536 bytes"):
            _read(portal.url("bomb.json.gz"), policy)  # a small download expanding
    with HttpCatalog(gzip_encoding=True) as portal:
        portal.put("big.json", big)  # Content-Encoding: gzip, small on the wire
        with pytest.raises(HarvestError, match="larger than 65536 bytes"):
            _read(portal.url("big.json"), policy)
    local = tmp_path / "bomb.json.gz"
    local.write_bytes(gzip_bomb(4))
    with pytest.raises(HarvestError, match="larger than 65536 bytes"):
        _read(str(local), policy)  # a local file is capped the same way


def test_a_body_cut_short_of_its_content_length_is_an_error() -> None:
    with DripServer(gap=0.05, length=1000) as server:
        policy = FetchPolicy(read_timeout=1, allow_private=True, min_speed=0)
        server._stop.set()  # the server closes after the first byte: a short body
        with pytest.raises(HarvestError, match="bytes short of its Content-Length"):
            _read(server.url, policy)


def test_drip_server_is_abandoned_by_the_minimum_speed() -> None:
    """1 byte every 0.2 s against 1 KB/s over a 2 s window: abandoned after ~2 s."""
    policy = FetchPolicy(speed_window=2, min_speed=1024, allow_private=True)
    with DripServer(gap=0.2) as server:
        started = time.monotonic()
        with pytest.raises(HarvestError, match=r"slower than 1024 bytes/s; abandoned"):
            _read(server.url, policy)
        elapsed = time.monotonic() - started
    assert 1.9 <= elapsed < 4, elapsed
    assert server.connections == 1  # a slow body is not retried


def test_default_settings_end_a_one_byte_per_5_s_drip_within_5_minutes(tmp_path: Path) -> None:
    """The arithmetic behind the drip test, on the default settings: the speed check
    fires at the first read after a 60 s window (one byte every 5 s is 12 bytes, far
    under 1024 × 60), so the fetch ends after 60 + 5 = 65 s, not retried."""
    policy = FetchPolicy.from_settings(load_settings({"SCENEWATCH_DATA_DIR": str(tmp_path)}))
    assert (policy.min_speed, policy.speed_window, policy.read_timeout) == (1024, 60, 60)
    assert policy.slowest_body_seconds(gap=5) == 65
    # Even a server silent between bytes for longer than a read may wait is cut
    # by the read timeout: window + read timeout.
    assert policy.slowest_body_seconds(gap=3600) == 120
    assert max(policy.slowest_body_seconds(5), policy.slowest_body_seconds(3600)) <= 5 * 60


def test_overall_deadline_ends_a_slow_but_steady_body() -> None:
    policy = FetchPolicy(deadline=1.5, min_speed=0, allow_private=True)
    with DripServer(gap=0.1) as server:
        started = time.monotonic()
        with pytest.raises(HarvestError, match=r"within 1.5 s \(SCENEWATCH_HARVEST_TIMEOUT\)"):
            _read(server.url, policy)
    assert time.monotonic() - started < 3


def test_one_request_at_a_time_per_host() -> None:
    in_flight, peak = [0], [0]
    lock = threading.Lock()

    def slow(request: LoggedRequest) -> Reply:
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.2)
        with lock:
            in_flight[0] -= 1
        return Reply(200, b"[]")

    with HttpCatalog() as portal:
        portal.route("a.json", slow)
        portal.route("b.json", slow)
        errors: list[BaseException] = []

        def fetch(name: str) -> None:
            try:
                _read(portal.url(name))
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=fetch, args=(n,)) for n in ("a.json", "b.json") * 2]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert errors == [] and len(portal.log) == 4
    assert peak[0] == 1


def test_private_addresses_are_refused_in_production_and_named(tmp_path: Path) -> None:
    policy = FetchPolicy.from_settings(load_settings({"SCENEWATCH_ENV": "production",
                                                      "SCENEWATCH_SECRET_KEY": "x" * 32,
                                                      "SCENEWATCH_DATA_DIR": str(tmp_path)}))
    assert policy.allow_private is False
    with HttpCatalog() as portal:
        portal.put("c.json", b"[]")
        with pytest.raises(HarvestError, match="harvest host 127.0.0.1 is a loopback address; refused"):
            _read(portal.url("c.json"), policy)
    assert portal.log == []  # refused before connecting
    with pytest.raises(HarvestError, match="cloud metadata"):
        _read("http://169.254.169.254/latest/meta-data/", QUICK)  # even where private is allowed


def test_source_headers_do_not_follow_a_redirect_to_another_host() -> None:
    with HttpCatalog() as portal:
        portal.put("real.json", b"[]")
        elsewhere = portal.url("real.json").replace("127.0.0.1", "localhost")
        portal.route("moved.json", lambda r: Reply(302, b"", {"Location": elsewhere}))
        portal.route("same.json", lambda r: Reply(301, b"", {"Location": "/real.json"}))
        body, snapshot = _read(portal.url("moved.json"), headers={"X-Api-Key": "secret"})
        assert body == b"[]" and snapshot.name == "real.json"
        _read(portal.url("same.json"), headers={"X-Api-Key": "secret"})
    first, second = portal.requests_for("real.json")
    assert "x-api-key" not in first.headers and first.headers["user-agent"] == user_agent()
    assert second.headers["x-api-key"] == "secret"  # same host: still the source's own
