#!/usr/bin/env python3
"""Signalling benchmark: call set-up, relay throughput and latency, memory per idle participant.

Starts `vbostotte serve --demo` as its own process on a fresh SQLite database (pinned to CPU 0, as
pages_bench.py does), the PeerJS server (npm `peer`, a devDependency in package.json: `npm ci` brings it; run with
Node) the same way and, when `../shared/bench/ref_relay.py` is there, the bare aiohttp relays too; this process
(CPU 1) drives them all with the same load generator and prints them side by side.

Participants of the app are real: the bench adds video appointments that are open now (a worker and a
citizen each) and issues their single-use join tickets with the booking service (`calls.issue_ticket`, what
the ticket endpoint calls). Every connection then goes the whole way through the app: WebSocket upgrade,
`join` with the ticket (redeemed in the database), a place in the room, the waiting room and the worker's
`admit`. Only then do the two exchange offers (~3 KB) and candidates (~300 B), one to four, as in a call.

  * call set-up: two aiortc peers, join -> both RTCPeerConnections "connected" (median, p95);
  * relay: N rooms (one pair each) at a fixed offered rate, open loop: delivered msgs/s, latency p50/p99 and
    messages per server-CPU-second (server CPU from /proc, in ns: independent of the client); plus N rooms
    closed loop (each client one message in flight) for the most the server relays;
  * memory: server RSS before and after opening the largest level's rooms (idle, admitted), per connection.

The offered rates stay under the app's per-connection rate limit (50 msgs/s), which is not lifted: the load is
what clients may send, and the limiter's bookkeeping is part of what is measured.

    .venv/bin/python bench/signaling_bench.py [--rooms 1,50,500] [--seconds 4] [--setups 20] [--no-ref]

Without PeerJS installed (`npm ci`) and Node on PATH it says so and exits with status 2 (``--no-ref``: the app alone).

Bounded in time (about two minutes); talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import glob
import itertools
import json
import os
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
from pages_bench import ROOT, free_port, start_server, wait_ready  # noqa: E402

REF_RELAY = ROOT.parent / "shared" / "bench" / "ref_relay.py"
PEERJS = ROOT / "node_modules" / "peer" / "dist" / "bin" / "peerjs.js"  # peer@1.0.2, package.json's devDependency
RATE_PER_CLIENT = 40.0  # msgs/s one client offers, under the app's per-connection limit of 50
DEFAULT_RATES = {1: 2 * RATE_PER_CLIENT, 50: 100 * RATE_PER_CLIENT, 500: 8000.0}  # total offered msgs/s
TARGETS = {
    "setup_ratio": 1.5,
    "throughput_ratio": 0.8,
    "peerjs_ratio": 1.1,
    "p99_ms_at_500": 50.0,
    "kib_per_conn": 20.0,
}

# -- payloads: an offer-sized SDP and a candidate-sized ICE candidate, each carrying its sequence number -------
_SDP = [
    "s=-",
    "t=0 0",
    "a=group:BUNDLE 0 1",
    "a=extmap-allow-mixed",
    "a=msid-semantic: WMS stream0",
    "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 103 104 9 0 8 106 105 13 110 112 113 126",
    "c=IN IP4 0.0.0.0",
    "a=rtcp:9 IN IP4 0.0.0.0",
    "a=ice-ufrag:sXe3",
    "a=ice-pwd:9Lk0Qm3bRkq4Gd7H1vM2pZ0a",
    "a=ice-options:trickle",
    "a=fingerprint:sha-256 4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:3E:4A:2C:0F:1D:9E:2B:5C:7A:"
    "6D:11:88",
    "a=setup:actpass",
    "a=mid:0",
    "a=sendrecv",
    "a=rtcp-mux",
    "a=rtpmap:111 opus/48000/2",
    "a=fmtp:111 minptime=10;useinbandfec=1",
]
_VIDEO = [
    "m=video 9 UDP/TLS/RTP/SAVPF 96 97 98 99 100 101 102 121 127 120 125 107 108 109",
    "a=rtpmap:96 VP8/90000",
    "a=rtcp-fb:96 goog-remb",
    "a=rtcp-fb:96 transport-cc",
    "a=rtcp-fb:96 ccm fir",
    "a=rtcp-fb:96 nack",
    "a=rtcp-fb:96 nack pli",
    "a=rtpmap:97 rtx/90000",
    "a=fmtp:97 apt=96",
    "a=ssrc:2231627014 cname:4TOk42mSjXCkVIa6",
]
while len("\r\n".join(_SDP)) < 2850:
    _SDP.append(_VIDEO[len(_SDP) % len(_VIDEO)])
SDP_TAIL = json.dumps("\r\n".join(_SDP) + "\r\n")[1:-1]  # JSON-escaped, after "v=0\r\no=- {seq} ..."
SDP_HEAD = "v=0\\r\\no=- %d 2 IN IP4 127.0.0.1\\r\\n"
OFFER_FIELDS = '"sdp":"' + SDP_HEAD + SDP_TAIL + '"'
CANDIDATE_FIELDS = (
    '"candidate":{"candidate":"candidate:%d 1 udp 1677729535 203.0.113.7 46154 typ srflx raddr '
    '10.0.0.5 rport 46154 generation 0 ufrag sXe3 network-cost 999","sdpMid":"0",'
    '"sdpMLineIndex":0,"usernameFragment":"sXe3"}'
)
MIX = (True, False, False, False, False)  # one offer to four candidates
_RUNS = itertools.count(1)
loads = orjson.loads  # the load generator's own parsing: the cheaper it is, the more load one client core offers


def sequence_of(kind: str, fields: dict) -> int | None:
    """The sequence number a relayed offer or candidate carries (None for anything else)."""
    if kind == "offer":
        sdp = fields["sdp"]
        return int(sdp[9 : sdp.index(" ", 9)])
    if kind == "candidate":
        text = fields["candidate"]["candidate"]
        return int(text[10 : text.index(" ")])
    return None


# -- the two servers, as the load generator sees them --------------------------------------------------------------
@dataclasses.dataclass
class Client:
    ws: aiohttp.ClientWebSocketResponse
    id: str
    partner: Client | None = None
    sent_at: list = dataclasses.field(default_factory=list)  # send time of each sequence number
    received: int = 0


class AppTarget:
    """The real app: tickets from the booking service, join over /ws/calls, the worker admits the citizen."""

    name = "vbostotte"

    def __init__(self, base: str, data_dir: str, pid: int) -> None:
        from vbostotte import db
        from vbostotte.config import load_settings

        self.url, self.pid = base.replace("http", "ws", 1) + "/ws/calls", pid
        self.settings = load_settings({"VB_DATA_DIR": data_dir}).with_secret()
        self.engine = db.create_engine(self.settings.resolved_database_url)
        self.rooms: list[tuple[int, int, int, int]] = []  # (appointment, worker, citizen, municipality)

    async def prepare(self, n_rooms: int) -> None:
        """Video appointments open now, each with its own worker (a worker has one call at a time) and citizen."""
        from sqlalchemy import select

        from vbostotte import db, demo
        from vbostotte.models import (
            Appointment,
            AppointmentKind,
            Caseload,
            Citizen,
            Municipality,
            Staff,
            StaffRole,
            Team,
        )

        now = dt.datetime.now(dt.UTC)
        async with db.sessionmaker(self.engine)() as session, session.begin():
            municipality = (
                await session.execute(select(Municipality).where(Municipality.name == demo.MUNICIPALITY))
            ).scalar_one()
            team = (
                (await session.execute(select(Team).where(Team.municipality_id == municipality.id))).scalars().first()
            )
            for i in range(n_rooms):
                worker = Staff(
                    municipality_id=municipality.id,
                    email=f"bench-{i}@bench.invalid",
                    name=f"Worker {i}",
                    role=StaffRole.WORKER,
                    password_hash="!",
                    totp_secret=None,
                    created_at=now,
                )
                citizen = Citizen(
                    municipality_id=municipality.id,
                    team_id=team.id,
                    name=f"Citizen {i}",
                    preferred_name=f"Citizen{i}",
                    created_at=now,
                )
                session.add_all([worker, citizen])
                await session.flush()
                session.add(Caseload(staff_id=worker.id, citizen_id=citizen.id))
                appointment = Appointment(
                    municipality_id=municipality.id,
                    citizen_id=citizen.id,
                    worker_id=worker.id,
                    kind=AppointmentKind.VIDEO,
                    starts_at=now - dt.timedelta(minutes=5),
                    ends_at=now + dt.timedelta(minutes=55),
                    created_at=now,
                )
                session.add(appointment)
                await session.flush()
                self.rooms.append((appointment.id, worker.id, citizen.id, municipality.id))

    async def tickets(self, n_rooms: int, first: int = 0) -> list[tuple[str, str]]:
        """A join ticket for each room's worker and citizen, issued as the ticket endpoint issues them."""
        from vbostotte import db
        from vbostotte.actors import Actor
        from vbostotte.calls import calls
        from vbostotte.identity import sessions

        now = dt.datetime.now(dt.UTC)
        out = []
        async with db.sessionmaker(self.engine)() as session, session.begin():
            for appointment, worker, citizen, municipality in self.rooms[first : first + n_rooms]:
                staff = Actor(kind="staff", id=worker, municipality_id=municipality, role="worker")
                person = Actor(kind="citizen", id=citizen, municipality_id=municipality, role="citizen")
                # Each from a signed-in session, as the page asks for them: the call lasts as long as the session.
                staff_session = await sessions.start_staff_session(session, worker, self.settings, now, mfa_passed=True)
                citizen_session = await sessions.start_citizen_session(session, citizen, None, self.settings, now)
                out.append(
                    (
                        await calls.issue_ticket(
                            session,
                            staff,
                            appointment,
                            self.settings,
                            now,
                            session_hash=sessions.token_hash(staff_session),
                        ),
                        await calls.issue_ticket(
                            session,
                            person,
                            appointment,
                            self.settings,
                            now,
                            session_hash=sessions.token_hash(citizen_session),
                        ),
                    )
                )
        return out

    async def open_room(self, http: aiohttp.ClientSession, i: int, tickets: tuple[str, str]) -> tuple[Client, Client]:
        _appointment, worker_id, citizen_id, _ = self.rooms[i]
        worker = Client(await connect(http, self.url), f"staff-{worker_id}")
        await worker.ws.send_str(json.dumps({"type": "join", "ticket": tickets[0]}))
        await until(worker.ws, "waiting_list")
        citizen = Client(await connect(http, self.url), f"citizen-{citizen_id}")
        await citizen.ws.send_str(json.dumps({"type": "join", "ticket": tickets[1]}))
        assert (await until(citizen.ws, "joined"))["state"] == "waiting"
        await until(worker.ws, "waiting")
        await worker.ws.send_str(json.dumps({"type": "admit", "participant": citizen.id}))
        await until(citizen.ws, "admitted")
        await until(worker.ws, "participant_joined")
        return worker, citizen

    async def leave(self, client: Client) -> None:
        with contextlib.suppress(ConnectionError, RuntimeError):
            await client.ws.send_str('{"type":"leave"}')

    def encode(self, to: str, offer: bool, seq: int) -> str:
        if offer:
            return ('{"type":"offer","to":"%s",' + OFFER_FIELDS + "}") % (to, seq)
        return ('{"type":"candidate","to":"%s",' + CANDIDATE_FIELDS + "}") % (to, seq)

    def wrap(self, to: str, kind: str, fields: dict) -> str:
        return json.dumps({"type": kind, "to": to, **fields})

    def unwrap(self, message: dict) -> tuple[str, dict] | None:
        return (message["type"], message) if message.get("type") in ("offer", "answer", "candidate") else None

    async def close(self) -> None:
        await self.engine.dispose()


