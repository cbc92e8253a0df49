"""The connection test through the real application: a signed-in citizen's aiortc peer sends video to the
server's echo peer and receives it back; the echo peers are limited in number and closed on shutdown; bad
requests are refused in JSON and leave the server working."""

from __future__ import annotations

import asyncio

from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError

from signaling.echo import EchoPeers
from vbostotte.web.keys import ECHO_PEERS

from support import WebClient

OFFER_URL = "/api/v1/connection-test/offer"


class EchoClient:
    """One browser stand-in: a real aiortc peer that sends a test video track and counts what comes back."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))  # never aiortc's default public STUN
        self.pc.addTrack(VideoStreamTrack())
        self.frames = 0
        self.kinds: list[str] = []
        self._tasks: set[asyncio.Task] = set()

        @self.pc.on("track")
        def on_track(track) -> None:
            self.kinds.append(track.kind)
            task = asyncio.create_task(self._count(track))
            self._tasks.add(task)

    async def _count(self, track) -> None:
        try:
            while True:
                await track.recv()
                self.frames += 1
        except MediaStreamError:
            pass

    async def offer(self) -> str:
        await self.pc.setLocalDescription(await self.pc.createOffer())  # returns with all candidates gathered
        return self.pc.localDescription.sdp

    async def answer(self, sdp: str) -> None:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="answer"))

    async def frames_back(self, count: int = 3, timeout: float = 10.0) -> int:
        async with asyncio.timeout(timeout):
            while self.frames < count:
                await asyncio.sleep(0.01)
        return self.frames

    async def close(self) -> None:
        await self.pc.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


async def signed_in_citizen(web: WebClient, world) -> str:
    """Open the citizen's personal link; the CSRF token of their session."""
    await web.open_link(world.a.citizen.link_token)
    return await web.csrf_from("/me")


async def post_offer(web: WebClient, token: str, **kw):
    return await web.client.post(OFFER_URL, headers={"X-CSRF-Token": token, **kw.pop("headers", {})}, **kw)


async def test_the_citizen_sees_their_own_video_come_back(web, world, app):
    token = await signed_in_citizen(web, world)
    page = await web.client.get("/connection-test")
    assert page.status == 200 and "connection_test.js" in await page.text()
    client = EchoClient()
    try:
        response = await post_offer(web, token, json={"sdp": await client.offer()})
        assert response.status == 200, await response.text()
        answer = (await response.json())["sdp"]
        assert "a=candidate:" in answer  # non-trickle: the answer carries the server's candidates
        await client.answer(answer)
        assert await client.frames_back(3) >= 3
        assert client.kinds == ["video"]
        assert len(app[ECHO_PEERS].peers) == 1
    finally:
        await client.close()


async def test_more_testers_than_allowed_are_told_to_wait(web, world, app):
    token = await signed_in_citizen(web, world)
    app[ECHO_PEERS].max_peers = 2
    clients = [EchoClient() for _ in range(3)]
    try:
        for client in clients[:2]:
            response = await post_offer(web, token, json={"sdp": await client.offer()})
            assert response.status == 200
            await client.answer((await response.json())["sdp"])
        busy = await post_offer(web, token, json={"sdp": await clients[2].offer()})
        assert busy.status == 503
        body = await busy.json()
        assert body["error"] == 503 and body["message"]
        assert len(app[ECHO_PEERS].peers) == 2
        for client in clients[:2]:
            assert await client.frames_back(3) >= 3
    finally:
        for client in clients:
            await client.close()


async def test_an_anonymous_visitor_gets_401_in_json(web, world):
    token = await web.csrf_from("/login")  # a valid CSRF token, but nobody is signed in
    client = EchoClient()
    try:
        response = await post_offer(web, token, json={"sdp": await client.offer()})
        assert response.status == 401 and (await response.json())["error"] == 401
        page = await web.get("/connection-test")
        assert page.status == 303 and page.headers["Location"].endswith("/login")
    finally:
        await client.close()


async def test_malformed_offers_are_refused_in_json_and_the_server_keeps_working(web, world, app):
    token = await signed_in_citizen(web, world)
    bad = [
        {"data": b"not json", "headers": {"Content-Type": "application/json"}},
        {"data": b"[1, 2]", "headers": {"Content-Type": "application/json"}},
        {"json": {}},
        {"json": {"sdp": 42}},
        {"json": {"sdp": None}},
        {"json": {"sdp": "v=0\r\n", "extra": 1}},
        {"json": {"sdp": "nonsense that is not an SDP"}},
        {"json": {"sdp": "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n"}},
        {"json": {"sdp": "x" * (70 * 1024)}},
        {"data": b'{"sdp": "' + b"x" * (300 * 1024) + b'"}', "headers": {"Content-Type": "application/json"}},
        {"data": "sdp=v%3D0", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    ]
    for kw in bad:
        response = await post_offer(web, token, **kw)
        assert 400 <= response.status < 500, (str(kw)[:80], response.status)
        assert "error" in await response.json()
    assert not app[ECHO_PEERS].peers  # nothing was left running by a refused offer

    client = EchoClient()
    try:
        response = await post_offer(web, token, json={"sdp": await client.offer()})
        assert response.status == 200
        await client.answer((await response.json())["sdp"])
        assert await client.frames_back(3) >= 3
    finally:
        await client.close()


async def test_closing_the_echo_peers_closes_every_peer():
    peers = EchoPeers(max_peers=3)
    clients = [EchoClient() for _ in range(2)]
    try:
        for client in clients:
            await client.answer(await peers.answer(await client.offer(), []))
            assert await client.frames_back(1) >= 1
        servers = list(peers.peers)
        assert len(servers) == 2
        await peers.close()
        assert not peers.peers
        assert all(pc.connectionState == "closed" for pc in servers)
    finally:
        for client in clients:
            await client.close()


async def test_an_echo_peer_is_closed_after_its_time_limit():
    peers = EchoPeers(max_seconds=0.5)
    client = EchoClient()
    try:
        await client.answer(await peers.answer(await client.offer(), []))
        server = next(iter(peers.peers))
        async with asyncio.timeout(5):  # taken off the list at once, closed a moment later
            while peers.peers or server.connectionState != "closed":
                await asyncio.sleep(0.05)
    finally:
        await client.close()
        await peers.close()
