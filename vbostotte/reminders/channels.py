"""Ways out for outbox messages: e-mail over SMTP, and SMS through a generic JSON-over-HTTP gateway.

A channel is handed an :class:`Outgoing` and either returns (the other side accepted the message) or
raises :class:`DeliveryFailed`, saying whether trying again may help. Every message carries a stable
reference derived from its outbox row (the e-mail's Message-ID, the gateway's Idempotency-Key), so a
message sent twice after a crash is recognisable as the same message. Channels never log or report
an address or a text: failure reasons are codes such as ``smtp 451`` or ``sms http 503``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import Protocol
from urllib.parse import urlparse

import aiohttp
import aiosmtplib

from vbostotte.config import Settings

SEND_TIMEOUT = 20.0  # seconds for one send; the outbox lease must be longer (VB_OUTBOX_LEASE_SECONDS)
RETRYABLE_HTTP = (408, 425, 429)  # client-side statuses that mean "not now" rather than "never"


class DeliveryFailed(Exception):
    """The message was not accepted. ``reason`` is short and holds no personal data."""

    def __init__(self, reason: str, *, permanent: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class Attachment:
    """A file sent with an e-mail (the interpreter's calendar invitation); SMS has none."""

    data: bytes
    maintype: str
    subtype: str
    filename: str
    params: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Outgoing:
    """One message ready to leave: the address, the texts, and what identifies it across resends."""

    outbox_id: int
    dedupe_key: str
    to: str
    subject: str  # e-mail only
    body: str  # e-mail only
    short_text: str  # SMS
    locale: str
    composed_at: dt.datetime
    attachments: tuple[Attachment, ...] = ()

    @property
    def idempotency_key(self) -> str:
        """SHA-256 of the outbox row's dedupe key: the same for every attempt at this one message."""
        return hashlib.sha256(self.dedupe_key.encode()).hexdigest()

    @property
    def reference(self) -> str:
        return f"outbox-{self.outbox_id}.{self.idempotency_key[:16]}"


class Channel(Protocol):
    """Something that can deliver an :class:`Outgoing` (named as in ``OutboxMessage.channel``)."""

    name: str

    async def send(self, message: Outgoing) -> None:
        """Return when the other side accepted the message; raise :class:`DeliveryFailed` otherwise."""
        ...


class EmailChannel:
    """Plain-text e-mail through an SMTP server (one connection per message)."""

    name = "email"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.host = urlparse(settings.base_url).hostname or "localhost"

    def message_id(self, message: Outgoing) -> str:
        return f"<{message.reference}@{self.host}>"

    def build(self, message: Outgoing) -> EmailMessage:
        mail = EmailMessage(policy=SMTP)
        mail["From"] = self.settings.mail_from
        mail["To"] = message.to
        mail["Subject"] = message.subject
        mail["Date"] = format_datetime(message.composed_at)
        mail["Message-ID"] = self.message_id(message)
        mail["Auto-Submitted"] = "auto-generated"  # asks mail servers not to answer with vacation replies
        mail.set_content(message.body)
        mail["Content-Language"] = message.locale  # after set_content, which replaces Content-* headers
        for attachment in message.attachments:
            mail.add_attachment(
                attachment.data,
                maintype=attachment.maintype,
                subtype=attachment.subtype,
                filename=attachment.filename,
                params=dict(attachment.params),
            )
        return mail

    async def send(self, message: Outgoing) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                self.build(message),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password or None,
                start_tls=s.smtp_starttls,
                timeout=SEND_TIMEOUT,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [refused.code for refused in exc.recipients] or [0]
            raise DeliveryFailed(
                f"smtp recipient refused {min(codes)}", permanent=all(code >= 500 for code in codes)
            ) from None
        except aiosmtplib.SMTPAuthenticationError as exc:
            # A wrong password is the operator's to fix; keep trying (with back-off) meanwhile.
            raise DeliveryFailed(f"smtp login refused {exc.code}", permanent=False) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryFailed(f"smtp {exc.code}", permanent=exc.code >= 500) from None
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            # The exceptions' own messages may contain addresses: keep only the kind.
            raise DeliveryFailed(f"smtp {type(exc).__name__}", permanent=False) from None


class SmsGateway:
    """SMS through an HTTP gateway: POST JSON {to, text, sender, reference} with a bearer token.

    The ``Idempotency-Key`` header is the same on every attempt at one message, so a gateway that
    honours it sends a message once even when we ask twice (after a crash or a lost answer).
    """

    name = "sms"

    def __init__(self, settings: Settings, session: aiohttp.ClientSession) -> None:
        self.url = settings.sms_gateway_url
        self.token = settings.sms_gateway_token
        self.sender = settings.sms_sender
        self.session = session

    async def send(self, message: Outgoing) -> None:
        payload = {"to": message.to, "text": message.short_text, "sender": self.sender, "reference": message.reference}
        headers = {"Idempotency-Key": message.idempotency_key}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            async with self.session.post(
                self.url,
                json=payload,
                headers=headers,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT),
            ) as response:
                status = response.status
        except TimeoutError:
            raise DeliveryFailed("sms timeout", permanent=False) from None
        except aiohttp.ClientError as exc:
            raise DeliveryFailed(f"sms {type(exc).__name__}", permanent=False) from None
        if 200 <= status < 300:
            return
        raise DeliveryFailed(f"sms http {status}", permanent=status < 500 and status not in RETRYABLE_HTTP)


@asynccontextmanager
async def open_channels(settings: Settings) -> AsyncIterator[dict[str, Channel]]:
    """The channels the settings turn on, by name; the SMS gateway's HTTP client is closed on exit."""
    channels: dict[str, Channel] = {}
    session: aiohttp.ClientSession | None = None
    if settings.smtp_host:
        channels["email"] = EmailChannel(settings)
    if settings.sms_gateway_url:
        session = aiohttp.ClientSession()
        channels["sms"] = SmsGateway(settings, session)
    try:
        yield channels
    finally:
        if session is not None:
            await session.close()
