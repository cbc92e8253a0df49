"""Real-time fixtures: a small aiohttp app that mounts the signalling server on /ws, with its own authorisation
(a dict of one-use join tickets), its own session log (a list), and real aiortc peers on loopback."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

import aiohttp
import aioice.ice
import pytest
from aiohttp import web

from signaling import Event, InProcessBroker, Limits, Participant, SignalingServer
from signaling.broker import Broker

from realtime.peer import Peer

ROOM = "appointment-1"
ORIGIN = "https://vb.example.dk"

# Short enough to keep the folder fast, long enough for a loaded two-core machine.
FAST = Limits(grace_seconds=1.0, auth_timeout=1.0)


@pytest.fixture(autouse=True)
def loopback_ice(monkeypatch):
    """aioice never gathers 127.0.0.1 by itself: use only that, so calls stay on this machine."""
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])


@dataclass
class Signaling:
    """One signalling server under test, its tickets and its session log."""

    server: SignalingServer
    url: object
    session: aiohttp.ClientSession
    tickets: dict[str, Participant]
    events: list[tuple[str, str, dict]]
    peers: list[Peer] = field(default_factory=list)
    _numbers: itertools.count = field(default_factory=lambda: itertools.count(1))

    def ticket(self, pid: str, *, role: str = "guest", room: str = ROOM, name: str | None = None) -> str:
        """A one-use join ticket for ``pid`` (what the app would issue to the page)."""
        ticket = f"ticket-{next(self._numbers)}-{pid}"
        self.tickets[ticket] = Participant(id=pid, room=room, role=role, name=name or pid.split("-")[0].title())
        return ticket

    def peer(self, *, media: bool = True, headers: dict | None = None, url: object = None) -> Peer:
        peer = Peer(self.session, url or self.url, media=media, headers=headers)
        self.peers.append(peer)
        return peer

    async def joined(
        self, pid: str, *, role: str = "guest", room: str = ROOM, media: bool = True, url: object = None
    ) -> Peer:
        """A participant who has joined (waiting, or admitted if a host)."""
        peer = self.peer(media=media, url=url)
        await peer.join(self.ticket(pid, role=role, room=room))
        return peer

    def events_of(self, pid: str) -> list[tuple[str, dict]]:
        return [(event, details) for event, who, details in self.events if who == pid]


async def eventually(check, timeout: float = 5.0, what=None) -> None:
    """Wait until ``check()`` is true (the server finishes a closed connection just after the client sees it);
    fails saying ``what()`` if it does not become true in time."""
    try:
        async with asyncio.timeout(timeout):
            while not check():
                await asyncio.sleep(0.01)
    except TimeoutError:
        raise AssertionError(what() if what else "the condition did not become true in time") from None


def signaling_app(server: SignalingServer) -> web.Application:
    app = web.Application()
    app.router.add_get("/ws", server.handle)

    async def stop(_app: web.Application) -> None:
        await server.close()

    app.on_shutdown.append(stop)
    return app


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
async def start_signaling(aiohttp_server, session):
    """Start a signalling server (its own app and port); several may share one broker."""
    started: list[Signaling] = []

    async def start(
        limits: Limits = FAST, broker: Broker | None = None, *, tickets: dict | None = None, events: list | None = None
    ) -> Signaling:
        tickets = {} if tickets is None else tickets
        events = [] if events is None else events

        async def authorize(ticket: str) -> Participant | None:
            return tickets.pop(ticket, None)  # one use: a replayed ticket is refused

        async def on_event(batch: list[Event]) -> None:
            events.extend((e.event, e.participant.id, e.details) for e in batch)

        server = SignalingServer(
            authorize=authorize,
            on_event=on_event,
            broker=broker or InProcessBroker(),
            allowed_origins=lambda request: {ORIGIN},
            limits=limits,
        )
        test_server = await aiohttp_server(signaling_app(server))
        signaling = Signaling(server, test_server.make_url("/ws"), session, tickets, events)
        started.append(signaling)
        return signaling

    yield start
    for signaling in started:
        for peer in signaling.peers:
            await peer.close()


@pytest.fixture
async def signaling(start_signaling) -> Signaling:
    return await start_signaling()
