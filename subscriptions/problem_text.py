"""Field problems in the reader's language.

Validation lives in the domain (query model, accounts, schedules, channels) and says
what is wrong in English, for logs, the CLI and the API. The web pages show the same
problem in the reader's language: each known English message is matched here and
rewritten with a catalog message (``problem.*``), keeping the values it names. A
message not listed here is shown as it is.
"""
from __future__ import annotations

import re
from collections.abc import Callable

_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"(?P<value>.*) is not an email address", "problem.not_email"),
    (r"must be at least (?P<n>\d+) characters", "problem.password_short"),
    (r"(?P<value>\S+) is already registered", "problem.email_taken"),
    (r"a scene needs a name", "problem.name_missing"),
    (r"at most (?P<n>\d+) characters", "problem.too_long"),
    (r"(?P<value>'.*') is not a known time zone.*", "problem.bad_timezone"),
    (r"(?P<value>'.*') is neither a preset .*", "problem.bad_schedule"),
    (r"(?P<value>'.*') is not a valid cron expression.*", "problem.bad_cron"),
    (r"unknown field\(s\) (?P<value>[^;]*);.*", "problem.unknown_fields"),
    (r"must be immediate, daily or weekly", "problem.bad_cadence"),
    (r"webhook URL must start with http:// or https://, got (?P<value>.*)", "problem.webhook_scheme"),
    (r"webhook URL (?P<value>.*) has no host name", "problem.webhook_no_host"),
    (r"webhook URL (?P<value>.*) has an invalid port", "problem.webhook_port"),
    (r"webhook host (?P<value>\S+) is a cloud metadata service", "problem.webhook_metadata"),
    (r"webhook host (?P<value>\S+) is this machine \(loopback\)", "problem.webhook_private"),
    (r"webhook host (?P<value>\S+) could not be resolved.*", "problem.webhook_unresolved"),
    (r"webhook host (?P<value>\S+) has no addresses", "problem.webhook_unresolved"),
    (r"webhook host (?P<value>\S+) is .*; refused", "problem.webhook_private"),
    (r"(?P<value>.*) already gets this scene", "problem.channel_exists"),
    (r"give an email address or a webhook URL", "problem.channel_missing"),
    (r"lower bound is above the upper bound; nothing can match", "problem.range_empty"),
    (r"is not a date \(use YYYY-MM-DD or now-Nd\)", "problem.not_date"),
    (r"is not a number", "problem.not_number"),
    (r"must be between 0 and 1", "problem.between_0_1"),
    (r"must not be empty", "problem.empty"),
    (r"is not a filter field.*", "problem.not_filter_field"),
    (r"is not a range field.*", "problem.not_range_field"),
    (r"is not a valid (?P<value>\w+).*", "problem.not_valid_value"),
    (r"has both gte and gt; use one lower bound", "problem.two_lower"),
    (r"has both lte and lt; use one upper bound", "problem.two_upper"),
    (r"is longer than (?P<n>\d+) characters", "problem.text_long"),
    (r"has more than (?P<n>\d+) values", "problem.too_many_values"),
    (r"cannot be read: .*", "problem.text_unreadable"),
    (r"hour (?P<value>-?\d+): use 0-23", "problem.bad_hour"),
    (r"weekday (?P<value>.*): use .*", "problem.bad_weekday"),
    (r"quiet hours need both .*", "problem.quiet_both"),
    (r"quiet hours must not start and end at the same time", "problem.quiet_same"),
    (r"(?P<value>'.*') is not a time of day.*", "problem.bad_clock"),
    (r"is not your current password", "problem.not_current_password"),
    (r"the two passwords differ", "problem.passwords_differ"),
    (r"must be one of zh, en", "problem.bad_locale"),
    (r"this link is not valid or has expired", "problem.bad_link"),
)
_COMPILED = tuple((re.compile(pattern + r"\Z", re.S), key) for pattern, key in _PATTERNS)


def localise_message(message: str, translate: Callable[..., str], locale: str) -> str:
    """``message`` in ``locale`` when it is a known problem, else unchanged."""
    if locale == "en":
        return message
    text = (message or "").strip()
    for pattern, key in _COMPILED:
        found = pattern.match(text)
        if found:
            return translate(key, locale, **found.groupdict())
    return message
