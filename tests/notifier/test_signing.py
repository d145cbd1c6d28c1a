"""Signatures are checked by the reference ``standardwebhooks`` package, not only by ours."""
from __future__ import annotations

import base64
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from notifier.signing import (
    SignatureError,
    active_secrets,
    generate_secret,
    rotate_secret,
    secret_bytes,
    sign,
    signature_header,
    verify,
)

BODY = '{"type":"scene.changed","data":{"scene":{"name":"杭州交通"}}}'.encode()


def headers(msg_id: str, ts: int, signature: str) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": signature}


def test_secret_format() -> None:
    secret = generate_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret[len("whsec_"):])) == 32
    assert len(secret_bytes(generate_secret(24))) == 24
    assert generate_secret() != generate_secret()
    with pytest.raises(ValueError):
        generate_secret(16)


@pytest.mark.parametrize("bad", ["", "abc", "whsec_!!!notbase64", "whsec_" + base64.b64encode(b"short").decode()])
def test_malformed_secrets_are_refused(bad: str) -> None:
    with pytest.raises(SignatureError):
        sign(bad, "msg_1", 1, BODY)


def test_standardwebhooks_verifies_our_signature() -> None:
    secret = generate_secret()
    ts = int(time.time())
    signature = sign(secret, "msg_abc", ts, BODY)
    assert signature.startswith("v1,")
    payload = Webhook(secret).verify(BODY, headers("msg_abc", ts, signature))
    assert payload["data"]["scene"]["name"] == "杭州交通"
    # Same bytes as the reference signer produces.
    assert signature == Webhook(secret).sign("msg_abc", datetime.fromtimestamp(ts, UTC), BODY.decode())


def test_tampering_is_detected_by_standardwebhooks() -> None:
    secret = generate_secret()
    ts = int(time.time())
    signature = sign(secret, "msg_abc", ts, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY.replace("杭州".encode(), "北京".encode()), headers("msg_abc", ts, signature))
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(BODY, headers("msg_other", ts, signature))
    with pytest.raises(WebhookVerificationError):
        Webhook(generate_secret()).verify(BODY, headers("msg_abc", ts, signature))


def test_rotation_sends_two_signatures_until_the_old_secret_expires() -> None:
    now = datetime.now(UTC)
    old = generate_secret()
    channel = SimpleNamespace(secret=old, previous_secret="", previous_secret_expires_at=None)
    new = rotate_secret(channel, now, overlap=timedelta(hours=1))
    assert channel.secret == new and channel.previous_secret == old
    ts = int(time.time())
    header = signature_header(active_secrets(channel, now), "msg_r", ts, BODY)
    assert len(header.split(" ")) == 2
    # A receiver still on the old secret and one already on the new one both accept it.
    Webhook(old).verify(BODY, headers("msg_r", ts, header))
    Webhook(new).verify(BODY, headers("msg_r", ts, header))
    later = now + timedelta(hours=2)
    assert active_secrets(channel, later) == [new]
    header_later = signature_header(active_secrets(channel, later), "msg_r", ts, BODY)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(BODY, headers("msg_r", ts, header_later))


def test_our_verify_matches_the_rules() -> None:
    secret = generate_secret()
    ts = int(time.time())
    header = "v1a,ignored " + sign(secret, "msg_v", ts, BODY)
    verify([secret], "msg_v", str(ts), BODY, header)  # the v1a entry is skipped, v1 matches
    with pytest.raises(SignatureError):
        verify([secret], "msg_v", str(ts), BODY + b" ", header)
    with pytest.raises(SignatureError):
        verify([secret], "msg_v", str(ts - 3600), BODY, sign(secret, "msg_v", ts - 3600, BODY))
    with pytest.raises(SignatureError):
        verify([secret], "msg_v", "soon", BODY, header)
