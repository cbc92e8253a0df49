"""Rooms and who is in them: participants, their places (waiting or admitted), and every change to a place.

A room's places live in the broker's store (a Redis hash per room, or a dict in one process) and change
only by compare-and-swap, so several server processes sharing one Redis agree on who is in a room.
Nothing here sends messages; the server announces what changed.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import orjson

from signaling.broker import ADMITTED_MEMBERS, FULL, HOSTS, SWAPPED, Broker
from signaling.protocol import HOST, ROLES

WAITING, ADMITTED = "waiting", "admitted"
_SAFE_ID = re.compile(r"[A-Za-z0-9_.:@-]{1,64}")
_ATTEMPTS = 16  # compare-and-swap retries before giving up (only under heavy contention for one place)


@dataclass(frozen=True, slots=True)
class Participant:
    """A person in a room, as the application's ``authorize`` function says."""

    id: str  # stable for one person in one room, e.g. "staff-3", "citizen-7", "guest-12"
    room: str  # e.g. "appointment-42"
    role: str  # "host" (admitted at once, admits others, can end the call) | "guest" (waits until admitted)
    name: str  # display name shown to others (first name)

    def is_valid(self) -> bool:
        """Usable as given by ``authorize``: safe ids, a known role, a short name."""
        return (
            isinstance(self.id, str)
            and isinstance(self.room, str)
            and _SAFE_ID.fullmatch(self.id) is not None
            and _SAFE_ID.fullmatch(self.room) is not None
            and self.role in ROLES
            and isinstance(self.name, str)
            and 0 < len(self.name) <= 100
        )