class RefTarget:
    """The bare relay (../shared/bench/ref_relay.py): no auth, no rooms to wait in, no validation."""

    def __init__(self, base: str, pid: int, name: str) -> None:
        self.url, self.pid, self.name = base.replace("http", "ws", 1), pid, name
        self.run = 0

    async def tickets(self, n_rooms: int, first: int = 0) -> list[tuple[str, str]]:
        self.run += 1
        return [("", "")] * n_rooms

    async def open_room(self, http: aiohttp.ClientSession, i: int, _tickets) -> tuple[Client, Client]:
        room = f"{self.url}/ws/r{self.run}-{i}"
        worker = Client(await connect(http, f"{room}?id=a{i}"), f"a{i}")
        await until(worker.ws, "welcome")
        citizen = Client(await connect(http, f"{room}?id=b{i}"), f"b{i}")
        await until(citizen.ws, "welcome")
        await until(worker.ws, "peer-joined")
        return worker, citizen

    async def leave(self, client: Client) -> None:
        pass

    def encode(self, to: str, offer: bool, seq: int) -> str:
        if offer:
            return ('{"type":"signal","to":"%s","data":{"type":"offer",' + OFFER_FIELDS + "}}") % (to, seq)
        return ('{"type":"signal","to":"%s","data":{"type":"candidate",' + CANDIDATE_FIELDS + "}}") % (to, seq)

    def wrap(self, to: str, kind: str, fields: dict) -> str:
        return json.dumps({"type": "signal", "to": to, "data": {"type": kind, **fields}})

    def unwrap(self, message: dict) -> tuple[str, dict] | None:
        data = message.get("data") if message.get("type") == "signal" else None
        return (data["type"], data) if isinstance(data, dict) else None

    async def close(self) -> None:
        pass


