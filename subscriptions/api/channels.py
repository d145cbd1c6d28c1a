"""/api/v1/channels: the caller's email and webhook channels: pause, resume, rotate, test."""
from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import current_app
from flask.views import MethodView
from sqlalchemy import select

from config.extensions import db
from notifier import channel_admin
from notifier.models import Channel
from subscriptions.api.auth import caller
from subscriptions.api.common import Blueprint, owned
from subscriptions.api.paging import keyset_page
from subscriptions.api.problems import ApiProblem
from subscriptions.api.schemas import (
    ChannelOut,
    ChannelPage,
    PageArgs,
    RotateArgs,
    RotatedSecret,
    TestOutcomeOut,
)

bp = Blueprint("api_channels", __name__, url_prefix="/api/v1/channels",
               description="Where diffs go: pause and resume, rotate a webhook secret, send a test event.")


def _webhook(session: Any, channel_id: int) -> Channel:
    channel = owned(session, Channel, channel_id)
    if channel.kind != "webhook":
        raise ApiProblem(409, f"channel {channel_id} is an {channel.kind} channel; this is for webhooks",
                         kind="conflict")
    return channel


@bp.route("")
class Channels(MethodView):
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, ChannelPage)
    @bp.problems(401, 403, 422, 429)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List your channels"""
        with db.session() as session:
            stmt = select(Channel).where(Channel.owner_id == caller().user_id)
            items, next_cursor = keyset_page(session, stmt, Channel.id, "channels", args["limit"], args["cursor"])
            return {"items": [channel_admin.channel_info(c) for c in items], "next_cursor": next_cursor}


@bp.route("/<int:channel_id>")
class ChannelItem(MethodView):
    @bp.response(200, ChannelOut)
    @bp.problems(401, 403, 404, 429)
    def get(self, channel_id: int) -> dict[str, Any]:
        """One of your channels"""
        with db.session() as session:
            return channel_admin.channel_info(owned(session, Channel, channel_id))


@bp.route("/<int:channel_id>/pause")
class ChannelPause(MethodView):
    @bp.response(200, ChannelOut)
    @bp.problems(401, 403, 404, 429)
    def post(self, channel_id: int) -> dict[str, Any]:
        """Pause a channel

        Its notifications are held until it is resumed.
        """
        with db.session() as session:
            channel = owned(session, Channel, channel_id)
            channel_admin.pause(channel)
            return channel_admin.channel_info(channel)


@bp.route("/<int:channel_id>/resume")
class ChannelResume(MethodView):
    @bp.response(200, ChannelOut)
    @bp.problems(401, 403, 404, 429)
    def post(self, channel_id: int) -> dict[str, Any]:
        """Resume a channel

        Held notifications become due and go out with the next delivery tick.
        """
        with db.session() as session:
            channel = owned(session, Channel, channel_id)
            channel_admin.resume(session, channel)
            return channel_admin.channel_info(channel)


@bp.route("/<int:channel_id>/rotate-secret")
class ChannelRotate(MethodView):
    @bp.arguments(RotateArgs, location="json")
    @bp.response(200, RotatedSecret)
    @bp.problems(401, 403, 404, 409, 422, 429)
    def post(self, body: dict[str, Any], channel_id: int) -> dict[str, Any]:
        """Rotate a webhook's signing secret

        The new secret is in this response only. During `overlap_hours` deliveries
        carry two signatures (new and old), so receivers can switch without a gap.
        """
        with db.session() as session:
            channel = _webhook(session, channel_id)
            secret = channel_admin.rotate(channel, timedelta(hours=body["overlap_hours"]))
            return {"channel_id": channel.id, "secret": secret,
                    "previous_secret_expires_at": channel.previous_secret_expires_at}


@bp.route("/<int:channel_id>/test")
class ChannelTest(MethodView):
    @bp.response(200, TestOutcomeOut)
    @bp.problems(401, 403, 404, 409, 429)
    def post(self, channel_id: int) -> dict[str, Any]:
        """Send a test event

        POSTs a signed `test.ping` to the webhook and reports what came back (not
        recorded as a notification).
        """
        with db.session() as session:
            channel = _webhook(session, channel_id)
            outcome = channel_admin.send_test(channel, current_app.config["SCENEWATCH"])
        return {"ok": outcome.ok, "status_code": outcome.status_code, "latency_ms": outcome.latency_ms,
                "error": outcome.error, "message_id": outcome.message_id}
