"""What several server processes share: rooms' places (compare-and-swap), a channel per room, resume tokens.

``InProcessBroker`` keeps it all in dicts (one process, the default), and with a ``state_path`` also in a file
that it writes after every change and reads when it starts, so places and resume tokens outlive a restart of the
process; ``RedisBroker`` keeps places in a Redis hash per room, publishes on a Redis channel per room (one pub/sub
listener task per process), and keeps resume tokens as Redis keys with a time to live.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from redis.asyncio.client import PubSub

log = logging.getLogger("signaling.broker")

# swap_member's answers
SWAPPED, CONFLICT, FULL = "swapped", "conflict", "full"

# audiences an envelope can be addressed to, besides one participant id
ADMITTED_MEMBERS = "*"  # every admitted participant
HOSTS = "*hosts"  # every admitted host
EVERYONE = "*all"  # every participant, waiting or admitted


@dataclass(frozen=True, slots=True)
class Envelope:
    """A message for participants of one room, as it travels between server processes."""

    to: str  # a participant id, or an audience: ADMITTED_MEMBERS, HOSTS, EVERYONE
    text: str = ""  # the frame to send, as it is
    action: str = ""  # besides sending: "admit" (the target is now admitted), "close" (with code), "grace"
    exclude: str = ""  # a participant not to deliver to (the sender); for "grace" the dropped participant
    conn: str = ""  # deliver only to this connection (closing a replaced one)
    code: int = 0  # the close code for "close"
    at: float = 0.0  # for "grace": when the dropped participant's place is given up (epoch seconds)
    origin: str = ""  # the server that published it; it delivered to its own sockets already

    _SEP = "\x1f"  # JSON text never contains a raw control character, so this cannot occur in ``text``

    def encode(self) -> str:
        return self._SEP.join(
            (self.origin, self.to, self.action, self.exclude, self.conn, str(self.code), repr(self.at), self.text)
        )

    @classmethod
    def decode(cls, data: str) -> Envelope:
        origin, to, action, exclude, conn, code, at, text = data.split(cls._SEP, 7)
        return cls(
            to=to, text=text, action=action, exclude=exclude, conn=conn, code=int(code), at=float(at), origin=origin
        )


Handler = Callable[[str, Envelope], None]  # (room, envelope); must not block


class Broker(Protocol):
    """Rooms' places, a channel per room and resume tokens, shared by the server processes."""

    async def member(self, room: str, pid: str) -> str | None:
        """The stored place of ``pid`` in ``room``."""

    async def members(self, room: str) -> dict[str, str]:
        """Every stored place in ``room``, by participant id."""

    async def swap_member(self, room: str, pid: str, expected: str | None, new: str | None, *, limit: int = 0) -> str:
        """Atomically replace the place ``expected`` (None: absent) by ``new`` (None: delete). Returns SWAPPED,
        CONFLICT (it was not ``expected``) or FULL (a new place, and the room already has ``limit``)."""

    async def clear_room(self, room: str) -> dict[str, str]:
        """Atomically delete every place in ``room``; returns them."""

    async def publish(self, room: str, envelope: Envelope) -> None:
        """Send ``envelope`` to every process subscribed to ``room``."""

    async def subscribe(self, room: str, handler: Handler) -> None:
        """Deliver ``room``'s envelopes to ``handler`` from now on (returns once that is certain)."""

    async def unsubscribe(self, room: str, handler: Handler) -> None:
        """Stop delivering ``room``'s envelopes to ``handler``."""

    async def put_token(self, key: str, value: str, ttl: float) -> None:
        """Keep a resume token (by its key, the token's SHA-256) for at most ``ttl`` seconds."""

    async def take_token(self, key: str) -> str | None:
        """Return and forget a resume token's value (single use)."""

    async def drop_token(self, key: str) -> None:
        """Forget a resume token."""

    shared: bool  # True when the state lives outside this process (and so can be unavailable)

    async def ping(self, timeout: float = 1.0) -> bool:
        """True if the shared state answers within ``timeout`` seconds (readiness; refusing calls when not)."""

    async def close(self) -> None:
        """Stop listening and release connections."""