class PeerJSTarget:
    """The PeerJS server (npm `peer`): each client connects with its own id and sends to another by id, no rooms.
    Its protocol as ../shared/bench/relay_bench.py's PeerJSAdapter speaks it: {"type":"OFFER|ANSWER|CANDIDATE",
    "dst":ID,"payload":{...}} in, the same with "src" stamped out."""

    name = "PeerJS"

    def __init__(self, base: str, pid: int) -> None:
        self.url, self.pid = base.replace("http", "ws", 1) + "/peerjs", pid
        self.run = 0

    async def tickets(self, n_rooms: int, first: int = 0) -> list[tuple[str, str]]:
        self.run += 1
        return [("", "")] * n_rooms

    async def open_room(self, http: aiohttp.ClientSession, i: int, _tickets) -> tuple[Client, Client]:
        pair = []
        for side in "ab":
            pid = f"r{self.run}-{i}{side}"
            client = Client(await connect(http, f"{self.url}?key=peerjs&id={pid}&token={secrets.token_hex(6)}"), pid)
            await until(client.ws, "OPEN")
            pair.append(client)
        return pair[0], pair[1]

    async def leave(self, client: Client) -> None:
        pass

    def encode(self, to: str, offer: bool, seq: int) -> str:
        if offer:
            return (
                '{"type":"OFFER","dst":"%s","payload":{"sdp":{"type":"offer",' + OFFER_FIELDS + "},"
                '"type":"media","connectionId":"mc_bench","browser":"bench"}}'
            ) % (to, seq)
        return (
            '{"type":"CANDIDATE","dst":"%s","payload":{' + CANDIDATE_FIELDS + ',"type":"media",'
            '"connectionId":"mc_bench"}}'
        ) % (to, seq)

    def wrap(self, to: str, kind: str, fields: dict) -> str:
        payload = {"sdp": {"type": kind, "sdp": fields["sdp"]}} if "sdp" in fields else dict(fields)
        return json.dumps({"type": kind.upper(), "dst": to, "payload": {**payload, "connectionId": "mc_bench"}})

    def unwrap(self, message: dict) -> tuple[str, dict] | None:
        kind, payload = str(message.get("type")).lower(), message.get("payload")
        if kind not in ("offer", "answer", "candidate") or not isinstance(payload, dict):
            return None
        return (kind, {"sdp": payload["sdp"]["sdp"]}) if kind != "candidate" else (kind, payload)

    async def close(self) -> None:
        pass


