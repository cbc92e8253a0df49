"""One client's WebSocket as an object with phases — auth, joining, waiting or admitted, closed — one reader
(the socket handler's task), a bounded backlog with a writer task that runs only while there is one, and one exit that
keeps or gives up the place. An idle connection holds no task of its own, no queue and no timer.

The relay's hot path runs in the transport's callback, without the reader task: a text frame that arrives while the
reader waits for one is counted, parsed and validated there, and an offer, answer or candidate for an admitted
socket of this process is written to it at once (``Connection.at_once``); every other frame goes to the reader as
before, in order (docs/signaling.md, "Performance")."""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
import time
from typing import Any, cast

from aiohttp import WSMessage, WSMsgType, web
from aiohttp._websocket.reader import WebSocketDataQueue, WebSocketReader  # see Socket
from aiohttp.helpers import DEFAULT_CHUNK_SIZE

from signaling import protocol as p
from signaling.broker import ADMITTED_MEMBERS, HOSTS, Broker, Envelope, InProcessBroker
from signaling.commands import COMMANDS, shown, stamped
from signaling.protocol import ProtocolError, message
from signaling.rooms import Member, Participant, RoomBusy, RoomFull, token_key
from signaling.types import ADMITTED, AUTH, CLOSED, JOINING, WAITING, Hub, Peer

log = logging.getLogger("signaling")

_CLOSE = object()  # the writer's last item
_PING = object()  # a WebSocket ping (the server's heartbeat); a bytes item is a pong with that payload
_SETTLED = frozenset({"hung_up", "ended", "ended_by_host", "replaced", "removed"})  # closes whose place is dealt with
_CLOSE_REASONS = {p.CLOSE_REPLACED: "replaced", p.CLOSE_ENDED: "ended_by_host", p.CLOSE_REMOVED: "removed"}
FLOOD_QUIET_SECONDS = 1.0  # a flood is over once no frame has been dropped for this long
_DIRECT_MAX = 16 * 1024  # a frame this short, on a socket with nothing buffered, is written without waiting
_TEXT = WSMsgType.TEXT
_LEN2 = struct.Struct("!BBH").pack
_LEN8 = struct.Struct("!BBQ").pack


def text_frame(data: bytes) -> bytes:
    """A server's WebSocket text frame (final, unmasked, uncompressed) carrying ``data``."""
    n = len(data)
    if n < 126:
        return bytes((0x81, n)) + data
    return (_LEN2(0x81, 126, n) if n < 65536 else _LEN8(0x81, 127, n)) + data


class _Frames(WebSocketDataQueue):
    """aiohttp's queue of a socket's received frames, with a way past it: a text frame that arrives while the
    connection's reader waits on the empty queue goes to ``Connection.at_once`` in the transport's callback, and only
    what that leaves (anything but the relay's hot path) is queued for the reader."""

    __slots__ = ("conn",)
    conn: Connection | None

    def feed_data(self, data: Any, size: int) -> None:
        conn = self.conn
        if conn is not None and conn.idle and data[0] is _TEXT and not self._buffer:
            data = conn.at_once(data)
            if data is None:
                return
        super().feed_data(data, size)


class Socket(web.WebSocketResponse):
    """The signalling WebSocket: aiohttp's, whose received frames go through ``_Frames``."""

    frames: _Frames | None = None

    def _post_start(self, request: Any, protocol: str | None, writer: Any) -> None:
        # aiohttp's WebSocketResponse._post_start (3.14) with the queue of received frames made here. The reader
        # must be built on it before set_parser, which already feeds it what came with the upgrade request.
        # tests/realtime/test_calls.py checks that signalling sockets read through it.
        self._ws_protocol = protocol
        self._writer = writer
        self._reset_heartbeat()
        assert self._loop is not None
        frames = self.frames = _Frames(request._protocol, DEFAULT_CHUNK_SIZE, loop=self._loop)
        frames.conn = None
        self._reader = frames
        self._parser = WebSocketReader(
            frames, self._max_msg_size, compress=bool(self._compress), decode_text=self._decode_text
        )
        request.protocol.set_parser(
            self._parser, data_received_cb=None if self._heartbeat is None else self._on_data_received
        )
        request.protocol.keep_alive(False)