class InProcessBroker:
    """Everything in dicts: one process (several servers in one process may share it).

    With ``state_path``, the places and resume tokens are also kept in that file (JSON, mode 600, replaced
    atomically), written in a background thread as soon as they change and read back when the broker is made: a
    restarted process (SIGTERM or SIGKILL) knows who was in which room and lets them resume (docs/signaling.md,
    "Restarts"). The server turns the places it finds into dropped ones with a fresh grace period
    (``SignalingServer.recover``)."""

    shared = False

    def __init__(self, state_path: str | Path | None = None) -> None:
        self.rooms: dict[str, dict[str, str]] = {}
        self.handlers: dict[str, list[Handler]] = {}
        self.tokens: dict[str, tuple[str, float]] = {}  # key -> (value, expires: epoch seconds)
        self.state_path = Path(state_path) if state_path else None
        self.recovered = False  # places were read back from ``state_path`` (a restart)
        self._dirty = False
        self._saver: asyncio.Task | None = None
        if self.state_path is not None:
            self._load(self.state_path)

    def _load(self, path: Path) -> None:
        try:
            state = json.loads(path.read_text())
            rooms, tokens = state["rooms"], state["tokens"]
            now = time.time()
            self.rooms = {str(r): {str(k): str(v) for k, v in places.items()} for r, places in rooms.items() if places}
            self.tokens = {str(k): (str(v), float(e)) for k, (v, e) in tokens.items() if float(e) > now}
        except FileNotFoundError:
            return
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            log.warning("signalling state in %s not read (%s): starting with no rooms", path.name, type(exc).__name__)
            self.rooms, self.tokens = {}, {}
            return
        self.recovered = bool(self.rooms)

    def _changed(self) -> None:
        """Write the state file soon (one write at a time; changes made meanwhile go into the next)."""
        if self.state_path is None:
            return
        self._dirty = True
        if self._saver is None or self._saver.done():
            self._saver = asyncio.ensure_future(self._save())

    async def _save(self) -> None:
        assert self.state_path is not None
        while self._dirty:
            self._dirty = False
            text = json.dumps({"rooms": self.rooms, "tokens": self.tokens}, separators=(",", ":"))
            try:
                await asyncio.to_thread(_write_privately, self.state_path, text)
            except OSError as exc:  # a full disk must not stop calls: they just do not survive a restart then
                log.warning("signalling state not written (%s)", type(exc).__name__)

    async def member(self, room: str, pid: str) -> str | None:
        return self.rooms.get(room, {}).get(pid)

    async def members(self, room: str) -> dict[str, str]:
        return dict(self.rooms.get(room, {}))

    async def swap_member(self, room: str, pid: str, expected: str | None, new: str | None, *, limit: int = 0) -> str:
        places = self.rooms.get(room, {})
        if places.get(pid) != expected:
            return CONFLICT
        if new is None:
            places.pop(pid, None)
            if not places:
                self.rooms.pop(room, None)
            self._changed()
            return SWAPPED
        if expected is None and limit and len(places) >= limit:
            return FULL
        self.rooms.setdefault(room, places)[pid] = new
        self._changed()
        return SWAPPED

    async def clear_room(self, room: str) -> dict[str, str]:
        places = self.rooms.pop(room, {})
        if places:
            self._changed()
        return places

    async def publish(self, room: str, envelope: Envelope) -> None:
        for handler in self.handlers.get(room, ()):
            handler(room, envelope)

    async def subscribe(self, room: str, handler: Handler) -> None:
        self.handlers.setdefault(room, []).append(handler)

    async def unsubscribe(self, room: str, handler: Handler) -> None:
        handlers = self.handlers.get(room, [])
        if handler in handlers:
            handlers.remove(handler)
        if not handlers:
            self.handlers.pop(room, None)

    async def put_token(self, key: str, value: str, ttl: float) -> None:
        now = time.time()
        if len(self.tokens) >= 1024 and len(self.tokens) & 255 == 0:  # a safety net: tokens are dropped on every exit
            self.tokens = {k: v for k, v in self.tokens.items() if v[1] > now}
        self.tokens[key] = (value, now + ttl)
        self._changed()

    async def take_token(self, key: str) -> str | None:
        value, expires = self.tokens.pop(key, ("", 0.0))
        if value:
            self._changed()
        return value if expires > time.time() else None

    async def drop_token(self, key: str) -> None:
        if self.tokens.pop(key, None) is not None:
            self._changed()

    async def ping(self, timeout: float = 1.0) -> bool:
        return True

    async def close(self) -> None:
        self.handlers.clear()
        if self._saver is not None:  # the last change is in the file before the process exits
            with contextlib.suppress(Exception):
                await self._saver


