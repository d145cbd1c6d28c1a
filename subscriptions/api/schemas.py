"""The API's request and response shapes; the OpenAPI document is generated from them.

Request schemas check types only: what a value means (a query, a schedule, a webhook
URL) is checked by the domain functions, so the API, the web form and the CLI give the
same message for the same mistake.
"""
from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

SCOPES = ("read", "write", "admin")
Str = fields.String
Int = fields.Integer
Bool = fields.Boolean
When = fields.AwareDateTime


MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL


def Id(**kwargs: object) -> fields.Integer:  # noqa: N802 - reads as a field type, like Bool
    """A row id: 1 … 2³¹-1."""
    return fields.Integer(validate=validate.Range(1, MAX_ID), **kwargs)  # type: ignore[arg-type]


def nullable(field: fields.Field) -> fields.Field:
    """``field`` that may also be JSON null."""
    field.allow_none = True
    return field


class Problem(ma.Schema):
    """RFC 9457 problem details."""

    type = Str(required=True, metadata={"description": "A URI naming the kind of problem"})
    title = Str(required=True)
    status = Int(required=True)
    detail = Str(required=True)
    instance = Str(required=True)
    errors = fields.List(fields.Dict(), metadata={"description": "Each problem's field and message"})


# --- paging -------------------------------------------------------------------------

class PageArgs(ma.Schema):
    limit = Int(load_default=20, validate=validate.Range(1, 100),
                metadata={"description": "How many items per page (1-100)"})
    cursor = Str(load_default=None, validate=validate.Length(max=200),
                 metadata={"description": "The `next_cursor` of the previous page"})


# --- datasets -----------------------------------------------------------------------

class SearchArgs(PageArgs):
    sort = Str(load_default="relevance", validate=validate.OneOf(["relevance", "modified", "-modified", "title"]))
    facets = Bool(load_default=True, metadata={"description": "Include facet counts"})


class SearchGetArgs(SearchArgs):
    q = Str(load_default="{}", validate=validate.Length(max=20000),
            metadata={"description": 'The scene query as JSON, e.g. {"text": "交通"}'})


# Built from a dict: a field named ``exclude`` would shadow Schema.exclude as a class attribute.
_QueryFields = ma.Schema.from_dict(
    {"text": Str(), "filters": fields.Dict(), "exclude": fields.Dict(), "ranges": fields.Dict()},
    name="QueryFields",
)


class QueryBody(_QueryFields):  # type: ignore[misc,valid-type]
    """A scene query (see the README): text, filters, exclude, ranges."""

    class Meta:
        unknown = ma.INCLUDE  # unknown keys are named by the query validator


class Resource(ma.Schema):
    name = nullable(Str())
    format = nullable(Str())
    url = nullable(Str())
    size = nullable(Int())


class DatasetFields(ma.Schema):
    id = Str(required=True)
    source = Str()
    title = nullable(Str())
    description = nullable(Str())
    publisher = nullable(Str())
    region = nullable(Str())
    region_path = fields.List(Str())
    themes = fields.List(Str())
    tags = fields.List(Str())
    formats = fields.List(Str())
    machine_readable = nullable(Bool())
    open_type = nullable(Str())
    update_frequency = nullable(Str())
    license = nullable(Str())
    created = nullable(Str())
    modified = nullable(Str())
    record_count = nullable(Int())
    resources = fields.List(fields.Dict())
    landing_page = nullable(Str())
    quality = fields.Dict()


class FacetValue(ma.Schema):
    value = Str(required=True)
    count = Int(required=True)


class SearchPage(ma.Schema):
    total = Int(required=True)
    facets = fields.Dict(keys=Str(), values=fields.List(fields.Nested(FacetValue)))
    items = fields.List(fields.Nested(DatasetFields), required=True)
    next_cursor = nullable(Str(required=True))


class VersionInfo(ma.Schema):
    number = Int(required=True, metadata={"description": "1 for the first version seen"})
    content_hash = Str(required=True)
    seen_at = When(required=True)
    harvest_id = nullable(Int())


class DatasetDetail(DatasetFields):
    deleted_at = nullable(When())
    first_seen_at = When()
    last_changed_at = When()
    versions = fields.List(fields.Nested(VersionInfo), required=True)


class FieldChange(ma.Schema):
    field = Str(required=True)
    old = fields.Raw(allow_none=True)
    new = fields.Raw(allow_none=True)
    added = fields.List(fields.Raw())
    removed = fields.List(fields.Raw())
    changed = fields.List(fields.Raw())


class VersionDiff(ma.Schema):
    dataset_id = Str(required=True)
    old = Int(required=True)
    new = Int(required=True)
    changes = fields.List(fields.Nested(FieldChange), required=True)


# --- channels -----------------------------------------------------------------------

class ChannelOut(ma.Schema):
    id = Int(required=True)
    kind = Str(required=True)
    target = Str(required=True)
    cadence = Str()
    verified = Bool()
    paused = Bool()
    disabled_reason = nullable(Str())
    rotating_until = nullable(When())
    secret = Str(metadata={"description": "Webhook signing secret: only in the response that created it"})


class ChannelPage(ma.Schema):
    items = fields.List(fields.Nested(ChannelOut), required=True)
    next_cursor = nullable(Str(required=True))


class RotateArgs(ma.Schema):
    overlap_hours = Int(load_default=24, validate=validate.Range(0, 24 * 30),
                        metadata={"description": "Hours the old secret keeps signing too"})


class RotatedSecret(ma.Schema):
    channel_id = Int(required=True)
    secret = Str(required=True)
    previous_secret_expires_at = nullable(When())


