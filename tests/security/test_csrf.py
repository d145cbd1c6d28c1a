"""CSRF: a forged cross-site form post changes nothing, whatever headers it carries."""

from __future__ import annotations

from flask import Blueprint, Flask
from sqlalchemy import select

from config.extensions import db
from subscriptions.models import Scene, User
from subscriptions.scenes import create_scene
from tests.security.conftest import build_app, csrf_token, post, register


def _scene_of(email: str) -> int:
    with db.session() as s:
        user = s.scalar(select(User).where(User.email == email))
        assert user is not None
        return create_scene(s, user, name="mine", query={}, schedule="daily").scene.id


def _paused(scene_id: int) -> bool:
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        assert scene is not None
        return scene.paused


def test_an_authorization_header_does_not_skip_the_check(prod_app: Flask) -> None:
    client = prod_app.test_client()
    register(client, "victim@example.org")
    scene_id = _scene_of("victim@example.org")
    for headers in ({"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer anything"},
                    {}):
        response = client.post(f"/scenes/{scene_id}/pause", headers=headers)
        assert response.status_code == 400, headers
        assert not _paused(scene_id)
    # A token from another session is no better than none.
    stranger = prod_app.test_client()
    foreign = csrf_token(stranger)
    assert client.post(f"/scenes/{scene_id}/pause", data={"csrf_token": foreign}).status_code == 400
    assert not _paused(scene_id)
    # The session's own token works, in the form or in the header.
    assert post(client, f"/scenes/{scene_id}/pause").status_code == 302
    assert _paused(scene_id)
    token = csrf_token(client, f"/scenes/{scene_id}")
    assert client.post(f"/scenes/{scene_id}/resume", headers={"X-CSRF-Token": token}).status_code == 302
    assert not _paused(scene_id)


def test_a_csrf_refusal_is_a_clear_page(prod_app: Flask) -> None:
    response = prod_app.test_client().post("/login?lang=en", data={"email": "a@b.c", "password": "x"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert "Traceback" not in html and "came from another site" in html


def test_csrf_is_on_outside_testing_even_when_the_flag_says_off(settings) -> None:  # type: ignore[no-untyped-def]
    application = build_app(settings, production=False, WTF_CSRF_ENABLED=False)
    with application.app_context():
        response = application.test_client().post("/login", data={"email": "x@example.org", "password": "x"})
    assert response.status_code == 400


def test_one_call_exempts_a_token_only_blueprint(settings) -> None:  # type: ignore[no-untyped-def]
    from subscriptions.views.csrf import exempt_blueprint

    machine = Blueprint("machine_for_test", __name__)

    @machine.post("/machine-for-test")
    def hook() -> str:
        return "ok"

    exempt_blueprint(machine)
    application = build_app(settings, production=True)
    application.register_blueprint(machine)
    with application.app_context():
        client = application.test_client()
        assert client.post("/machine-for-test").get_data(as_text=True) == "ok"
        assert client.post("/logout").status_code == 400  # everything else stays protected
