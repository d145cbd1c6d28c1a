"""Error pages in both languages, JSON errors for API clients, and /healthz."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient


def test_404_in_both_languages(client: FlaskClient) -> None:
    zh = client.get("/no/such/page")
    assert zh.status_code == 404
    assert "页面不存在" in zh.get_data(as_text=True)
    en = client.get("/no/such/page?lang=en")
    assert en.status_code == 404 and "Page not found" in en.get_data(as_text=True)


def test_405_names_the_allowed_methods(client: FlaskClient) -> None:
    response = client.get("/logout", headers={"Accept-Language": "en"})
    assert response.status_code == 405
    assert "POST" in response.headers["Allow"]
    assert "Method not allowed" in response.get_data(as_text=True)


def test_400_page(client: FlaskClient) -> None:
    from werkzeug.exceptions import BadRequest

    from subscriptions.views.errors import render_error

    with client.application.test_request_context("/", headers={"Accept-Language": "zh"}):
        body, code = render_error(BadRequest())
    assert code == 400 and "请求有误" in body


def test_500_page_hides_the_error(app: Flask) -> None:
    @app.route("/boom-for-test")
    def boom() -> str:
        raise RuntimeError("secret internals")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    response = app.test_client().get("/boom-for-test?lang=en")
    assert response.status_code == 500
    html = response.get_data(as_text=True)
    assert "Something went wrong" in html and "secret internals" not in html


def test_json_errors_for_api_clients(client: FlaskClient) -> None:
    response = client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.content_type == "application/problem+json"  # RFC 9457 under /api/v1
    assert response.get_json()["status"] == 404
    response = client.get("/nothing", headers={"Accept": "application/json"})
    assert response.get_json()["error"]["code"] == 404


def test_healthz_counts_datasets(client: FlaskClient, catalog: list[dict]) -> None:
    body = client.get("/healthz").get_json()
    assert body == {"ok": True, "datasets": len(catalog)}


def test_pages_carry_a_script_free_csp(client: FlaskClient) -> None:
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "script-src 'self';" in csp and "unsafe-eval" not in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script" not in response.get_data(as_text=True)
