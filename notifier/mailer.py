"""Mail transport: SMTP when ``smtp_host`` is set, otherwise a Maildir outbox on disk.

The outbox is what the embedded default uses: nothing leaves the machine, and the
web UI lists and shows the messages (:func:`list_outbox`, :func:`read_outbox_message`).
"""
from __future__ import annotations

import email.policy
import mailbox
import re
import smtplib
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser, BytesParser
from email.utils import parsedate_to_datetime

from config.settings import Settings

SMTP_TIMEOUT = 30


class MailError(Exception):
    """Mail could not be handed over. ``retryable``: a later try may work (4xx, network)."""

    def __init__(self, message: str, *, retryable: bool, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status_code = status_code


@dataclass(frozen=True)
class OutboxEntry:
    """One message in the outbox, as a list shows it."""

    key: str
    subject: str
    to: str
    sender: str
    date: datetime | None
    message_id: str


@dataclass(frozen=True)
class OutboxMessage(OutboxEntry):
    """One message with its bodies and headers, for the detail page."""

    text: str = ""
    html: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)


def _outbox(settings: Settings) -> mailbox.Maildir:
    settings.outbox_dir.parent.mkdir(parents=True, exist_ok=True)
    return mailbox.Maildir(str(settings.outbox_dir), factory=None, create=True)


def _smtp_code_error(action: str, code: int, text: bytes | str) -> MailError:
    reply = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    reply = " ".join(reply.split())[:200]
    # 4xx replies are the server saying "not now"; 5xx "never".
    return MailError(f"SMTP {action} refused: {code} {reply}", retryable=code < 500, status_code=code)


def _send_smtp(msg: EmailMessage, settings: Settings) -> None:
    host, port, mode = settings.smtp_host, settings.smtp_port, settings.smtp_security
    try:
        if mode == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=SMTP_TIMEOUT,
                                                    context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=SMTP_TIMEOUT)
        with client:
            client.ehlo()
            if mode == "starttls":
                client.starttls(context=ssl.create_default_context())
                client.ehlo()
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password)
            client.send_message(msg)
    except smtplib.SMTPRecipientsRefused as exc:
        code, text = next(iter(exc.recipients.values()), (550, b"recipient refused"))
        raise _smtp_code_error("recipient", code, text) from exc
    except smtplib.SMTPAuthenticationError as exc:
        # Our credentials, not the recipient's fault: keep retrying until an operator fixes them.
        raise MailError(f"SMTP login to {host} failed ({exc.smtp_code}); check SCENEWATCH_SMTP_USER "
                            "and SCENEWATCH_SMTP_PASSWORD", retryable=True, status_code=exc.smtp_code) from exc
    except smtplib.SMTPResponseException as exc:
        raise _smtp_code_error("message", exc.smtp_code, exc.smtp_error) from exc
    except (TimeoutError, smtplib.SMTPException, ssl.SSLError, OSError) as exc:
        raise MailError(f"could not send through SMTP {host}:{port}: {exc}", retryable=True) from exc


def send_message(msg: EmailMessage, settings: Settings) -> str:
    """Send ``msg``; returns ``"smtp"`` or the outbox key. Raises MailError."""
    if settings.smtp_host:
        _send_smtp(msg, settings)
        return "smtp"
    try:
        return str(_outbox(settings).add(msg))
    except OSError as exc:
        raise MailError(f"could not write to the outbox {settings.outbox_dir}: {exc}",
                            retryable=True) from exc


def _key_order(key: str) -> tuple[int, int, str]:
    # Maildir keys start with "<seconds>.M<microseconds>", so they sort by arrival.
    head, _, rest = key.partition(".")
    micro = re.match(r"M(\d+)", rest)
    return (int(head) if head.isdigit() else 0, int(micro.group(1)) if micro else 0, key)


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None


def _entry_fields(key: str, msg: EmailMessage) -> dict[str, object]:
    return {"key": key, "subject": str(msg.get("Subject", "")), "to": str(msg.get("To", "")),
            "sender": str(msg.get("From", "")), "date": _date(msg.get("Date")),
            "message_id": str(msg.get("Message-ID", ""))}


def list_outbox(settings: Settings, limit: int = 50,
                keep: Callable[[OutboxEntry], bool] | None = None) -> list[OutboxEntry]:
    """The newest ``limit`` messages in the outbox (those ``keep`` accepts, when given),
    newest first (headers only)."""
    if not settings.outbox_dir.exists():
        return []
    box = _outbox(settings)
    parser = BytesHeaderParser(policy=email.policy.default)
    entries: list[OutboxEntry] = []
    for key in sorted(box.keys(), key=_key_order, reverse=True):
        if len(entries) >= limit:
            break
        try:
            msg = parser.parsebytes(box.get_bytes(key))
        except KeyError:  # removed between listing and reading
            continue
        entry = OutboxEntry(**_entry_fields(key, msg))  # type: ignore[arg-type]
        if keep is None or keep(entry):
            entries.append(entry)
    return entries


def read_outbox_message(settings: Settings, key: str) -> OutboxMessage | None:
    """One outbox message with its text and html parts, or None for an unknown key."""
    if not settings.outbox_dir.exists():
        return None
    try:
        raw = _outbox(settings).get_bytes(key)
    except KeyError:
        return None
    msg = BytesParser(policy=email.policy.default).parsebytes(raw)
    assert isinstance(msg, EmailMessage)
    text_part = msg.get_body(preferencelist=("plain",))
    html_part = msg.get_body(preferencelist=("html",))
    return OutboxMessage(
        **_entry_fields(key, msg),  # type: ignore[arg-type]
        text=text_part.get_content() if text_part is not None else "",
        html=html_part.get_content() if html_part is not None else "",
        headers=[(name, str(value)) for name, value in msg.items()],
    )
