"""Webhook targets on our own network are refused, with a message that says why."""
from __future__ import annotations

import socket

import pytest

from config.outgoing import open_url
from notifier.ssrf import WebhookTargetError, check_webhook_url


@pytest.mark.parametrize("url, reason", [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://10.0.0.1/hook", "private"),
    ("http://192.168.1.20:8080/", "private"),
    ("http://169.254.169.254/latest/meta-data/", "metadata"),
    ("http://[::1]:8000/hook", "loopback"),
    ("http://localhost:8000/hook", "loopback"),
    ("http://api.localhost/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/", "loopback"),
    ("http://[::ffff:10.0.0.1]/", "private"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fd12:3456::1]/", "private"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://224.0.0.1/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://100.64.0.1/", "carrier-grade"),
    ("http://[2002:7f00:1::]/", "loopback"),  # 6to4 wrapping 127.0.0.1
])
def test_private_targets_refused(url: str, reason: str) -> None:
    with pytest.raises(WebhookTargetError) as caught:
        check_webhook_url(url, allow_private=False)
    assert reason in str(caught.value)
    assert "refused" in str(caught.value) or "loopback" in str(caught.value)


@pytest.mark.parametrize("url", [
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:169.254.169.254]/",
    "http://100.100.100.200/latest/meta-data/",
    "http://metadata.google.internal/computeMetadata/v1/",
])
def test_cloud_metadata_refused_even_when_private_allowed(url: str) -> None:
    with pytest.raises(WebhookTargetError, match="metadata"):
        check_webhook_url(url, allow_private=True)


def test_private_allowed_when_configured() -> None:
    assert [str(ip) for ip in check_webhook_url("http://127.0.0.1:9/x", allow_private=True)] == ["127.0.0.1"]
    assert check_webhook_url("http://10.1.2.3/x", allow_private=True)


@pytest.mark.parametrize("url, words", [
    ("ftp://example.org/hook", "http:// or https://"),
    ("file:///etc/passwd", "http:// or https://"),
    ("javascript:alert(1)", "http:// or https://"),
    ("http:///nohost", "no host"),
    ("http://example.org:99999/", "invalid port"),
])
def test_malformed_urls_refused(url: str, words: str) -> None:
    with pytest.raises(WebhookTargetError, match=words.replace("/", "/")):
        check_webhook_url(url, allow_private=False, resolve=lambda h, p: ["93.184.215.14"])


def test_public_names_pass_and_any_private_record_fails() -> None:
    public = check_webhook_url("https://hooks.example.org/x", allow_private=False,
                               resolve=lambda host, port: ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    assert len(public) == 2
    # One private record among public ones is enough to refuse: the connection could pick it.
    with pytest.raises(WebhookTargetError, match=r"hooks.example.org \(10.0.0.7\) is a private address"):
        check_webhook_url("https://hooks.example.org/x", allow_private=False,
                          resolve=lambda host, port: ["93.184.215.14", "10.0.0.7"])


def test_dns_failure_is_retryable() -> None:
    def broken(host: str, port: int) -> list[str]:
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    with pytest.raises(WebhookTargetError) as caught:
        check_webhook_url("https://nowhere.example.org/", allow_private=False, resolve=broken)
    assert caught.value.retryable and "could not be resolved" in str(caught.value)
    with pytest.raises(WebhookTargetError) as refused:
        check_webhook_url("http://10.0.0.1/", allow_private=False)
    assert not refused.value.retryable


def test_outgoing_requests_refuse_a_private_peer_before_sending(receiver) -> None:
    """Every outgoing request checks the address it connects to; nothing reaches a
    private peer unless private targets are allowed."""
    with pytest.raises(WebhookTargetError, match="127.0.0.1"):
        open_url(receiver.url, method="POST", body=b"{}", allow_private=False, timeout=2)
    assert receiver.requests == []
    with open_url(receiver.url, method="POST", body=b"{}", allow_private=True, timeout=2) as response:
        assert response.status == 200
    assert len(receiver.requests) == 1