async def connect(http: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    return await http.ws_connect(
        url, autoping=True, compress=0, max_msg_size=0, timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=5)
    )


async def until(ws: aiohttp.ClientWebSocketResponse, kind: str, timeout: float = 30.0) -> dict:
    """Read messages until one of ``kind`` arrives (an error or a close fails the benchmark)."""
    async with asyncio.timeout(timeout):
        while True:
            frame = await ws.receive()
            if frame.type != aiohttp.WSMsgType.TEXT:
                raise RuntimeError(f"socket closed waiting for {kind}: {frame.type} {ws.close_code}")
            message = json.loads(frame.data)
            if message.get("type") == kind:
                return message
            if message.get("type") == "error":
                raise RuntimeError(f"error waiting for {kind}: {message}")


async def open_rooms(target, http: aiohttp.ClientSession, n: int, concurrency: int = 25) -> list[tuple[Client, Client]]:
    tickets = await target.tickets(n)
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int) -> tuple[Client, Client]:
        async with gate:
            return await target.open_room(http, i, tickets[i])

    return list(await asyncio.gather(*(one(i) for i in range(n))))


async def close_rooms(target, pairs: list[tuple[Client, Client]]) -> None:
    gate = asyncio.Semaphore(100)

    async def one(client: Client) -> None:
        async with gate:
            await target.leave(client)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.ws.close(), 5)

    await asyncio.gather(*(one(c) for pair in pairs for c in pair))


