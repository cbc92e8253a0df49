"""What the server, its connections and their commands share: the limits, the session-log event, the
application's two functions (``Authorize``, ``EventSink``), a connection's phases, and the server and a
connection as each other see them (``Hub``, ``Peer``), so that ``server`` → ``connection`` → ``commands``
import each other one way only."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from signaling.broker import Broker, Envelope
from signaling.rooms import Participant, Rooms


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened in a call, for the session log."""

    event: str  # joined, waiting, admitted, left, reconnected, connection_type, ended
    participant: Participant
    details: dict = field(default_factory=dict)
    at: float = 0.0  # when (epoch seconds, from the server's clock)


Authorize = Callable[[str], Awaitable[Participant | None]]  # a join ticket -> the participant, or None (refused)
EventSink = Callable[[list[Event]], Awaitable[None]]  # a batch of events, in order, for the session log


@dataclass(frozen=True)
class Limits:
    """Every limit of the signalling server, with its default."""

    max_participants: int = 4  # people in one room, waiting or admitted; one more gets room_full
    grace_seconds: float = 30.0  # how long a dropped participant's place is kept for a resume
    auth_timeout: float = 5.0  # seconds a new connection has to send join or resume
    max_message_bytes: int = 64 * 1024  # the largest frame accepted (aiohttp closes with 1009 above it)
    rate_per_second: float = 50.0  # messages per second one connection may send on average ...
    rate_burst: int = 100  # ... and at once (a token bucket); a flood that drops more than a burst is closed (4008)
    send_queue: int = 256  # messages waiting to be written to one client; a client that lets it fill is closed
    heartbeat_seconds: float = 20.0  # a socket silent this long is pinged; no frame within half of it closes (~30-40 s)
    resume_token_ttl: float = 12 * 3600  # the longest a resume token is kept (the grace period is what counts)
    close_timeout: float = 5.0  # how long closing one connection may take
    event_queue: int = 10_000  # session-log events waiting for on_event; beyond that they are dropped (and logged)
    event_delay: float = 0.0  # seconds events are collected before on_event gets them as one batch (0: at once)


# A connection's phases, in order: it authenticates (join or resume), takes its place, waits or is admitted, closes.
AUTH, JOINING, WAITING, ADMITTED, CLOSED = "auth", "joining", "waiting", "admitted", "closed"


class Peer(Protocol):
    """One participant's connection as the server and the commands see it (``connection.Connection``)."""

    server: Hub
    id: str  # the connection's own id (a participant may reconnect on another)
    participant: Participant | None
    token: str  # the current resume token
    reason: str | None  # why it closed
    close_code: int | None
    connection_type: str | None
    placed: bool  # holds a place in the room
    displaced: Peer | None  # while joining: this process's connection it stands in for

    @property
    def pid(self) -> str: ...

    @property
    def room(self) -> str: ...

    @property
    def admitted(self) -> bool: ...

    def send(self, text: str) -> None: ...

    def close(self, code: int, reason: str) -> None: ...

    def receive(self, envelope: Envelope) -> None: ...

    def deliver(self, text: str) -> None: ...


class Hub(Protocol):
    """The signalling server as its connections and their commands see it (``server.SignalingServer``)."""

    authorize: Authorize
    broker: Broker
    rooms: Rooms
    limits: Limits

    async def attach(self, conn: Peer) -> None: ...

    def detach(self, conn: Peer) -> None: ...

    async def send(self, room: str, envelope: Envelope) -> None: ...

    def here(self, room: str, pid: str) -> Peer | None: ...

    async def relay(self, room: str, to: str, text: str) -> bool: ...

    async def end_room(self, room: str, by: Participant | None = None) -> int: ...

    async def expire(self, room: str, pid: str) -> None: ...

    def spawn(self, coro: Awaitable) -> None: ...

    def emit(self, event: str, participant: Participant, details: dict) -> None: ...