def _write_privately(path: Path, text: str) -> None:
    """Replace ``path`` by ``text`` at once (a reader, or a process killed meanwhile, sees the old or the new file,
    never half of one), readable by this user only."""
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
    os.replace(temporary, path)


# Compare-and-swap of one place; the room's hash lives as long as the longest call could.
_SWAP = """
local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then cur = '' end
if cur ~= ARGV[2] then return 'conflict' end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
  return 'swapped'
end
local limit = tonumber(ARGV[4])
if cur == '' and limit > 0 and redis.call('HLEN', KEYS[1]) >= limit then return 'full' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 'swapped'
"""


class RedisBroker:
    """Rooms shared through Redis: a hash of places per room, a pub/sub channel per room, tokens with a TTL."""

    shared = True

    def __init__(self, client, *, prefix: str = "vb:signaling", room_ttl: int = 12 * 3600) -> None:
        self.client = client
        self.prefix = prefix
        self.room_ttl = room_ttl
        self._swap = client.register_script(_SWAP)
        self._handlers: dict[str, Handler] = {}
        self._confirmations: dict[str, list[asyncio.Future]] = {}
        self._pubsub: PubSub | None = None  # set by connect()
        self._listener: asyncio.Task | None = None
        self._listening = False  # the listener reads the pub/sub connection (else _subscribed reads it itself)
        self._channel_prefix = f"{prefix}:room:"

    @classmethod
    async def connect(
        cls,
        url: str,
        *,
        prefix: str = "vb:signaling",
        room_ttl: int = 12 * 3600,
        start_without: bool = False,
        timeout: float = 2.0,
    ) -> RedisBroker:
        """Connect to Redis at ``url`` and start this process's pub/sub listener.

        ``start_without``: if Redis does not answer now, return anyway and keep trying in the background (calls
        cannot start until it answers; ``ping`` says whether it does), instead of raising."""
        import redis.asyncio as redis

        client = redis.from_url(url, decode_responses=True, socket_connect_timeout=timeout, socket_timeout=None)
        broker = cls(client, prefix=prefix, room_ttl=room_ttl)
        broker._pubsub = client.pubsub()
        # A channel of this process's own keeps the pub/sub connection subscribed, so the listener always has
        # a connection to wait on.
        own = f"{prefix}:process:{secrets.token_hex(8)}"
        try:
            await asyncio.wait_for(client.ping(), timeout)
            await broker._subscribed(own)
        except Exception as exc:
            if not start_without:
                await client.aclose()
                raise
            log.warning("redis unreachable at start (%s): calls wait for it; trying again", type(exc).__name__)
            broker._listener = asyncio.create_task(broker._connect_later(own), name="signaling-redis-listener")
            return broker
        broker._listener = asyncio.create_task(broker._listen(), name="signaling-redis-listener")
        return broker

    async def _connect_later(self, own: str, every: float = 2.0) -> None:
        """Redis was down at start: subscribe as soon as it answers, then listen as usual."""
        while True:
            await asyncio.sleep(every)
            try:
                await self._subscribed(own)
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - still down
                self._confirmations.pop(own, None)
                continue
            log.info("redis reachable again: calls can start")
            await self._listen()

    def _room_key(self, room: str) -> str:
        return f"{self.prefix}:members:{room}"

    def _token_key(self, key: str) -> str:
        return f"{self.prefix}:resume:{key}"

    async def member(self, room: str, pid: str) -> str | None:
        return await self.client.hget(self._room_key(room), pid)

    async def members(self, room: str) -> dict[str, str]:
        return await self.client.hgetall(self._room_key(room))

    async def swap_member(self, room: str, pid: str, expected: str | None, new: str | None, *, limit: int = 0) -> str:
        return await self._swap(
            keys=[self._room_key(room)], args=[pid, expected or "", new or "", limit, self.room_ttl]
        )

    async def clear_room(self, room: str) -> dict[str, str]:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.hgetall(self._room_key(room))
            pipe.delete(self._room_key(room))
            places, _ = await pipe.execute()
        return places

    async def publish(self, room: str, envelope: Envelope) -> None:
        await self.client.publish(self._channel_prefix + room, envelope.encode())

    async def subscribe(self, room: str, handler: Handler) -> None:
        self._handlers[room] = handler
        await self._subscribed(self._channel_prefix + room)

    @property
    def _channels(self) -> PubSub:
        """The pub/sub connection, which connect() opens."""
        if self._pubsub is None:
            raise RuntimeError("the Redis broker is not connected: make it with RedisBroker.connect()")
        return self._pubsub

    async def _subscribed(self, channel: str) -> None:
        """Subscribe and wait for Redis to confirm, so no message published after this returns is missed."""
        confirmed = asyncio.get_running_loop().create_future()
        self._confirmations.setdefault(channel, []).append(confirmed)
        await self._channels.subscribe(channel)
        if not self._listening:  # while connecting: read the confirmation ourselves
            while not confirmed.done():
                self._handle(await self._channels.get_message(timeout=5.0))
        await asyncio.wait_for(confirmed, 5.0)

    async def unsubscribe(self, room: str, handler: Handler) -> None:
        if self._handlers.get(room) is handler:
            del self._handlers[room]
            await self._channels.unsubscribe(self._channel_prefix + room)

    async def put_token(self, key: str, value: str, ttl: float) -> None:
        await self.client.set(self._token_key(key), value, px=max(1, int(ttl * 1000)))

    async def take_token(self, key: str) -> str | None:
        return await self.client.getdel(self._token_key(key))

    async def drop_token(self, key: str) -> None:
        await self.client.delete(self._token_key(key))

    async def _listen(self) -> None:
        self._listening = True
        while True:
            try:
                message = await self._channels.get_message(timeout=None)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - Redis restarts: redis-py reconnects and resubscribes
                log.warning("redis pub/sub read failed (%s); retrying", type(exc).__name__)
                await asyncio.sleep(1.0)
                continue
            self._handle(message)

    def _handle(self, message: dict | None) -> None:
        if message is None:
            return
        kind, channel = message["type"], message["channel"]
        if kind == "message":
            room = channel[len(self._channel_prefix) :]
            handler = self._handlers.get(room)
            if handler is not None:
                try:
                    handler(room, Envelope.decode(message["data"]))
                except Exception:  # noqa: BLE001 - one bad envelope must not stop the listener
                    log.exception("delivering a message for room %s failed", room)
        elif kind == "subscribe":
            waiting = self._confirmations.get(channel)
            if waiting:
                future = waiting.pop(0)
                if not waiting:
                    del self._confirmations[channel]
                if not future.done():
                    future.set_result(None)

    async def ping(self, timeout: float = 1.0) -> bool:
        try:
            return bool(await asyncio.wait_for(self.client.ping(), timeout))
        except Exception:  # noqa: BLE001 - refused, reset, timed out: all mean "not available now"
            return False

    async def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            await asyncio.gather(self._listener, return_exceptions=True)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        await self.client.aclose()
