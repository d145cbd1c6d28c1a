"""Who may read which mail in the embedded outbox.

The attack: user B adds an unconfirmed channel whose address is a substring of user
A's address (``y@example.org`` ⊂ ``alice-notify@example.org``) and reads A's mail,
with A's unsubscribe, download and confirm links.
"""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage

from flask import Flask
from sqlalchemy import select

from config.extensions import db
from config.settings import Settings
from notifier.mailer import send_message
from subscriptions.models import User
from subscriptions.scenes import create_scene
from tests.web.conftest import register


def _mail(settings: Settings, to: str, subject: str) -> str:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = settings.mail_from, to, subject
    msg.set_content("a diff\n")
    return send_message(msg, settings)


def _add_channel(email: str, owner: str, verified: bool) -> None:
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == owner))
        assert user is not None
        create_scene(s, user, name=f"scene for {email}", query={}, schedule="manual",
                     email=email, email_verified=verified)


def _production(app: Flask, settings: Settings) -> None:
    app.config["SCENEWATCH"] = dataclasses.replace(settings, env="production")


def test_an_unconfirmed_lookalike_address_reads_no_one_elses_mail(
    app: Flask, settings: Settings
) -> None:
    alice, bob = app.test_client(), app.test_client()
    register(alice, "alice@example.org")
    register(bob, "bob@example.org")
    _add_channel("alice-notify@example.org", "alice@example.org", verified=True)
    _add_channel("y@example.org", "bob@example.org", verified=False)  # ⊂ alice-notify@…
    secret = _mail(settings, "alice-notify@example.org", "alice's diff")
    to_bob_unconfirmed = _mail(settings, "y@example.org", "confirm y")
    _production(app, settings)

    bob_list = bob.get("/outbox").get_data(as_text=True)
    assert secret not in bob_list and "alice&#39;s diff" not in bob_list
    assert bob.get(f"/outbox/{secret}").status_code == 404
    assert bob.get(f"/outbox/{secret}/html").status_code == 404
    # An address Bob has not confirmed is not his either (double opt-in stays intact).
    assert to_bob_unconfirmed not in bob_list
    assert bob.get(f"/outbox/{to_bob_unconfirmed}").status_code == 404

    alice_list = alice.get("/outbox").get_data(as_text=True)
    assert secret in alice_list and to_bob_unconfirmed not in alice_list
    assert alice.get(f"/outbox/{secret}").status_code == 200


def test_matching_is_exact_and_case_insensitive(app: Flask, settings: Settings) -> None:
    alice = app.test_client()
    register(alice, "alice@example.org")
    _add_channel("Alerts@Example.org", "alice@example.org", verified=True)
    upper = _mail(settings, "ALERTS@example.ORG", "upper")
    named = _mail(settings, "Alice <ALICE@example.org>", "named")
    longer = _mail(settings, "xalice@example.org", "longer")
    suffix = _mail(settings, "alerts@example.org.evil", "suffix")
    _production(app, settings)
    html = alice.get("/outbox").get_data(as_text=True)
    assert upper in html and named in html
    assert longer not in html and suffix not in html


def test_development_outbox_hides_accounts_mail_from_others(
    app: Flask, settings: Settings
) -> None:
    """On a development install the anonymous outbox is the local mail catcher for
    the command line's and the demo's mail, but never shows mail addressed to a
    web account's own addresses to anybody else."""
    alice, bob = app.test_client(), app.test_client()
    register(alice, "alice@example.org")
    register(bob, "bob@example.org")
    _add_channel("alice-notify@example.org", "alice@example.org", verified=True)
    secret = _mail(settings, "alice-notify@example.org", "alice's diff")
    cli_mail = _mail(settings, "ops@example.org", "from the command line")
    anonymous = app.test_client()
    listing = anonymous.get("/outbox").get_data(as_text=True)
    assert cli_mail in listing and secret not in listing
    assert anonymous.get(f"/outbox/{secret}").status_code == 404
    assert secret not in bob.get("/outbox").get_data(as_text=True)
    assert bob.get(f"/outbox/{secret}").status_code == 404
    assert alice.get(f"/outbox/{secret}").status_code == 200
