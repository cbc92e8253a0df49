"""The far side of the outbox for tests: a real local SMTP server and a local SMS gateway speaking the
gateway's JSON contract (docs/reminders.md). Both keep everything they receive."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default

from aiohttp import web
from aiosmtpd.controller import Controller

from support import free_port


@dataclass
class Mail:
    to: list[str]
    message: EmailMessage

    @property
    def message_id(self) -> str:
        return self.message["Message-ID"]

    @property
    def subject(self) -> str:
        return self.message["Subject"]

    @property
    def body(self) -> str:
        return self.message.get_body(("plain",)).get_content().replace("\r\n", "\n")

    @property
    def calendar(self) -> str | None:
        """The attached calendar invitation (text/calendar), if any."""
        for part in self.message.iter_attachments():
            if part.get_content_type() == "text/calendar":
                return part.get_content()
        return None

    @property
    def raw_text(self) -> str:
        return self.message.as_string()


class MailServer:
    """A real SMTP server (aiosmtpd) on a free local port, in its own thread.

    ``delay``: seconds to wait before answering each message. The message is stored *before* the
    wait, like a server that has written it to disk and then answers slowly — so a sender killed
    during the wait has delivered a message it never heard was accepted.
    ``answers``: SMTP replies (e.g. "451 4.3.0 Try again later") given to the next messages instead of
    accepting them.
    """

    def __init__(self, *, delay: float = 0.0) -> None:
        self.port = free_port()
        self.delay = delay
        self.answers: list[str] = []
        self.received: list[Mail] = []
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port, ready_timeout=5)

    async def handle_DATA(self, server, session, envelope) -> str:
        if self.answers:
            return self.answers.pop(0)
        self.received.append(Mail(list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=default)))
        if self.delay:
            await asyncio.sleep(self.delay)
        return "250 2.0.0 Message accepted"

    @property
    def message_ids(self) -> list[str]:
        return [mail.message_id for mail in self.received]

    def __enter__(self) -> MailServer:
        self._controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self._controller.stop()


@dataclass
class GatewayRequest:
    headers: dict[str, str]
    payload: dict


class SmsGateway:
    """A real HTTP server acting as the SMS gateway: checks the bearer token, sends each Idempotency-Key
    once (a repeat is answered "already sent" and not delivered again), and can be told to fail."""

    def __init__(self, token: str = "gateway-token-1234") -> None:
        self.token = token
        self.requests: list[GatewayRequest] = []
        self.delivered: list[dict] = []
        self.answers: list[int] = []  # statuses for the next requests instead of sending
        self._sent_keys: dict[str, int] = {}
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def _handle(self, request: web.Request) -> web.Response:
        payload = await request.json()
        self.requests.append(GatewayRequest(dict(request.headers), payload))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return web.json_response({"error": "unauthorised"}, status=401)
        if self.answers:
            status = self.answers.pop(0)
            return web.json_response({"error": "as told"}, status=status)
        key = request.headers.get("Idempotency-Key", "")
        if key in self._sent_keys:
            return web.json_response({"id": self._sent_keys[key], "duplicate": True})
        self.delivered.append(payload)
        self._sent_keys[key] = len(self.delivered)
        return web.json_response({"id": len(self.delivered)}, status=202)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/messages", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}/messages"

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()


MESSAGE_ID = re.compile(r"^<outbox-(\d+)\.([0-9a-f]{16})@([\w.-]+)>$")