# -- /proc ---------------------------------------------------------------------------------------------------------------
def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of ``pid``, in seconds with nanosecond resolution (scheduler statistics)."""
    total = 0
    for path in glob.glob(f"/proc/{pid}/task/*/schedstat"):
        with contextlib.suppress(OSError), open(path) as f:
            total += int(f.read().split()[0])
    return total / 1e9


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))] if ordered else float("nan")


# -- relay load ----------------------------------------------------------------------------------------------------------
async def relay_load(
    target, pairs: list[tuple[Client, Client]], rate: float, seconds: float, warmup: float = 1.0
) -> dict:
    """Every client sends to its partner (offer, then four candidates, repeating): open loop at ``rate`` msgs/s in
    total, or closed loop (one message in flight per client) when ``rate`` is 0."""
    clients = [c for pair in pairs for c in pair]
    for a, b in pairs:
        a.partner, b.partner = b, a
    for c in clients:
        c.sent_at, c.received = [], 0
    start = time.perf_counter() + 0.2
    m_start, m_end = start + warmup, start + warmup + seconds
    latencies: list[float] = []
    marks: dict[str, float] = {}
    counts = {"in_window": 0, "delivered": 0, "errors": 0}
    credit = {id(c): asyncio.Event() for c in clients}
    base = next(_RUNS) * 10_000_000  # sequence numbers of this run: what is still in flight from the last is ignored

    async def receive(c: Client) -> None:
        async for frame in c.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                return
            now = time.perf_counter()
            got = target.unwrap(loads(frame.data))
            if got is None:
                counts["errors"] += frame.data.startswith('{"type":"error"')
                continue
            seq = sequence_of(*got) - base
            if not 0 <= seq < len(c.partner.sent_at):
                continue
            sent = c.partner.sent_at[seq]
            counts["delivered"] += 1
            if m_start <= now < m_end:
                counts["in_window"] += 1
            if m_start <= sent < m_end:
                latencies.append(now - sent)
            credit[id(c.partner)].set()

    async def send(c: Client, index: int) -> None:
        to, ws, encode = c.partner.id, c.ws, target.encode
        seq = 0
        if rate:
            interval = len(clients) / rate
            due = start + interval * index / len(clients)
            while True:
                if (delay := due - time.perf_counter()) > 0:
                    await asyncio.sleep(delay)
                if (now := time.perf_counter()) >= m_end:
                    return
                c.sent_at.append(now)
                await ws.send_str(encode(to, MIX[seq % 5], base + seq))
                seq += 1
                due += interval
        await asyncio.sleep(max(0.0, start - time.perf_counter()))
        event = credit[id(c)]
        while (now := time.perf_counter()) < m_end:
            event.clear()
            c.sent_at.append(now)
            await ws.send_str(encode(to, MIX[seq % 5], base + seq))
            seq += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(event.wait(), m_end - now)

    async def sample() -> None:
        await asyncio.sleep(max(0.0, m_start - time.perf_counter()))
        marks["cpu0"], marks["t0"] = cpu_seconds(target.pid), time.perf_counter()
        await asyncio.sleep(max(0.0, m_end - time.perf_counter()))
        marks["cpu1"], marks["t1"] = cpu_seconds(target.pid), time.perf_counter()

    readers = [asyncio.ensure_future(receive(c)) for c in clients]
    await asyncio.wait_for(
        asyncio.gather(sample(), *(send(c, i) for i, c in enumerate(clients))), warmup + seconds + 30
    )
    sent = sum(len(c.sent_at) for c in clients)
    deadline = time.perf_counter() + 3
    while counts["delivered"] < sent and time.perf_counter() < deadline:
        await asyncio.sleep(0.02)
    for reader in readers:
        reader.cancel()
    await asyncio.gather(*readers, return_exceptions=True)
    wall, cpu = marks["t1"] - marks["t0"], marks["cpu1"] - marks["cpu0"]
    return {
        "msgs_per_s": counts["in_window"] / wall,
        "per_cpu_s": counts["in_window"] / cpu if cpu else 0.0,
        "server_cpu_pct": 100 * cpu / wall,
        "p50_ms": pct(latencies, 50) * 1e3,
        "p99_ms": pct(latencies, 99) * 1e3,
        "lost": sent - counts["delivered"],
        "errors": counts["errors"],
    }


# -- call set-up with two aiortc peers ------------------------------------------------------------------------------------
def split_candidates(sdp: str) -> tuple[str, list[dict]]:
    """The SDP without its candidates, and the candidates as a browser trickles them (RTCIceCandidateInit)."""
    kept, candidates, index, mid = [], [], -1, None
    for line in sdp.splitlines():
        if line.startswith("m="):
            index, mid = index + 1, None
        if line.startswith("a=mid:"):
            mid = line[6:]
        if line.startswith("a=candidate:"):
            candidates.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": index})
        elif line != "a=end-of-candidates":
            kept.append(line)
    for c in candidates:  # a=mid comes after the candidates' m= line, before or after them
        c["sdpMid"] = c["sdpMid"] or str(c["sdpMLineIndex"])
    return "\r\n".join(kept) + "\r\n", candidates


class RtcPeer:
    """One side of a call: its signalling socket and one aiortc RTCPeerConnection with a test video track."""

    def __init__(self, target, client: Client) -> None:
        from aiortc import RTCConfiguration, RTCPeerConnection, VideoStreamTrack

        self.target, self.client = target, client
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # no public STUN: loopback only
        self.pc.addTrack(VideoStreamTrack())
        self.connected = asyncio.Event()
        self.pc.on("connectionstatechange", self._state)
        self.reader = asyncio.ensure_future(self._read())

    def _state(self) -> None:
        if self.pc.connectionState == "connected":
            self.connected.set()

    async def _signal(self, kind: str, **fields) -> None:
        await self.client.ws.send_str(self.target.wrap(self.client.partner.id, kind, fields))

    async def describe(self, kind: str) -> None:
        await self.pc.setLocalDescription(await (self.pc.createOffer() if kind == "offer" else self.pc.createAnswer()))
        sdp, candidates = split_candidates(self.pc.localDescription.sdp)
        await self._signal(kind, sdp=sdp)
        for candidate in candidates:
            await self._signal("candidate", candidate=candidate)
        await self._signal("candidate", candidate=None)

    async def _read(self) -> None:
        from aiortc import RTCSessionDescription
        from aiortc.sdp import candidate_from_sdp

        async for frame in self.client.ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                return
            got = self.target.unwrap(json.loads(frame.data))
            if got is None:
                continue
            kind, fields = got
            if kind in ("offer", "answer"):
                await self.pc.setRemoteDescription(RTCSessionDescription(sdp=fields["sdp"], type=kind))
                if kind == "offer":
                    await self.describe("answer")
            elif fields["candidate"] is None:
                await self.pc.addIceCandidate(None)
            else:
                init = fields["candidate"]
                candidate = candidate_from_sdp(init["candidate"].removeprefix("candidate:"))
                candidate.sdpMid, candidate.sdpMLineIndex = init["sdpMid"], init["sdpMLineIndex"]
                await self.pc.addIceCandidate(candidate)

    async def close(self) -> None:
        self.reader.cancel()
        await self.pc.close()


async def call_setup(target, http: aiohttp.ClientSession, rounds: int) -> list[float]:
    """Join -> connected for two aiortc peers, ``rounds`` times, each in a room of its own as each call is (the first
    is a warm-up)."""
    times = []
    for i in range(rounds + 1):
        tickets = (await target.tickets(1, i))[0]
        started = time.perf_counter()
        worker, citizen = await target.open_room(http, i, tickets)
        worker.partner, citizen.partner = citizen, worker
        host, guest = RtcPeer(target, worker), RtcPeer(target, citizen)
        try:
            await guest.describe("offer")  # the newcomer calls
            async with asyncio.timeout(20):
                await host.connected.wait()
                await guest.connected.wait()
            times.append(time.perf_counter() - started)
        finally:
            await host.close()
            await guest.close()
            await close_rooms(target, [(worker, citizen)])
    return times[1:]


# -- the run ---------------------------------------------------------------------------------------------------------------
REF_VARIANTS = {"std": "bare relay", "orjson": "bare relay+orjson"}  # ref_relay.py --json ...


@contextlib.asynccontextmanager
async def reference_server(command: list[str], port: int):
    """A reference server's process, pinned to CPU 0 like the app; yields its pid once it listens on ``port``."""
    what = Path(command[1]).name
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        await wait_listening(port, what)
        yield proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextlib.asynccontextmanager