def _kept_over_restart(broker: Broker) -> bool:
    """The places live in this process and in its state file: a restart finds them again (``recover``)."""
    return isinstance(broker, InProcessBroker) and broker.state_path is not None


class Connection:
    """One participant's signalling connection."""

    __slots__ = (
        "server",
        "ws",
        "request",
        "transport",
        "limits",
        "id",
        "phase",
        "participant",
        "placed",
        "token",
        "close_code",
        "reason",
        "life",
        "seen",
        "pinged",
        "_backlog",
        "_writer",
        "_pending",
        "displaced",
        "_tokens",
        "_stamp",
        "_dropped",
        "_last_drop",
        "connection_type",
        "idle",
    )

    def __init__(self, server: Hub, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.server = server
        self.ws = ws
        self.request = request
        self.transport = request.transport  # closing once the client is gone (``is_closing``)
        self.limits = server.limits
        self.id = secrets.token_hex(8)
        self.phase = AUTH
        self.participant: Participant | None = None
        self.placed = False  # holds a place in the room (until it leaves, is replaced or the room ends)
        self.token = ""  # the current resume token
        self.close_code: int | None = None
        self.reason: str | None = None  # why it closed, for the log and the place
        self.life: asyncio.Task | None = None  # the handler task running ``run`` (waited for on shutdown)
        self.seen = time.monotonic()  # when the last frame came (the heartbeat's measure of silence)
        self.pinged = 0.0  # when the heartbeat pinged this silent socket (0: not since the last frame)
        self._backlog: list = []  # frames waiting for the writer (at most send_queue), then perhaps _CLOSE
        self._writer: asyncio.Task | None = None  # runs while the backlog is not empty; done for good once closing
        self._pending: list[Envelope] = []  # what arrived while joining (at most send_queue envelopes)
        self.displaced: Peer | None = None  # while joining: this process's connection it stands in for
        self._tokens = float(self.limits.rate_burst)
        self._stamp = self.seen
        self._dropped = 0  # frames dropped in the current flood
        self._last_drop = 0.0
        self.connection_type: str | None = None  # last reported by the client: direct | relayed
        self.idle = False  # the reader waits for a frame (``at_once`` may handle the next one in its stead)

    @property
    def pid(self) -> str:
        return self.participant.id if self.participant else ""

    @property
    def room(self) -> str:
        return self.participant.room if self.participant else ""

    @property
    def is_host(self) -> bool:
        return self.participant is not None and self.participant.role == p.HOST

    @property
    def admitted(self) -> bool:
        return self.phase == ADMITTED

    # -- life ----------------------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Authenticate, read frames until the socket closes, then the exit. The reading loop is here, not in a
        coroutine of its own: one frame less held by every idle socket."""
        try:
            if not await self._authenticate():
                return
            ws = self.ws
            while True:
                self.idle = True
                try:
                    frame = await ws.receive()
                finally:
                    self.idle = False
                if frame.type is WSMsgType.CLOSE or frame.type is WSMsgType.CLOSING or frame.type is WSMsgType.CLOSED:
                    break
                self.seen = now = time.monotonic()
                if frame.type is WSMsgType.TEXT:
                    if frame.extra:  # counted, parsed and validated by at_once
                        kind, msg = cast(tuple[str, dict], frame.extra)
                        await self._on_parsed(kind, msg, frame.data)
                    elif self._within_rate(now):
                        await self._on_text(frame.data)
                elif frame.type is WSMsgType.PING or frame.type is WSMsgType.PONG:
                    self._control(frame)
                elif frame.type is WSMsgType.BINARY:
                    self._refuse(p.BINARY_NOT_SUPPORTED, "binary frames are not supported", p.CLOSE_UNSUPPORTED_DATA)
                if self.close_code is not None:
                    break
            if self.reason is None:
                code = self.ws.close_code
                self.reason = (
                    "message_too_big"
                    if code == p.CLOSE_MESSAGE_TOO_BIG
                    else "closed_by_client"
                    if code in (1000, 1001)
                    else "connection_lost"
                )
        except Exception as exc:  # noqa: BLE001 - one connection's failure must not touch the others
            # The exception's text could carry what a client sent: its type only, the traceback at debug level.
            log.error("signalling connection %s failed: %s", self.id, type(exc).__name__)
            log.debug("signalling connection %s failure", self.id, exc_info=True)
            self.send(p.error(p.INTERNAL_ERROR, "the server failed; reconnect"))
            self.close(p.CLOSE_INTERNAL_ERROR, "internal_error")
        finally:
            # In a task of its own: a handler cancelled meanwhile (a server with aiohttp's handler_cancellation, when
            # the client's connection is lost) must not cut short the exit that keeps or gives up the place.
            await asyncio.shield(self._exit())

    async def _exit(self) -> None:
        try:
            async with asyncio.timeout(self.limits.close_timeout):
                await self._depart()
        except Exception as exc:  # noqa: BLE001
            log.error("signalling connection %s could not give up its place: %s", self.id, type(exc).__name__)
        finally:
            self.close(self.close_code or p.CLOSE_NORMAL, self.reason or "closed")
            writer = self._writer
            if writer is not None:
                await asyncio.wait([writer], timeout=self.limits.close_timeout + 1)
                if not writer.done():  # stuck writing to a client that reads nothing
                    writer.cancel()
                    self._abort()
            if self.participant is not None:
                self.server.detach(self)
            self.phase = CLOSED
            if (frames := getattr(self.ws, "frames", None)) is not None:
                frames.conn = None
            log.info(
                "signalling connection %s closed: participant=%s room=%s reason=%s code=%s",
                self.id,
                self.pid or "-",
                self.room or "-",
                self.reason,
                self.close_code,
            )

    async def _authenticate(self) -> bool:
        try:
            async with asyncio.timeout(self.limits.auth_timeout):
                frame = await self.ws.receive()
                while frame.type is WSMsgType.PING or frame.type is WSMsgType.PONG:
                    self._control(frame)
                    frame = await self.ws.receive()
        except TimeoutError:
            return self._refuse(p.AUTH_TIMEOUT, "no join message in time", p.CLOSE_AUTH_TIMEOUT)
        if frame.type is WSMsgType.BINARY:
            return self._refuse(p.BINARY_NOT_SUPPORTED, "binary frames are not supported", p.CLOSE_UNSUPPORTED_DATA)
        if frame.type is not WSMsgType.TEXT:
            self.reason = self.reason or "closed_before_join"
            return False
        try:
            kind, msg = p.parse(frame.data, p.AUTH, False)
            if kind == "join":
                return await self._join(msg["ticket"])
            return await self._resume(msg["token"])
        except ProtocolError as exc:
            return self._refuse(exc.code, exc.message, p.CLOSE_UNAUTHORIZED)
        except RoomFull:
            return self._refuse(p.ROOM_FULL, "the call is full", p.CLOSE_ROOM_FULL)
        except RoomBusy:
            return self._refuse(p.INTERNAL_ERROR, "the room is busy; try again", p.CLOSE_INTERNAL_ERROR)

    def _refuse(self, code: str, text: str, close_code: int) -> bool:
        self.send(p.error(code, text))
        self.close(close_code, code)
        return False

    async def _join(self, ticket: str) -> bool:
        try:
            participant = await self.server.authorize(ticket)
        except Exception as exc:  # noqa: BLE001 - the application's check failed: refuse, say nothing more
            log.error("authorize failed: %s", type(exc).__name__)
            return self._refuse(p.INTERNAL_ERROR, "could not check the ticket; try again", p.CLOSE_INTERNAL_ERROR)
        if participant is None or not participant.is_valid():
            return self._refuse(p.UNAUTHORIZED, "the join ticket was refused", p.CLOSE_UNAUTHORIZED)
        self.participant, self.phase = participant, JOINING
        await self.server.attach(self)
        token = secrets.token_urlsafe(24)
        old, place = await self.server.rooms.enter(participant, self.id, token_key(token), self.limits.max_participants)
        self.placed = True
        await self._welcome(place, token)
        if old is not None:  # the same person again (another device, or a page that lost its resume token)
            await self.server.broker.drop_token(old.token)
            if old.conn:
                await self.server.send(
                    self.room, Envelope(to=old.id, conn=old.conn, action="close", code=p.CLOSE_REPLACED)
                )
            await self.server.send(
                self.room,
                Envelope(
                    to=old.audience,
                    exclude=self.pid,
                    text=message("participant_left", participant=old.id, reason="replaced"),
                ),
            )
            self.server.emit("left", participant, {"reason": "replaced"})
        if place.admitted:
            await self.server.send(
                self.room,
                Envelope(
                    to=ADMITTED_MEMBERS, exclude=self.pid, text=message("participant_joined", participant=shown(place))
                ),
            )
            self.server.emit("joined", participant, {"waited": False})
        else:
            await self.server.send(
                self.room,
                Envelope(
                    to=HOSTS, exclude=self.pid, text=message("waiting", participant=shown(place), since=place.since)
                ),
            )
            self.server.emit("waiting", participant, {})
        return True

    async def _resume(self, token: str) -> bool:
        value = await self.server.broker.take_token(token_key(token))
        room, _, pid = (value or "").partition("\x1f")
        place = await self.server.rooms.member(room, pid) if value else None
        if place is None:
            return self._refuse(p.RESUME_FAILED, "the place is gone; join again", p.CLOSE_RESUME_FAILED)
        self.participant, self.phase = place.participant(room), JOINING
        await self.server.attach(self)
        new_token = secrets.token_urlsafe(24)
        resumed = await self.server.rooms.resume(room, pid, token_key(token), self.id, token_key(new_token))
        if resumed is None:
            self.server.spawn(self.server.expire(room, pid))  # if its grace period is over, say so now
            return self._refuse(p.RESUME_FAILED, "the place is gone; join again", p.CLOSE_RESUME_FAILED)
        old, place = resumed
        self.placed = True
        await self._welcome(place, new_token)
        if old.conn:  # the old socket still looked open here or in another process: close it quietly
            await self.server.send(room, Envelope(to=pid, conn=old.conn, action="close", code=p.CLOSE_REPLACED))
        await self.server.send(
            room, Envelope(to=place.audience, exclude=pid, text=message("participant_reconnected", participant=pid))
        )
        self.server.emit("reconnected", self.participant, {})
        return True

    async def _welcome(self, place: Member, token: str) -> None:
        """Reply 'joined' (and the waiting list to a host), then deliver what arrived meanwhile."""
        await self.server.broker.put_token(token_key(token), f"{self.room}\x1f{self.pid}", self.limits.resume_token_ttl)
        self.token = token
        members = await self.server.rooms.members(self.room)
        others = [shown(m) for m in members if m.admitted and m.id != self.pid] if place.admitted else []
        self.send(
            message(
                "joined",
                self=shown(place),
                participants=others,
                state=place.state,
                resume=token,
                grace=self.limits.grace_seconds,
            )
        )
        if self.is_host:
            self.send(
                message(
                    "waiting_list", participants=[{**shown(m), "since": m.since} for m in members if not m.admitted]
                )
            )
        self.phase = ADMITTED if place.admitted else WAITING
        self.displaced = None  # it holds the place now; a connection it stood in for is closed (replaced)
        pending, self._pending = self._pending, []
        for envelope in pending:
            self.receive(envelope)

    async def _depart(self) -> None:
        """The one exit: a dropped socket keeps its place for the grace period; others already gave it up."""
        if not self.placed or self.reason in _SETTLED:
            return
        if self.reason == "server_restart" and _kept_over_restart(self.server.broker):
            # The only process stops: the place stays as it is held, and the grace period starts when the process is
            # back (SignalingServer.recover), so a slow restart does not use up anyone's grace period.
            return
        place = await self.server.rooms.drop(self.room, self.pid, self.id, self.limits.grace_seconds)
        if place is not None:
            await self.server.send(
                self.room,
                Envelope(
                    to=place.audience,
                    exclude=self.pid,
                    action="grace",
                    at=place.deadline,
                    text=message("participant_reconnecting", participant=self.pid),
                ),
            )

    # -- reading -----------------------------------------------------------------------------------------------
    async def _on_text(self, text: str) -> None:
        try:
            kind, msg = p.parse(text, p.ADMITTED if self.phase == ADMITTED else p.MEMBER, self.is_host)
        except ProtocolError as exc:
            self.send(exc.reply())
            return
        await self._on_parsed(kind, msg, text)

    async def _on_parsed(self, kind: str, msg: dict, text: str) -> None:
        try:
            await COMMANDS[kind](self, msg, text)
        except ProtocolError as exc:
            self.send(exc.reply())
        except RoomBusy:
            self.send(p.error(p.INTERNAL_ERROR, "the room is busy; try again"))

    def at_once(self, frame: WSMessage) -> WSMessage | None:
        """A text frame that arrived while the reader waits, in the transport's callback: counted against the rate,
        parsed and validated here, and relayed at once if it is an offer, answer or candidate for an admitted socket
        of this process (the relay's hot path: no task switch, no queue). None when it is dealt with; otherwise the
        frame for the reader, with what was parsed (``extra``), so that it is counted and parsed once."""
        participant = self.participant
        if self.phase != ADMITTED or participant is None or self.close_code is not None or self.ws.closed:
            return frame
        self.seen = now = time.monotonic()
        try:
            if not self._within_rate(now):
                return None
            text = frame.data
            try:
                kind, msg = p.parse(text, p.ADMITTED, participant.role == p.HOST)
            except ProtocolError as exc:
                self.send(exc.reply())
                return None
            if kind in p.RELAYED:
                to = msg["to"]
                if to != participant.id and (target := self.server.here(participant.room, to)) is not None:
                    target.deliver(stamped(participant.id, msg, text))
                    return None
            return WSMessage(_TEXT, text, (kind, msg))  # type: ignore[arg-type]  # extra: what was parsed
        except Exception as exc:  # noqa: BLE001 - as in run: this connection fails, the others go on
            log.error("signalling connection %s failed: %s", self.id, type(exc).__name__)
            log.debug("signalling connection %s failure", self.id, exc_info=True)
            self.send(p.error(p.INTERNAL_ERROR, "the server failed; reconnect"))
            self.close(p.CLOSE_INTERNAL_ERROR, "internal_error")
            return None

    def _control(self, frame: WSMessage) -> None:
        """A WebSocket ping is answered with a pong (in order with the frames queued before it); a pong is only a
        sign of life (``seen``, which ``run`` notes for every frame)."""
        if frame.type is WSMsgType.PING:
            self._enqueue(bytes(frame.data))

    def beat(self, now: float, every: float) -> None:
        """The heartbeat, from the server's one timer: ping a socket silent for ``every`` seconds; a socket that sent
        nothing, not even the pong, within half of that after the ping is lost (closed; its place kept for the grace
        period, as for any dropped socket)."""
        if self.close_code is not None or self.phase == CLOSED:
            return
        if self.pinged > self.seen:
            if now - self.pinged >= every / 2:
                self.reason = self.reason or "connection_lost"
                self._abort()
        elif now - self.seen >= every:
            self.pinged = now
            self._enqueue(_PING)

    def _within_rate(self, now: float) -> bool:
        """Token bucket: a frame over the rate is dropped (told once per flood). A flood is the run of dropped frames
        until a second passes without one: accepted frames in between do not end it, so a client that keeps
        sending faster than the rate is closed (4008) once a flood has dropped more than a burst of frames."""
        limits = self.limits
        tokens = self._tokens + (now - self._stamp) * limits.rate_per_second
        if tokens > limits.rate_burst:
            tokens = limits.rate_burst
        self._stamp = now
        if self._dropped and now - self._last_drop > FLOOD_QUIET_SECONDS:
            self._dropped = 0
        if tokens >= 1.0:
            self._tokens = tokens - 1.0
            return True
        self._tokens = tokens
        self._last_drop = now
        self._dropped += 1
        if self._dropped == 1:
            self.send(p.error(p.RATE_LIMITED, "too many messages; slow down"))
        elif self._dropped > self.limits.rate_burst:
            self.close(p.CLOSE_RATE_LIMITED, "rate_limited")
        return False

    # -- writing -----------------------------------------------------------------------------------------------
    def receive(self, envelope: Envelope) -> None:
        """An envelope for this connection's room: deliver it if this connection is its audience."""
        if self.phase == JOINING:
            if len(self._pending) < self.limits.send_queue:
                self._pending.append(envelope)
            else:  # joining takes long (a slow broker) and the others keep talking: as a client that does not read
                self.close(p.CLOSE_TOO_SLOW, "too_slow")
            return
        if self.phase in (AUTH, CLOSED):
            return
        to = envelope.to
        if (to == ADMITTED_MEMBERS and not self.admitted) or (to == HOSTS and not (self.admitted and self.is_host)):
            return
        if envelope.action == "admit":
            self.phase = ADMITTED
        if envelope.text:
            self.send(envelope.text)
        if envelope.action == "close":
            self.close(envelope.code, _CLOSE_REASONS.get(envelope.code, "closed_by_server"))

    def deliver(self, text: str) -> None:
        """The relay's hot path: a frame is written at once when nothing waits before it and the socket keeps up
        (its write buffer is empty, so writing does not wait for the client); otherwise it is queued."""
        transport = self.transport
        if (
            self._writer is None
            and self.close_code is None
            and len(text) < _DIRECT_MAX
            and transport is not None
            and not transport.get_write_buffer_size()
            and not transport.is_closing()
            and not self.ws.closed
        ):
            transport.write(text_frame(text.encode()))
            return
        self.send(text)

    def send(self, text: str) -> None:
        """Queue a frame for the client; a client that does not read its frames is disconnected."""
        if self.close_code is not None:
            return
        if len(self._backlog) >= self.limits.send_queue:
            # The writer is stuck on a client that reads nothing, so a close frame would never get through either:
            # drop the connection (its place is kept for the grace period, like any dropped socket).
            self.close(p.CLOSE_TOO_SLOW, "too_slow")
            self._abort()
            return
        self._enqueue(text)

    def _enqueue(self, item: object) -> None:
        self._backlog.append(item)
        if self._writer is None:
            self._writer = asyncio.ensure_future(self._write())

    def _abort(self) -> None:
        if self.request.transport is not None:
            self.request.transport.abort()

    def close(self, code: int, reason: str) -> None:
        """Close after the frames already queued (dropping them if the client is not reading)."""
        if self.close_code is not None:
            return
        self.close_code = code
        if self.reason is None:
            self.reason = reason
        if len(self._backlog) >= self.limits.send_queue:
            self._backlog.clear()
        self._enqueue(_CLOSE)

    async def _write(self) -> None:
        """Write the backlog in order, then stop until there is more; after ``_CLOSE`` (or once the socket failed)
        close the socket and stay done (``_writer`` keeps the finished task: nothing more is written)."""
        ws, backlog = self.ws, self._backlog
        try:
            while backlog:
                item = backlog.pop(0)
                if item is _CLOSE:
                    break
                if type(item) is str:
                    await ws.send_str(item)
                elif item is _PING:
                    await ws.ping()
                else:
                    await ws.pong(item)
            else:
                self._writer = None
                return
        except (ConnectionError, RuntimeError):  # the socket went away; the reader sees it too
            pass
        except Exception as exc:  # noqa: BLE001 - never leave a connection without a writer silently
            log.error("signalling connection %s writer failed: %s", self.id, type(exc).__name__)
        backlog.clear()
        if not ws.closed:
            try:
                async with asyncio.timeout(self.limits.close_timeout):
                    await ws.close(code=self.close_code or p.CLOSE_NORMAL, message=(self.reason or "").encode())
            except (TimeoutError, ConnectionError, RuntimeError):
                pass
