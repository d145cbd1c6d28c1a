"""What a long-running process checks before it starts (web, scheduler, worker).

Configuration errors that :func:`config.settings.load_settings` can see in one
setting stop every command there; this module holds the checks about what a
*service* needs, so a mis-configured deployment stops at once with one line
instead of quietly doing the wrong thing for days.
"""
from __future__ import annotations

from config.settings import Settings


def startup_problem(settings: Settings) -> str | None:
    """Why a production process must not start with ``settings``, or None."""
    if settings.production and not settings.smtp_host and not settings.mail_outbox:
        return (
            "production needs an SMTP server for mail: set SCENEWATCH_SMTP_HOST (and the other "
            "SCENEWATCH_SMTP_* settings), or SCENEWATCH_MAIL_OUTBOX=1 to keep mail in "
            f"{settings.outbox_dir} instead"
        )
    return None


def refuse_unsafe_start(settings: Settings, process: str) -> None:
    """Stop ``process`` (web, scheduler, worker) with one line if it must not start."""
    problem = startup_problem(settings)
    if problem:
        raise SystemExit(f"scenewatch {process} not started: {problem}")