async def ref_relay(variant: str = "std"):
    """The bare relay on its own port (None if ../shared/bench is not there)."""
    if not REF_RELAY.exists():
        yield None
        return
    port = free_port()
    async with reference_server([sys.executable, str(REF_RELAY), "--port", str(port), "--json", variant], port) as pid:
        yield RefTarget(f"http://127.0.0.1:{port}", pid, REF_VARIANTS[variant])


def peerjs_missing() -> str | None:
    """Why the PeerJS server cannot run here (None if it can)."""
    if shutil.which("node") is None:
        return "Node is not on PATH"
    if not PEERJS.exists():
        return f"{PEERJS.relative_to(ROOT)} is missing: run `npm ci` (peer@1.0.2 is a devDependency in package.json)"
    return None


@contextlib.asynccontextmanager
async def peerjs_server():
    """The PeerJS server with limits that do not get in the way of the load (as ../shared/bench/README.md runs it)."""
    port = free_port()
    command = [
        "node",
        str(PEERJS),
        "--port",
        str(port),
        "--host",
        "127.0.0.1",
        "--concurrent_limit",
        "100000",
        "--alive_timeout",
        "600000",
    ]
    async with reference_server(command, port) as pid:
        yield PeerJSTarget(f"http://127.0.0.1:{port}", pid)


