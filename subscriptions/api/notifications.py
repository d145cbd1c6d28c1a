"""/api/v1/notifications and /api/v1/deliveries: what was sent where, every attempt,
and redelivery of a notification with its original webhook-id."""
from __future__ import annotations

from typing import Any

from flask.views import MethodView
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from config.extensions import db
from notifier.models import Channel, Delivery, Notification
from subscriptions.api.auth import caller
from subscriptions.api.common import Blueprint
from subscriptions.api.paging import keyset_page
from subscriptions.api.problems import ApiProblem
from subscriptions.api.schemas import (
    DeliveryPage,
    NotificationArgs,
    NotificationOut,
    NotificationPage,
    PageArgs,
    Redelivered,
)

bp = Blueprint("api_notifications", __name__, url_prefix="/api/v1",
               description="Notifications (one diff for one channel), their delivery attempts, redelivery.")
REDELIVERABLE = ("dead", "sent")


def delivery_info(delivery: Delivery) -> dict[str, Any]:
    """One attempt as the delivery log shows it (our error text, never the receiver's body)."""
    return {
        "id": delivery.id, "notification_id": delivery.notification_id, "attempt": delivery.attempt,
        "attempted_at": delivery.attempted_at, "ok": delivery.ok, "status_code": delivery.status_code,
        "latency_ms": delivery.latency_ms, "error": delivery.error, "next_attempt_at": delivery.next_attempt_at,
    }


def notification_info(note: Notification, with_deliveries: bool = True) -> dict[str, Any]:
    """A notification without its payload (the run's diff document is on the run)."""
    info: dict[str, Any] = {
        "id": note.id, "message_id": note.message_id, "channel_id": note.channel_id, "scene_id": note.scene_id,
        "run_id": note.run_id, "event_type": note.event_type, "state": note.state, "attempts": note.attempts,
        "next_attempt_at": note.next_attempt_at, "created_at": note.created_at, "sent_at": note.sent_at,
    }
    if with_deliveries:
        info["deliveries"] = [delivery_info(d) for d in note.deliveries]
    return info


def _mine() -> Any:
    return select(Channel.id).where(Channel.owner_id == caller().user_id)


def _owned_notification(session: Any, notification_id: int) -> Notification:
    note = session.get(Notification, notification_id) if 0 < notification_id < 2**31 else None
    if note is None or note.channel.owner_id != caller().user_id:
        raise ApiProblem(404, "not found")
    return note


@bp.route("/notifications")
class Notifications(MethodView):
    @bp.arguments(NotificationArgs, location="query")
    @bp.response(200, NotificationPage)
    @bp.problems(401, 403, 422, 429)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """List your notifications

        Newest first, each with its delivery attempts; filter by `scene_id`, `run_id`, `state`.
        """
        stmt = (select(Notification).where(Notification.channel_id.in_(_mine()))
                .options(selectinload(Notification.deliveries)))
        for name in ("scene_id", "run_id", "state"):
            if args.get(name) is not None:
                stmt = stmt.where(getattr(Notification, name) == args[name])
        with db.session() as session:
            items, next_cursor = keyset_page(session, stmt, Notification.id, "notifications",
                                             args["limit"], args["cursor"])
            return {"items": [notification_info(n) for n in items], "next_cursor": next_cursor}


@bp.route("/notifications/<int:notification_id>")
class NotificationItem(MethodView):
    @bp.response(200, NotificationOut)
    @bp.problems(401, 403, 404, 429)
    def get(self, notification_id: int) -> dict[str, Any]:
        """One notification with every delivery attempt"""
        with db.session() as session:
            return notification_info(_owned_notification(session, notification_id))


@bp.route("/notifications/<int:notification_id>/deliveries")
class NotificationDeliveries(MethodView):
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, DeliveryPage)
    @bp.problems(401, 403, 404, 422, 429)
    def get(self, args: dict[str, Any], notification_id: int) -> dict[str, Any]:
        """A notification's delivery attempts

        Newest first: time, status code, latency and our error text.
        """
        with db.session() as session:
            note = _owned_notification(session, notification_id)
            stmt = select(Delivery).where(Delivery.notification_id == note.id)
            items, next_cursor = keyset_page(session, stmt, Delivery.id, f"deliveries{note.id}",
                                             args["limit"], args["cursor"])
            return {"items": [delivery_info(d) for d in items], "next_cursor": next_cursor}


@bp.route("/notifications/<int:notification_id>/redeliver")
class NotificationRedeliver(MethodView):
    @bp.response(200, Redelivered)
    @bp.problems(401, 403, 404, 409, 429)
    def post(self, notification_id: int) -> dict[str, Any]:
        """Redeliver a notification

        A dead or already sent notification is sent again now, with the same
        `webhook-id` and body, so receivers that dedupe on it see it once. Returns the
        state after this attempt (`sent`, or `retrying` with the retry schedule).
        """
        from notifier.delivery import deliver_notification
        from notifier.lifecycle import redeliver

        with db.session() as session:
            note = _owned_notification(session, notification_id)
            if note.state not in REDELIVERABLE:
                raise ApiProblem(409, f"notification {notification_id} is {note.state}; only dead or sent "
                                      "notifications can be redelivered", kind="conflict")
        redeliver(notification_id)
        state = deliver_notification(notification_id)
        return {"id": notification_id, "state": state}


@bp.route("/deliveries")
class Deliveries(MethodView):
    @bp.arguments(PageArgs, location="query")
    @bp.response(200, DeliveryPage)
    @bp.problems(401, 403, 422, 429)
    def get(self, args: dict[str, Any]) -> dict[str, Any]:
        """The delivery log

        Every attempt to deliver any of your notifications, newest first.
        """
        mine = select(Notification.id).where(Notification.channel_id.in_(_mine()))
        with db.session() as session:
            stmt = select(Delivery).where(Delivery.notification_id.in_(mine))
            items, next_cursor = keyset_page(session, stmt, Delivery.id, "deliveries", args["limit"], args["cursor"])
            return {"items": [delivery_info(d) for d in items], "next_cursor": next_cursor}