@dataclass(frozen=True, slots=True)
class Member:
    """A participant's place in a room, as stored."""

    id: str
    name: str
    role: str
    state: str  # WAITING | ADMITTED
    since: float  # when they joined (epoch seconds): how long they have waited
    conn: str  # the connection holding the place; "" while its socket is dropped (a grace period runs)
    deadline: float  # while dropped: when the place is given up (epoch seconds); else 0
    token: str  # the key of the place's current resume token (its SHA-256)

    @property
    def admitted(self) -> bool:
        return self.state == ADMITTED

    @property
    def is_host(self) -> bool:
        return self.role == HOST

    def lapsed(self, now: float) -> bool:
        """Dropped, and its grace period is over: the place is as good as given up."""
        return not self.conn and self.deadline <= now

    @property
    def audience(self) -> str:
        """Who hears about this participant: everyone admitted about an admitted one, hosts about a waiting one."""
        return ADMITTED_MEMBERS if self.admitted else HOSTS

    def participant(self, room: str) -> Participant:
        return Participant(id=self.id, room=room, role=self.role, name=self.name)

    def dump(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def load(cls, raw: str) -> Member:
        return cls(**orjson.loads(raw))  # the app checks everyone's access every second: members() of every room


_DROPPED = '"conn":""'  # in a stored place (``Member.dump``) whose socket is dropped, and in no other


def token_key(token: str) -> str:
    """What a resume token is stored under: its SHA-256, so neither the store nor a place holds a usable token."""
    return hashlib.sha256(token.encode()).hexdigest()


class RoomFull(Exception):
    """The room already has its maximum number of participants."""


class RoomBusy(Exception):
    """A place kept changing under us; the operation was not done."""


_KEEP = object()  # a change function's answer: leave the place as it is


class Rooms:
    """Room membership over a broker's store; every operation is one atomic change to one place."""

    def __init__(self, broker: Broker, clock: Callable[[], float] = time.time) -> None:
        self.broker = broker
        self.clock = clock

    async def member(self, room: str, pid: str) -> Member | None:
        raw = await self.broker.member(room, pid)
        return Member.load(raw) if raw else None

    async def members(self, room: str) -> list[Member]:
        """The room's places, oldest first; a dropped place whose grace period is over is not one any more."""
        now = self.clock()
        return sorted(
            (m for raw in (await self.broker.members(room)).values() if not (m := Member.load(raw)).lapsed(now)),
            key=lambda m: m.since,
        )

    async def placed(self, room: str) -> list[str]:
        """The ids of the room's places, as ``members`` has them, without reading each place: a held one (the common
        case) is not parsed, only a dropped one, for its grace period. The app asks this of every room each second."""
        now = self.clock()
        return [
            pid
            for pid, raw in (await self.broker.members(room)).items()
            if _DROPPED not in raw or not Member.load(raw).lapsed(now)
        ]

    async def enter(self, p: Participant, conn: str, token: str, limit: int) -> tuple[Member | None, Member]:
        """Take a place (a host is admitted at once); an existing place of the same person is taken over,
        admitted if it was and its grace period is not over. Returns (the place taken over or None, the new
        place). Raises RoomFull."""
        now = self.clock()

        def take(current: Member | None) -> Member:
            admitted = p.role == HOST or (current is not None and current.admitted and not current.lapsed(now))
            return Member(
                id=p.id,
                name=p.name,
                role=p.role,
                state=ADMITTED if admitted else WAITING,
                since=now,
                conn=conn,
                deadline=0.0,
                token=token,
            )

        try:
            return await self._change(p.room, p.id, take, limit=limit)  # type: ignore[return-value]
        except RoomFull:  # full of live places, or of places left when every server stopped in a grace period?
            if not await self._clear_lapsed(p.room, now):
                raise
            return await self._change(p.room, p.id, take, limit=limit)  # type: ignore[return-value]

    async def admit(self, room: str, pid: str) -> Member | None:
        """Admit a waiting participant; None if there is no such waiting participant."""
        done = await self._change(room, pid, lambda m: replace(m, state=ADMITTED) if m and not m.admitted else _KEEP)
        return done[1] if done else None

    async def drop(self, room: str, pid: str, conn: str, grace: float) -> Member | None:
        """The socket of ``conn`` dropped: keep the place for ``grace`` seconds. None if ``conn`` no longer holds it."""
        deadline = self.clock() + grace
        done = await self._change(
            room, pid, lambda m: replace(m, conn="", deadline=deadline) if m and m.conn == conn else _KEEP
        )
        return done[1] if done else None

    async def resume(self, room: str, pid: str, token: str, conn: str, new_token: str) -> tuple[Member, Member] | None:
        """Give the place back to a new connection that shows the place's resume token within the grace period.
        Returns (the place as it was, the place now), or None if refused."""
        now = self.clock()

        def back(m: Member | None):
            if m is None or m.token != token or (not m.conn and m.deadline < now):
                return _KEEP
            return replace(m, conn=conn, deadline=0.0, token=new_token)

        return await self._change(room, pid, back)  # type: ignore[return-value]

    async def leave(self, room: str, pid: str, conn: str) -> Member | None:
        """Give up the place held by ``conn``; returns the place given up, or None."""
        done = await self._change(room, pid, lambda m: None if m and m.conn == conn else _KEEP)
        return done[0] if done else None

    async def expire(self, room: str, pid: str) -> Member | None:
        """Give up a dropped place whose grace period is over; returns it, or None."""
        now = self.clock()
        done = await self._change(room, pid, lambda m: None if m and m.lapsed(now) else _KEEP)
        return done[0] if done else None

    async def remove(self, room: str, pid: str) -> Member | None:
        """Give up ``pid``'s place whatever its state (the application ended their access); returns it, or None."""
        done = await self._change(room, pid, lambda m: None if m else _KEEP)
        return done[0] if done else None

    async def recover(self, room: str, grace: float) -> tuple[list[Member], list[Member]]:
        """After a restart of the only process: a place in ``room`` still held by a socket of the stopped process
        becomes a dropped one whose grace period starts now (a restart does not use up anyone's grace period); one
        dropped before the stop keeps its own grace period, and is given up if that is over. Returns (the places
        kept, those given up)."""
        now = self.clock()
        deadline = now + grace
        kept: list[Member] = []
        gone: list[Member] = []
        for raw in (await self.broker.members(room)).values():
            pid = Member.load(raw).id

            def dropped(m: Member | None):
                if m is None:
                    return _KEEP
                if m.conn:
                    return replace(m, conn="", deadline=deadline)
                return None if m.lapsed(now) else _KEEP

            done = await self._change(room, pid, dropped)
            if done is None:  # dropped before the stop, within its grace period
                if (place := await self.member(room, pid)) is not None:
                    kept.append(place)
            elif done[0] is not None:
                (kept if done[1] is not None else gone).append(done[1] or done[0])
        return kept, gone

    async def _clear_lapsed(self, room: str, now: float) -> bool:
        """Give up dropped places whose grace period is over; True if there were any. Their timers give them up on
        time while a server runs; this catches the ones left when every server stopped during a grace period, only
        when they would make the room look full (elsewhere they are skipped as lapsed). Not on every join: that would
        cost every call set-up one more read of the room."""
        cleared = False
        for raw in (await self.broker.members(room)).values():
            if (place := Member.load(raw)).lapsed(now):
                cleared |= (
                    await self._change(room, place.id, lambda m: None if m and m.lapsed(now) else _KEEP) is not None
                )
        return cleared

    async def end(self, room: str) -> list[Member]:
        """Empty the room at once; returns the places it had."""
        return [Member.load(raw) for raw in (await self.broker.clear_room(room)).values()]

    async def _change(
        self, room: str, pid: str, change: Callable, *, limit: int = 0
    ) -> tuple[Member | None, Member | None] | None:
        """Read a place, compute its new value, and swap it in unless somebody changed it meanwhile.
        Returns (old, new), new being None when the place was given up; None when ``change`` kept it as it was."""
        for _ in range(_ATTEMPTS):
            raw = await self.broker.member(room, pid)
            current = Member.load(raw) if raw else None
            new = change(current)
            if new is _KEEP:
                return None
            result = await self.broker.swap_member(room, pid, raw, new.dump() if new else None, limit=limit)
            if result == SWAPPED:
                return current, new
            if result == FULL:
                raise RoomFull(room)
        raise RoomBusy(room)