@contextlib.asynccontextmanager
async def app_server(n_rooms: int):
    data_dir = tempfile.mkdtemp(prefix="vb-sigbench-")
    port = free_port()
    proc, _banner = start_server(data_dir, port)
    base = f"http://127.0.0.1:{port}"
    target = None
    try:
        await wait_ready(base)
        target = AppTarget(base, data_dir, proc.pid)
        await target.prepare(n_rooms)
        yield target
    finally:
        if target is not None:
            await target.close()
        proc.terminate()
        proc.wait(timeout=15)
        shutil.rmtree(data_dir, ignore_errors=True)


async def wait_listening(port: int, what: str) -> None:
    for _ in range(100):
        with contextlib.suppress(OSError):
            _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        await asyncio.sleep(0.1)
    raise RuntimeError(f"{what} did not start")


async def measure(targets: list, args) -> dict[str, dict]:
    """Every measurement, each server in turn right after the other (the machine's load drifts): call set-up,
    memory at the largest level, relay at every level."""
    results: dict[str, dict] = {t.name: {"relay": {}} for t in targets}
    levels = sorted(args.rooms, reverse=True)  # the largest first: its memory is measured on a fresh heap
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as http:
        if args.setups:
            for target in targets:
                results[target.name]["setup"] = await call_setup(target, http, args.setups)
        for n in levels:
            for target in targets:
                result = results[target.name]
                await asyncio.sleep(0.5)
                before = rss_kib(target.pid)
                pairs = await open_rooms(target, http, n)
                try:
                    if n == levels[0]:
                        await asyncio.sleep(args.settle)
                        result["memory"] = {"conns": 2 * n, "kib_per_conn": (rss_kib(target.pid) - before) / (2 * n)}
                    result["relay"][n] = await relay_load(
                        target, pairs, args.rate.get(n) or 20.0 * n, args.seconds, args.warmup
                    )
                    if n == levels[0] and n >= 200 and args.closed_loop:  # closed loop stays under the rate limit
                        result["relay"][f"{n} max"] = await relay_load(target, pairs, 0.0, args.seconds, args.warmup)
                finally:
                    await close_rooms(target, pairs)
    return results


