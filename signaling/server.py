"""The signalling server: the WebSocket handler, this process's sockets by room, delivery of messages (here
or through the broker), grace periods of dropped participants, and the session-log events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Collection
from dataclasses import replace

from aiohttp import hdrs, web

from signaling.broker import EVERYONE, Broker, Envelope, InProcessBroker
from signaling.connection import Connection, Socket
from signaling.protocol import CLOSE_ENDED, CLOSE_REMOVED, CLOSE_SERVICE_RESTART, ENDED_BY_SERVER, message
from signaling.rooms import Participant, Rooms
from signaling.types import Authorize, Event, EventSink, Limits, Peer

log = logging.getLogger("signaling")
DEFAULT_LIMITS = Limits()  # frozen, so one instance serves as every server's default


class SignalingServer:
    """WebRTC signalling for calls in rooms: waiting room, admission, relay, reconnection, fan-out by a broker."""

    def __init__(
        self,
        *,
        authorize: Authorize,
        on_event: EventSink,
        broker: Broker,
        allowed_origins: Callable[[web.Request], Collection[str]],
        limits: Limits = DEFAULT_LIMITS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.authorize = authorize
        self.broker = broker
        self.rooms = Rooms(broker)
        self.limits = limits
        self.id = secrets.token_hex(6)  # tells this process's own envelopes apart when the broker echoes them
        self._on_event = on_event
        self._clock = clock
        self._allowed_origins = allowed_origins
        self._conns: dict[str, Connection] = {}  # every open connection, by connection id
        self._local: dict[str, dict[str, Peer]] = {}  # room -> participant id -> connection, in this process
        self._listening: set[str] = set()  # rooms whose broker channel this process is subscribed to
        self._subscription_lock = asyncio.Lock()
        self._timers: dict[tuple[str, str], asyncio.TimerHandle] = {}  # grace periods running: (room, participant)
        self._tasks: set[asyncio.Task] = set()
        self._events: asyncio.Queue | None = None
        self._event_task: asyncio.Task | None = None
        self._flush = asyncio.Event()  # set on shutdown: write what is collected without waiting for event_delay
        self._heartbeat: asyncio.TimerHandle | None = None  # one timer beats for every socket (Connection.beat)
        self._closing = False

    # -- the WebSocket route ------------------------------------------------------------------------------------
    async def handle(self, request: web.Request) -> web.StreamResponse:
        """The aiohttp handler for the signalling WebSocket route."""
        origin = request.headers.get(hdrs.ORIGIN)
        # Origin check before the upgrade stops cross-site WebSocket hijacking; non-browser clients send none.
        if origin is not None and origin not in self._allowed_origins(request):
            raise web.HTTPForbidden(text="origin not allowed")
        if self._closing:
            raise web.HTTPServiceUnavailable(text="shutting down")
        if self.broker.shared and not await self.broker.ping():  # Redis down: say so now, not after the upgrade
            raise web.HTTPServiceUnavailable(text="signalling unavailable")
        # No heartbeat of aiohttp's own (a timer per socket, reset on every frame): the server's one timer pings
        # silent sockets (``_beat``), and the connection answers pings itself (autoping off).
        ws = Socket(
            autoping=False,
            max_msg_size=self.limits.max_message_bytes,
            compress=False,
            timeout=self.limits.close_timeout,
        )
        await ws.prepare(request)
        conn = Connection(self, ws, request)
        if ws.frames is not None:
            ws.frames.conn = conn
        self._conns[conn.id] = conn
        if self._heartbeat is None:
            self._beat()
        # The connection lives in the handler's task: no task of its own while it lasts (memory per idle
        # participant); its exit runs in a task of its own (``Connection.run``).
        conn.life = asyncio.current_task()
        try:
            await conn.run()
        finally:
            self._conns.pop(conn.id, None)
        return ws

    def _beat(self) -> None:
        """Every quarter of ``heartbeat_seconds`` while there are sockets: each pings if silent for long, or is closed
        if it did not answer (a dead peer is found 1.5 to 2 heartbeat periods after its last frame)."""
        self._heartbeat = None
        if self._closing or not self._conns:
            return
        every = self.limits.heartbeat_seconds
        now = time.monotonic()
        for conn in list(self._conns.values()):
            conn.beat(now, every)
        self._heartbeat = asyncio.get_running_loop().call_later(every / 4, self._beat)

    async def close(self) -> None:
        """On shutdown: tell every client to reconnect (close code 1012) and stop this server's tasks."""
        self._closing = True
        self._flush.set()
        conns = list(self._conns.values())
        for conn in conns:
            conn.close(CLOSE_SERVICE_RESTART, "server_restart")
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            self._heartbeat = None
        lives = [c.life for c in conns if c.life is not None]
        if lives:
            await asyncio.wait(lives, timeout=self.limits.close_timeout + 2)
        for timer in self._timers.values():  # other processes sharing the broker run these grace periods too
            timer.cancel()
        self._timers.clear()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=self.limits.close_timeout)
        if self._events is not None:
            try:
                await asyncio.wait_for(self._events.join(), timeout=self.limits.close_timeout)
            except TimeoutError:
                log.warning("%d session-log events not delivered at shutdown", self._events.qsize())
        for task in [*self._tasks, *([self._event_task] if self._event_task else [])]:
            task.cancel()
        async with self._subscription_lock:
            for room in list(self._listening):
                await self.broker.unsubscribe(room, self._deliver)
            self._listening.clear()

    async def recover(self) -> int:
        """After a restart on a broker that kept its state (``InProcessBroker`` with a state file): a place held by
        a socket of the stopped process is now a dropped one whose grace period starts now; one dropped before the
        stop keeps its own (``Rooms.recover``). Their timers run here. Whoever resumes in time has their place back
        as it was (admitted stays admitted); the others are told about whoever does not come back, as after any
        dropped socket. Returns how many places were kept. (With Redis nothing is needed: the places are shared and
        the other processes' grace timers run.)"""
        broker = self.broker
        if not isinstance(broker, InProcessBroker) or not broker.recovered:
            return 0
        broker.recovered = False
        kept_places = 0
        for room in list(broker.rooms):
            kept, gone = await self.rooms.recover(room, self.limits.grace_seconds)
            for place in gone:
                await self.broker.drop_token(place.token)
            for place in kept:
                self._schedule_expiry(room, place.id, place.deadline)
            kept_places += len(kept)
        if kept_places:
            log.info("signalling recovered %d place(s) after a restart", kept_places)
        return kept_places

    def stats(self) -> dict:
        """Open connections, rooms and participants in this process (for metrics)."""
        placed = [c for room in self._local.values() for c in room.values()]
        return {
            "connections": len(self._conns),
            "rooms": len(self._local),
            "participants": len(placed),
            "calls": sum(any(c.admitted for c in room.values()) for room in self._local.values()),
            "admitted": sum(c.admitted for c in placed),
            "waiting": sum(not c.admitted for c in placed),
            "grace_periods": len(self._timers),
            "events_pending": self._events.qsize() if self._events else 0,
        }

    # -- the application ends access ------------------------------------------------------------------------------
    async def placed_here(self) -> dict[str, list[str]]:
        """The rooms this process has sockets in, each with the participants who hold a place there (sockets here,
        in other processes, or dropped within their grace period): for the application to check their access."""
        return {room: await self.rooms.placed(room) for room in list(self._local)}

    async def remove(self, room: str, pid: str) -> bool:
        """Take ``pid`` out of ``room`` now, whichever process holds their socket: the place and its resume token
        are given up, the socket is closed with 4010 (do not reconnect) and the others get ``participant_left``
        (``removed``). The application says who, never why. False if they had no place there."""
        place = await self.rooms.remove(room, pid)
        if place is None:
            return False
        await self.broker.drop_token(place.token)
        await self.send(room, Envelope(to=pid, action="close", code=CLOSE_REMOVED))
        await self.send(
            room,
            Envelope(
                to=place.audience, exclude=pid, text=message("participant_left", participant=pid, reason="removed")
            ),
        )
        self.emit("left", place.participant(room), {"reason": "removed"})
        return True

    async def end_room(self, room: str, by: Participant | None = None) -> int:
        """End the call in ``room`` for everyone (a host's ``end``, or the application when its time is over):
        each is told ``ended`` and closed with 4005, the room is emptied. Returns how many places it had."""
        places = await self.rooms.end(room)
        if by is None and not places:
            return 0
        await self.send(
            room,
            Envelope(
                to=EVERYONE,
                action="close",
                code=CLOSE_ENDED,
                text=message("ended", by=by.id if by else ENDED_BY_SERVER),
            ),
        )
        self.emit(
            "ended",
            by or places[0].participant(room),
            {"participants": len(places), **({} if by else {"by": ENDED_BY_SERVER})},
        )
        for place in places:
            await self.broker.drop_token(place.token)
            if by is None or place.id != by.id:
                self.emit("left", place.participant(room), {"reason": "ended_by_host" if by else "call_closed"})
        return len(places)

    # -- this process's sockets in rooms ------------------------------------------------------------------------
    async def attach(self, conn: Peer) -> None:
        """Make ``conn`` reachable in its room (before it takes its place, so nothing meant for it is missed)."""
        room = conn.room
        local = self._local.setdefault(room, {})
        previous = local.get(conn.pid)
        if previous is not None and previous is not conn:
            conn.displaced = previous  # given back in detach if ``conn`` never takes the place (refused, failed)
        local[conn.pid] = conn
        if room in self._listening:
            return
        async with self._subscription_lock:
            if room not in self._listening:
                await self.broker.subscribe(room, self._deliver)
                self._listening.add(room)

    def detach(self, conn: Peer) -> None:
        local = self._local.get(conn.room)
        if local is None or local.get(conn.pid) is not conn:
            return
        previous, conn.displaced = conn.displaced, None
        if previous is not None and not conn.placed and previous.close_code is None:
            local[conn.pid] = previous  # the one still holding the place stays reachable
            return
        del local[conn.pid]
        if not local:
            del self._local[conn.room]
            self.spawn(self._unlisten_if_idle(conn.room))

    async def _unlisten_if_idle(self, room: str) -> None:
        async with self._subscription_lock:
            if room in self._listening and room not in self._local:
                self._listening.discard(room)
                await self.broker.unsubscribe(room, self._deliver)

    # -- delivery ----------------------------------------------------------------------------------------------
    async def send(self, room: str, envelope: Envelope) -> None:
        """Deliver to whoever ``envelope`` is for: this process's sockets now, other processes' by the broker."""
        self._dispatch(room, envelope)
        await self.broker.publish(room, replace(envelope, origin=self.id))

    def here(self, room: str, pid: str) -> Peer | None:
        """``pid``'s socket in ``room`` in this process if it is admitted (the relay's hot path), else None."""
        local = self._local.get(room)
        target = local.get(pid) if local else None
        return target if target is not None and target.admitted else None

    async def relay(self, room: str, to: str, text: str) -> bool:
        """Send a frame to one admitted participant of ``room``; False if there is no such participant."""
        local = self._local.get(room)
        target = local.get(to) if local else None
        if target is not None and target.admitted:  # the hot path: both sockets in this process
            target.deliver(text)
            return True
        place = await self.rooms.member(room, to)
        if place is None or not place.admitted:
            return False
        if target is not None:
            target.receive(Envelope(to=to, text=text))  # (re)joining here: delivered once it has its place
        elif place.conn:
            await self.broker.publish(room, Envelope(to=to, text=text, origin=self.id))
        return True  # a participant whose socket dropped misses it; they renegotiate after resuming

    def _deliver(self, room: str, envelope: Envelope) -> None:
        """The broker's handler: an envelope published by any process."""
        if envelope.origin != self.id:
            self._dispatch(room, envelope)

    def _dispatch(self, room: str, envelope: Envelope) -> None:
        if envelope.action == "grace":
            self._schedule_expiry(room, envelope.exclude, envelope.at)
        if envelope.conn:
            addressed = self._conns.get(envelope.conn)
            if addressed is not None and addressed.room == room:
                addressed.receive(envelope)
            return
        local = self._local.get(room)
        if not local:
            return
        if envelope.to[0] == "*":
            for conn in list(local.values()):
                if conn.pid != envelope.exclude:
                    conn.receive(envelope)
        elif (one := local.get(envelope.to)) is not None:
            one.receive(envelope)

    # -- grace periods ------------------------------------------------------------------------------------------
    def _schedule_expiry(self, room: str, pid: str, at: float) -> None:
        # Every process with someone in the room runs the timer; the place is given up once (compare-and-swap).
        if self._closing:
            return
        key = (room, pid)
        if (old := self._timers.pop(key, None)) is not None:
            old.cancel()
        delay = max(0.0, at - time.time()) + 0.05
        self._timers[key] = asyncio.get_running_loop().call_later(delay, self._expiry_due, key)

    def _expiry_due(self, key: tuple[str, str]) -> None:
        self._timers.pop(key, None)
        self.spawn(self.expire(*key))

    async def expire(self, room: str, pid: str) -> None:
        """Give up a dropped participant's place if its grace period is over, and tell the others."""
        place = await self.rooms.expire(room, pid)
        if place is None:
            return
        await self.broker.drop_token(place.token)
        await self.send(
            room,
            Envelope(
                to=place.audience, exclude=pid, text=message("participant_left", participant=pid, reason="network_lost")
            ),
        )
        self.emit("left", place.participant(room), {"reason": "network_lost"})

    # -- background work and events --------------------------------------------------------------------------------
    def spawn(self, coro: Awaitable) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("signalling background task failed: %s", type(task.exception()).__name__)

    def emit(self, event: str, participant: Participant, details: dict) -> None:
        """Queue a session-log event for ``on_event``, in order, without holding up signalling."""
        if self._events is None:
            self._events = asyncio.Queue(maxsize=self.limits.event_queue)
            self._event_task = asyncio.ensure_future(self._send_events())
        try:
            self._events.put_nowait(Event(event, participant, details, self._clock()))
        except asyncio.QueueFull:
            log.warning("session-log event %s for participant %s dropped: queue full", event, participant.id)

    async def _send_events(self) -> None:
        """Hand the queued events to ``on_event`` in batches: after the first one, wait ``event_delay`` so the rest
        of a call's set-up (join, waiting, admitted, connection type) goes to the database in one write, after
        the call is up rather than competing with it."""
        assert self._events is not None
        while True:
            batch = [await self._events.get()]
            if self.limits.event_delay and not self._flush.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._flush.wait(), self.limits.event_delay)
            while not self._events.empty():
                batch.append(self._events.get_nowait())
            try:
                await self._on_event(batch)
            except Exception as exc:  # noqa: BLE001 - a failing session log must never break signalling
                log.error(
                    "on_event failed for %d session-log event(s) (%s): %s",
                    len(batch),
                    ", ".join(f"{e.event} of {e.participant.id}" for e in batch[:5]),
                    type(exc).__name__,
                )
            finally:
                for _ in batch:
                    self._events.task_done()