class TestOutcomeOut(ma.Schema):
    ok = Bool(required=True)
    status_code = nullable(Int())
    latency_ms = nullable(Int())
    error = nullable(Str())
    message_id = Str(required=True)


# --- scenes -------------------------------------------------------------------------

class SceneIn(ma.Schema):
    name = Str(validate=validate.Length(max=10000))
    query = fields.Raw(metadata={"description": "The scene query: an object, or its JSON text",
                                 "type": ["object", "string"]})
    schedule = Str(validate=validate.Length(max=200),
                   metadata={"description": "hourly | daily | weekly | monthly | manual | on-change, or cron"})
    timezone = Str(validate=validate.Length(max=100))
    tracked_fields = fields.List(Str(validate=validate.Length(max=100)), validate=validate.Length(max=50))
    email = Str(validate=validate.Length(max=400))
    email_cadence = Str(validate=validate.Length(max=20))
    webhook = Str(validate=validate.Length(max=2000))
    send_when_empty = Bool()


class SceneCreate(SceneIn):
    name = Str(required=True, validate=validate.Length(max=10000))


class ScenePatch(ma.Schema):
    """The parts to change; channels are changed on the web page or by the CLI."""

    name = Str(validate=validate.Length(max=10000))
    query = nullable(fields.Raw(metadata={"description": "The new scene query (records a new baseline)",
                                          "type": ["object", "string"]}))
    schedule = Str(validate=validate.Length(max=200))
    timezone = Str(validate=validate.Length(max=100))
    tracked_fields = fields.List(Str(validate=validate.Length(max=100)), validate=validate.Length(max=50))
    paused = Bool()


class RunSummary(ma.Schema):
    id = Int(required=True)
    state = Str(required=True)
    scheduled_for = When(required=True)
    started_at = When(required=True)
    finished_at = nullable(When())
    matched = Int()
    added = Int()
    removed = Int()
    changed = Int()
    moved = Int()
    error = nullable(Str())


class SceneOut(ma.Schema):
    id = Int(required=True)
    name = Str(required=True)
    query = fields.Dict(required=True)
    schedule = Str(required=True)
    timezone = Str(required=True)
    tracked_fields = fields.List(Str())
    paused = Bool(required=True)
    next_run_at = nullable(When())
    created_at = When()
    channels = fields.List(fields.Nested(ChannelOut))
    last_run = nullable(fields.Nested(RunSummary))


class ScenePage(ma.Schema):
    items = fields.List(fields.Nested(SceneOut), required=True)
    next_cursor = nullable(Str(required=True))


class PreviewIn(ma.Schema):
    query = fields.Raw(metadata={"description": "A query to try instead of the saved one",
                                 "type": ["object", "string"]})
    limit = Int(load_default=10, validate=validate.Range(1, 100))


class PreviewOut(ma.Schema):
    total = Int(required=True)
    query = fields.Dict(required=True)
    items = fields.List(fields.Nested(DatasetFields), required=True)


class RunPage(ma.Schema):
    items = fields.List(fields.Nested(RunSummary), required=True)
    next_cursor = nullable(Str(required=True))


class RunDetail(RunSummary):
    scene_id = Int(required=True)
    diff = fields.Dict(required=True, metadata={"description": "The diff document, as webhooks carry it"})
    downloads = fields.Dict(keys=Str(), values=Str(), required=True)


# --- notifications ------------------------------------------------------------------

class DeliveryOut(ma.Schema):
    id = Int(required=True)
    notification_id = Int(required=True)
    attempt = Int(required=True)
    attempted_at = When(required=True)
    ok = Bool(required=True)
    status_code = nullable(Int())
    latency_ms = nullable(Int())
    error = nullable(Str())
    next_attempt_at = nullable(When())


class NotificationOut(ma.Schema):
    id = Int(required=True)
    message_id = Str(required=True, metadata={"description": "The webhook-id header"})
    channel_id = Int(required=True)
    scene_id = nullable(Int())
    run_id = nullable(Int())
    event_type = Str(required=True)
    state = Str(required=True)
    attempts = Int(required=True)
    next_attempt_at = nullable(When())
    created_at = When(required=True)
    sent_at = nullable(When())
    deliveries = fields.List(fields.Nested(DeliveryOut))


class NotificationArgs(PageArgs):
    scene_id = Id()
    run_id = Id()
    state = Str(validate=validate.OneOf(["pending", "retrying", "sent", "dead", "held"]))


class NotificationPage(ma.Schema):
    items = fields.List(fields.Nested(NotificationOut), required=True)
    next_cursor = nullable(Str(required=True))


class DeliveryPage(ma.Schema):
    items = fields.List(fields.Nested(DeliveryOut), required=True)
    next_cursor = nullable(Str(required=True))


class Redelivered(ma.Schema):
    id = Int(required=True)
    state = Str(required=True)


# --- tokens -------------------------------------------------------------------------

class TokenIn(ma.Schema):
    name = Str(validate=validate.Length(max=10000))
    scope = Str(load_default="read", metadata={"enum": list(SCOPES)})
    expires_at = nullable(When(metadata={"description": "When the token stops working (default: never)"}))


class TokenOut(ma.Schema):
    id = Int(required=True)
    name = Str(required=True)
    prefix = Str(required=True)
    scope = Str(required=True)
    state = Str(required=True)
    created_at = When(required=True)
    last_used_at = nullable(When())
    expires_at = nullable(When())
    revoked_at = nullable(When())
    token = Str(metadata={"description": "The token itself: only in the response that created it"})


class TokenPage(ma.Schema):
    items = fields.List(fields.Nested(TokenOut), required=True)
    next_cursor = nullable(Str(required=True))

