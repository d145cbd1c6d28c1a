"""Batch downloads over HTTP: the run ZIP, CSV/XLSX/JSON exports and the Atom feed.

- ``GET /downloads/<token>``: the ZIP of a run's selection (signed, expiring link);
- ``GET /exports/<token>.<csv|xlsx|json>``: the same selection as a table, same token;
- ``GET /scenes/<id>/export.<csv|xlsx|json>``: a scene's current results, for its owner;
- ``GET /feeds/<feed_token>.atom``: the scene's Atom feed (the token is the secret).

Link problems get a short page in both languages: 400 for a garbled token, 410 for
an expired one, 404 for a run or scene that no longer exists.
"""
from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Iterator
from datetime import datetime
from html import escape
from urllib.parse import quote

from flask import Blueprint, Flask, current_app, redirect, request, url_for
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from config.extensions import db
from config.settings import Settings
from notifier.tokens import ExpiredToken, InvalidToken, make_download_token, read_download_token
from subscriptions.downloads.exports import (
    EXPORT_TYPES,
    Batch,
    run_batch,
    scene_batch,
    stream_export,
)
from subscriptions.models import Scene

bp = Blueprint("downloads", __name__)
log = logging.getLogger("scenewatch.downloads")
FORMATS = "any(csv, xlsx, json)"
UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f<>:"/\\|?*;]+')
# The token in the URL is the authority: keep it out of caches and Referer headers.
PRIVATE_HEADERS = {
    "Cache-Control": "private, no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "X-Robots-Tag": "noindex, nofollow",
}
PROBLEMS: dict[int, tuple[str, str, str]] = {
    400: ("链接无效", "This link is not valid",
          "The link is damaged or incomplete. Copy the whole link from the message. / "
          "链接不完整或已损坏，请从消息中复制完整链接。"),
    401: ("需要登录", "Please log in",
          "Log in as the scene's owner to export it. / 请以场景所有者身份登录后导出。"),
    404: ("找不到内容", "Nothing here any more",
          "The run or scene this link points to no longer exists (it may have been deleted). / "
          "该链接指向的运行记录或场景已不存在（可能已被删除）。"),
    410: ("链接已过期", "This link has expired",
          "Download links work for a limited time. Open the scene's page for a fresh one. / "
          "下载链接有时效，请到场景页面获取新链接。"),
}


def _settings() -> Settings:
    return current_app.config["SCENEWATCH"]


def problem(code: int) -> Response:
    """A small self-contained page explaining a link problem, in Chinese and English."""
    zh, en, detail = PROBLEMS[code]
    body = (f'<!doctype html><html lang="zh"><meta charset="utf-8">'
            f"<title>{code} {escape(en)}</title>"
            f'<body style="font-family:sans-serif;max-width:40em;margin:3em auto">'
            f"<h1>{escape(zh)} / {escape(en)}</h1><p>{escape(detail)}</p>"
            f'<p><a href="/">scenewatch</a></p></body></html>')
    return Response(body, status=code, mimetype="text/html", headers=PRIVATE_HEADERS)


def content_disposition(filename: str) -> str:
    """``attachment`` with an ASCII ``filename`` and the exact name as RFC 5987 ``filename*``."""
    clean = UNSAFE_FILENAME.sub("_", unicodedata.normalize("NFC", filename)).strip(" .")
    clean = clean or "download"
    stem, dot, ext = clean.rpartition(".")
    fallback = unicodedata.normalize("NFKD", stem if dot else clean)
    fallback = fallback.encode("ascii", "ignore").decode()
    fallback = re.sub(r"[^A-Za-z0-9._-]+", "_", fallback).strip("._-") or "download"
    if dot:
        fallback = f"{fallback}.{re.sub(r'[^A-Za-z0-9]+', '', ext) or 'bin'}"
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(clean, safe='')}"


def _filename(batch: Batch, ext: str) -> str:
    return f"{batch.scene_name[:80]}-{batch.label}.{ext}"


