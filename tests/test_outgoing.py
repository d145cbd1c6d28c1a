"""Outgoing HTTP resolves once, checks every answer, then connects to the checked address.

DNS is simulated honestly through the module's resolver hook (a fake DNS answering a
sequence of addresses); the sockets are real: a listener on 127.0.0.1 counts who
connects, so "refused before connect" is observed, not assumed.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from config.outgoing import TargetRefused, open_url, override_resolver
from search.harvest import HarvestError
from search.harvest.fetch import open_location, read_all
from search.harvest.http import FetchPolicy
from subscriptions.downloads.bundle import BundleLimits, Fetcher
from tests.hostile_servers import ConnectionCounter
from tests.http_catalog import HttpCatalog, Reply

PUBLIC = "93.184.215.14"  # never connected to: every test below refuses or pins elsewhere


def _dns(answers: dict[str, list[list[str]]]) -> tuple[Callable[[str, int], list[str]], list[str]]:
    """A fake DNS: each name answers its lists in turn (the last one repeats)."""
    asked: list[str] = []
    queues = {name: iter(lists) for name, lists in answers.items()}
    last: dict[str, list[str]] = {}

    def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        if host not in queues:
            raise OSError(f"[Errno -2] Name or service not known: {host}")
        last[host] = next(queues[host], last.get(host, []))
        return list(last[host])

    return resolve, asked


@pytest.fixture
def counter() -> Iterator[ConnectionCounter]:
    with ConnectionCounter() as listener:
        yield listener


def test_the_connection_goes_to_the_address_that_was_checked() -> None:
    resolve, asked = _dns({"portal.pinned.example": [["127.0.0.1"]]})
    with HttpCatalog() as portal, override_resolver(resolve):
        portal.put("c.json", b"[]")
        url = f"http://portal.pinned.example:{portal.port}/c.json"
        with open_url(url, allow_private=True, timeout=5) as response:
            assert response.status == 200 and response.peer == "127.0.0.1"
        host = f"portal.pinned.example:{portal.port}"
    assert asked == ["portal.pinned.example"]  # one lookup: checked and connected
    assert portal.log[0].headers["host"] == host


def test_a_rebound_answer_is_refused_and_never_connected(counter: ConnectionCounter) -> None:
    # The name was public when a form validated it; the connection's own lookup now
    # says loopback. The connection checks what it connects to.
    resolve, asked = _dns({"hooks.rebind.example": [[PUBLIC], ["127.0.0.1"]]})
    url = f"http://hooks.rebind.example:{counter.port}/hook"
    with override_resolver(resolve):
        from notifier.ssrf import check_webhook_url

        assert [str(ip) for ip in check_webhook_url(url, allow_private=False)] == [PUBLIC]
        with pytest.raises(TargetRefused, match=r"\(127.0.0.1\) is a loopback address; refused"):
            open_url(url, method="POST", body=b"{}", allow_private=False, timeout=2)
    assert asked == ["hooks.rebind.example"] * 2 and counter.connections == 0


def test_any_forbidden_answer_refuses_the_name(counter: ConnectionCounter) -> None:
    resolve, _ = _dns({"mixed.example": [[PUBLIC, "127.0.0.1"]]})
    with override_resolver(resolve), pytest.raises(TargetRefused, match="loopback"):
        open_url(f"http://mixed.example:{counter.port}/", allow_private=False, timeout=2)
    assert counter.connections == 0


def _without_ports(text: str) -> str:
    return re.sub(r":\d+", ":PORT", text)


def test_refusals_do_not_tell_an_open_port_from_a_closed_one(counter: ConnectionCounter) -> None:
    closed = ConnectionCounter()  # bound, never listening to anyone after close
    closed.sock.close()
    messages = []
    for port in (counter.port, closed.port):
        with pytest.raises(TargetRefused) as caught:
            open_url(f"http://127.0.0.1:{port}/admin", allow_private=False, timeout=2)
        messages.append(_without_ports(str(caught.value)))
    assert messages[0] == messages[1] == "host 127.0.0.1 is a loopback address; refused"
    fetcher = Fetcher(BundleLimits(), allow_private=False)
    reasons = [fetcher.fetch(f"http://127.0.0.1:{port}/f.csv").reason
               for port in (counter.port, closed.port)]
    assert reasons[0] == reasons[1] == "refused: host 127.0.0.1 is a loopback address"
    with pytest.raises(HarvestError) as first, override_resolver(_dns({})[0]):
        open_location(f"http://127.0.0.1:{counter.port}/c.json", policy=FetchPolicy()).__enter__()
    with pytest.raises(HarvestError) as second:
        open_location(f"http://127.0.0.1:{closed.port}/c.json", policy=FetchPolicy()).__enter__()
    assert _without_ports(str(first.value)) == _without_ports(str(second.value))
    assert counter.connections == 0


def test_bundle_redirects_are_checked_at_every_hop(counter: ConnectionCounter) -> None:
    resolve, asked = _dns({"meta.rebind.example": [["169.254.169.254"]],
                           "files.example": [["127.0.0.1"]]})
    with HttpCatalog() as portal, override_resolver(resolve):
        portal.put("real.csv", b"a,b\n1,2\n")
        portal.route("to-meta.csv", lambda r: Reply(302, b"", {
            "Location": "http://meta.rebind.example/latest/meta-data/iam"}))
        portal.route("to-files.csv", lambda r: Reply(302, b"", {
            "Location": f"http://files.example:{portal.port}/real.csv"}))
        fetcher = Fetcher(BundleLimits(), allow_private=True)  # dev: loopback allowed
        refused = fetcher.fetch(portal.url("to-meta.csv"))
        followed = fetcher.fetch(portal.url("to-files.csv"))
    assert refused.status == "failed"
    assert refused.reason == ("refused: host meta.rebind.example (169.254.169.254) is a cloud "
                              "metadata address")
    assert followed.status == "ok" and followed.size == 8
    assert asked == ["meta.rebind.example", "files.example"]


def test_harvest_redirects_are_checked_at_every_hop() -> None:
    with HttpCatalog() as portal:
        portal.route("moved.json", lambda r: Reply(301, b"", {
            "Location": "http://169.254.169.254/latest/meta-data/"}))
        policy = FetchPolicy(allow_private=True, backoff=0.01)
        with pytest.raises(HarvestError, match="169.254.169.254 is a cloud metadata address"):
            with open_location(portal.url("moved.json"), policy=policy) as snapshot:
                read_all(snapshot)


def test_webhooks_never_follow_redirects() -> None:
    with HttpCatalog() as portal:
        portal.route("hook", lambda r: Reply(307, b"", {"Location": "/elsewhere"}))
        with open_url(portal.url("hook"), method="POST", body=b"{}", allow_private=True,
                      timeout=5, max_redirects=0) as response:
            assert response.status == 307
    assert [(r.method, r.path, r.body) for r in portal.log] == [("POST", "/hook", b"{}")]


def test_unparseable_and_unsupported_urls_are_refused_with_the_field() -> None:
    cases: dict[str, Any] = {"ftp://example.org/x": "must start with http",
                             "http:///nohost": "has no host name",
                             "http://example.org:99999/": "not a valid URL",
                             "http://exa mple.org/": "spaces or control characters"}
    for url, words in cases.items():
        with pytest.raises(TargetRefused, match=words):
            open_url(url, allow_private=False, timeout=1)


def _self_signed(tmp_path: Any, name: str) -> tuple[str, str]:
    import subprocess

    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}"], check=True, capture_output=True)
    return str(key), str(cert)


def test_tls_runs_on_the_pinned_socket_for_the_host_name(tmp_path: Any, monkeypatch: Any) -> None:
    """The socket goes to the checked address; the certificate is checked against the
    name in the URL (SNI), not the address."""
    import http.server
    import ssl
    import threading

    from config.outgoing import connections

    key, cert = _self_signed(tmp_path, "portal.tls.example")
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    serving.load_cert_chain(cert, key)
    server.socket = serving.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    trusting = ssl.create_default_context(cafile=cert)
    monkeypatch.setattr(connections, "_TLS", trusting)
    port = server.server_address[1]
    resolve, asked = _dns({"portal.tls.example": [["127.0.0.1"]], "other.tls.example": [["127.0.0.1"]]})
    try:
        with override_resolver(resolve):
            with open_url(f"https://portal.tls.example:{port}/", allow_private=True,
                          timeout=5) as response:
                assert response.status == 200 and response.peer == "127.0.0.1"
            with pytest.raises(ssl.SSLCertVerificationError, match="other.tls.example"):
                open_url(f"https://other.tls.example:{port}/", allow_private=True, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert asked == ["portal.tls.example", "other.tls.example"]