def print_table(app: dict, refs: dict[str, dict]) -> None:
    """The app's figures, then each bare relay's with the app's ratio to it."""

    def ratio(a: float, b: float | None) -> str:
        return f"{a / b:.2f}x" if b else "-"

    head = f"{'measure':<44} {'vbostotte':>11}" + "".join(f" {name:>18} {'ratio':>6}" for name in refs)
    print(f"\n{head} {'target':>13}")

    def row(label: str, a: float, others: list, fmt: str, goal: str, with_ratio: bool) -> None:
        cells = "".join(
            f" {(format(b, fmt) if b is not None else '-'):>18} {(ratio(a, b) if with_ratio else ''):>6}"
            for b in others
        )
        print(f"{label:<44} {format(a, fmt):>11}{cells} {goal:>13}")

    if "setup" in app:
        for name, q in (("median", 50), ("p95", 95)):
            row(
                f"call set-up, join -> connected, {name} (ms)",
                pct(app["setup"], q) * 1e3,
                [pct(r["setup"], q) * 1e3 if "setup" in r else None for r in refs.values()],
                ".1f",
                "<= 1.5x",
                True,
            )
    for level, a in app["relay"].items():
        label = f"{level} rooms" if isinstance(level, int) else f"{level.split()[0]} rooms, closed loop"
        others = [r["relay"].get(level) for r in refs.values()]
        for name, key, goal, fmt in (
            ("msgs/s delivered", "msgs_per_s", "", ".0f"),
            ("msgs per server-CPU-s", "per_cpu_s", ">=1.1x PeerJS" if level in (500, "500 max") else ">= 0.8x", ".0f"),
            ("server CPU %", "server_cpu_pct", "", ".0f"),
            ("latency p50 (ms)", "p50_ms", "", ".2f"),
            ("latency p99 (ms)", "p99_ms", "< 50 ms" if level == 500 else "", ".2f"),
        ):
            row(
                f"{label}, {name}",
                a[key],
                [b[key] if b else None for b in others],
                fmt,
                goal,
                key in ("per_cpu_s", "msgs_per_s"),
            )
        if a["lost"] or a["errors"] or any(b and (b["lost"] or b["errors"]) for b in others):
            print(
                f"{label + ', lost / errors':<44} {str(a['lost']) + '/' + str(a['errors']):>11}"
                + "".join(f" {(str(b['lost']) + '/' + str(b['errors'])) if b else '-':>18} {'':>6}" for b in others)
            )
    if "memory" in app:
        m = app["memory"]
        row(
            f"RSS per idle participant, {m['conns']} conns (KiB)",
            m["kib_per_conn"],
            [r["memory"]["kib_per_conn"] if "memory" in r else None for r in refs.values()],
            ".1f",
            "<= 20 KiB",
            False,
        )


async def run(args) -> tuple[dict, dict[str, dict]]:
    import aioice.ice

    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: ["127.0.0.1"]  # aioice never gathers loopback itself
    async with contextlib.AsyncExitStack() as stack:
        app = await stack.enter_async_context(app_server(max(*args.rooms, args.setups + 1)))
        refs = [] if args.no_ref else [await stack.enter_async_context(ref_relay(v)) for v in REF_VARIANTS]
        if not args.no_ref:
            refs.append(await stack.enter_async_context(peerjs_server()))
        results = await measure([app, *(r for r in refs if r is not None)], args)
    return results.pop(AppTarget.name), results


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", default="1,50,500", help="concurrent rooms (a pair each) per level")
    parser.add_argument("--rate", default="", help="offered msgs/s per level, e.g. 1:80,50:4000,500:8000")
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per level")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--setups", type=int, default=20, help="call set-ups per server (0: none)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds before reading RSS")
    parser.add_argument("--no-closed-loop", dest="closed_loop", action="store_false")
    parser.add_argument("--no-ref", action="store_true", help="run the app alone (no bare relays, no PeerJS)")
    args = parser.parse_args(argv)
    args.rooms = [int(n) for n in args.rooms.split(",")]
    args.rate = {**DEFAULT_RATES, **{int(k): float(v) for k, v in (x.split(":") for x in args.rate.split(",") if x)}}
    return args


def main() -> None:
    args = parse_args()
    if not args.no_ref and (why := peerjs_missing()):
        print(f"signaling_bench: cannot run the PeerJS server: {why}", file=sys.stderr)
        sys.exit(2)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    began = time.perf_counter()
    app, refs = asyncio.run(run(args))
    print(
        f"vbostotte signalling benchmark: 1 server process on CPU 0, clients on CPU 1, {os.cpu_count()} cores, "
        f"{args.seconds:.0f} s per level; offered rates {', '.join(f'{n} rooms {args.rate.get(n, 0) or 20 * n:.0f}/s' for n in args.rooms)}"
    )
    print_table(app, refs)
    print(f"\n(total {time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