def _logged(chunks: Iterator[bytes], what: str) -> Iterator[bytes]:
    # Once streaming has started the status line is sent: a failure can only be
    # logged and the download cut short, which the client sees as an incomplete file.
    try:
        yield from chunks
    except Exception:  # a client hanging up is GeneratorExit, not logged
        log.exception("%s failed while streaming", what)
        raise


def _streamed(chunks: Iterator[bytes], mimetype: str, filename: str, what: str) -> Response:
    headers = {**PRIVATE_HEADERS, "Content-Disposition": content_disposition(filename)}
    return Response(_logged(chunks, what), content_type=mimetype, headers=headers)


def _batch_for_token(token: str) -> Batch | Response:
    try:
        run_id, selection, stamp = read_download_token(token, settings=_settings())
    except ExpiredToken:
        return problem(410)
    except InvalidToken:
        return problem(400)
    batch = run_batch(run_id, selection, stamp)
    return batch if batch is not None else problem(404)


@bp.route("/downloads/<token>")
def download(token: str) -> Response:
    """The ZIP of the run and selection named by ``token``."""
    from subscriptions.downloads.bundle import stream_bundle

    batch = _batch_for_token(token)
    if isinstance(batch, Response):
        return batch
    chunks = stream_bundle(batch, allow_private=_settings().webhook_allow_private)
    return _streamed(chunks, "application/zip", _filename(batch, "zip"), f"bundle {batch.label}")


def _export(batch: Batch, fmt: str) -> Response:
    mimetype = EXPORT_TYPES[fmt]
    return _streamed(stream_export(batch, fmt), mimetype, _filename(batch, fmt),
                     f"{fmt} export {batch.label}")


@bp.route(f"/exports/<token>.<{FORMATS}:fmt>")
def export_by_token(token: str, fmt: str) -> Response:
    """The run selection named by ``token`` as CSV, XLSX or JSON (links in emails)."""
    batch = _batch_for_token(token)
    if isinstance(batch, Response):
        return batch
    return _export(batch, fmt)


@bp.route(f"/scenes/<int:scene_id>/export.<{FORMATS}:fmt>")
def export_scene(scene_id: int, fmt: str) -> Response:
    """The scene's current results for its logged-in owner."""
    from subscriptions.views.auth import current_user

    user = current_user()
    user_id = user.id if user is not None else None
    if user_id is None:
        try:
            return redirect(url_for("auth.login", next=request.path))  # type: ignore[return-value]
        except BuildError:  # no login page in this app: say so plainly
            return problem(401)
    with db.session() as s:
        scene = s.get(Scene, scene_id)
        # Someone else's scene is "not found": its existence is nobody else's business.
        if scene is None or scene.owner_id != user_id:
            return problem(404)
        batch = scene_batch(scene)
    return _export(batch, fmt)


@bp.route("/feeds/<feed_token>.atom")
def feed(feed_token: str) -> Response:
    """The scene's Atom feed; readers may poll it, so it answers conditional requests."""
    from subscriptions.downloads.feed import load_feed, render_feed

    loaded = load_feed(feed_token)
    if loaded is None:
        return problem(404)
    body = render_feed(*loaded, base_url=_settings().base_url)
    response = Response(body, mimetype="application/atom+xml", headers={
        "Cache-Control": "private, max-age=300", "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff", "X-Robots-Tag": "noindex, nofollow"})
    response.add_etag()
    return response.make_conditional(request)


def export_url(run_id: int, selection: str, fmt: str, settings: Settings, *,
               started_at: datetime) -> str:
    """``{base}/exports/<token>.<fmt>``: a signed export link a notification can carry."""
    if fmt not in EXPORT_TYPES:
        raise ValueError(f"export format must be one of {', '.join(EXPORT_TYPES)}, not {fmt!r}")
    token = make_download_token(run_id, selection, settings, started_at=started_at)
    return f"{settings.base_url}/exports/{token}.{fmt}"


def register_download_views(app: Flask) -> None:
    """Register the downloads blueprint on ``app`` (once, whoever asks first)."""
    if bp.name not in app.blueprints:
        app.register_blueprint(bp)
