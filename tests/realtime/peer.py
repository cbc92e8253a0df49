"""A call participant for tests: speaks the signalling protocol over an aiohttp WebSocket and drives one real
aiortc RTCPeerConnection per other participant (a mesh), sending a test video track and counting the frames
it receives. ICE candidates travel as separate "candidate" messages, as a browser trickles them."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from typing import Any

import aiohttp
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import candidate_from_sdp

TIMEOUT = 10.0


def split_candidates(sdp: str) -> tuple[str, list[dict]]:
    """The SDP without its candidates, and the candidates as a browser's RTCIceCandidateInit."""
    sections: list[list[str]] = [[]]
    for line in sdp.splitlines():
        if line.startswith("m="):
            sections.append([])
        sections[-1].append(line)
    kept, candidates = [], []
    for index, lines in enumerate(sections):
        mid = next((line[6:] for line in lines if line.startswith("a=mid:")), None)
        for line in lines:
            if line.startswith("a=candidate:"):
                candidates.append({"candidate": line[2:], "sdpMid": mid, "sdpMLineIndex": index - 1})
            elif line != "a=end-of-candidates":
                kept.append(line)
    return "\r\n".join(kept) + "\r\n", candidates


class Peer:
    """One participant: a WebSocket to the signalling server, and media to every other admitted participant."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: Any,
        *,
        media: bool = True,
        headers: dict | None = None,
        configuration: RTCConfiguration | None = None,
    ) -> None:
        self.session, self.url, self.media, self.headers = session, url, media, headers or {}
        # No ICE servers by default: aiortc would otherwise fall back to a public STUN server.
        self.configuration = configuration or RTCConfiguration(iceServers=[])
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.messages: list[dict] = []  # everything received on every socket, in order
        self.inbox: list[dict] = []  # received and not yet taken by expect()
        self.me: dict = {}
        self.resume_token = ""
        self.pcs: dict[str, RTCPeerConnection] = {}
        self.frames: dict[str, int] = defaultdict(int)  # video frames received, by sender
        self.close_code: int | None = None
        self.errors: list[Exception] = []  # failures handling media signalling
        self._arrived = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        self._reader: asyncio.Task | None = None

    # -- the socket ------------------------------------------------------------------------------------------
    async def connect(self) -> None:
        self.close_code = None
        self.ws = await self.session.ws_connect(
            self.url, headers=self.headers, timeout=aiohttp.ClientWSTimeout(ws_close=2.0), max_msg_size=0
        )
        self._reader = asyncio.create_task(self._read(self.ws))

    async def join(self, ticket: str) -> dict:
        await self.connect()
        await self.send(type="join", ticket=ticket)
        return await self._joined()

    async def resume(self) -> dict:
        await self.connect()
        await self.send(type="resume", token=self.resume_token)
        return await self._joined()

    async def _joined(self) -> dict:
        joined = await self.expect("joined")
        self.me, self.resume_token = joined["self"], joined["resume"]
        return joined

    async def send(self, **message: Any) -> None:
        assert self.ws is not None
        await self.ws.send_str(json.dumps(message))

    async def send_raw(self, text: str) -> None:
        assert self.ws is not None
        await self.ws.send_str(text)

    def drop(self) -> None:
        """Lose the connection abruptly, as a phone switching networks does: no close frame."""
        assert self.ws is not None
        self.ws._response.connection.transport.abort()  # noqa: SLF001 - there is no public way to do this

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type is not aiohttp.WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            self.messages.append(message)
            self.inbox.append(message)
            self._arrived.set()
            if self.media and message["type"] in ("offer", "answer", "candidate"):
                try:
                    await self._on_signal(message)
                except Exception as exc:  # noqa: BLE001 - kept for the test to see, the socket keeps reading
                    self.errors.append(exc)
        self.close_code = ws.close_code
        self._arrived.set()

    async def expect(self, kind: str, timeout: float = TIMEOUT, **fields: Any) -> dict:
        """The first message of ``kind`` (with ``fields``) not yet taken; waits for it. Fails (AssertionError)
        when it does not come in time or the socket closes first."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    for message in self.inbox:
                        if message["type"] == kind and all(message.get(k) == v for k, v in fields.items()):
                            self.inbox.remove(message)
                            return message
                    if self._reader is None or self._reader.done():
                        break
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            pass
        raise AssertionError(
            f"expected {kind} {fields or ''}; socket closed with {self.close_code}, "
            f"not taken: {[m['type'] for m in self.inbox]}"
        )

    async def closed(self, timeout: float = TIMEOUT) -> int | None:
        """Wait until the server closes the socket; its close code."""
        assert self._reader is not None
        async with asyncio.timeout(timeout):
            await asyncio.shield(self._reader)
        return self.close_code

    def saw(self, kind: str, **fields: Any) -> bool:
        return any(m["type"] == kind and all(m.get(k) == v for k, v in fields.items()) for m in self.messages)

    async def ping(self, timeout: float = TIMEOUT) -> None:
        """A ping/pong round trip through the server."""
        await self.send(type="ping", ts=123.5)
        await self.expect("pong", timeout=timeout, ts=123.5)

    # -- media ---------------------------------------------------------------------------------------------
    async def call(self, pid: str) -> None:
        """Send an offer (and trickled candidates) to ``pid``."""
        pc = await self._new_pc(pid)
        await pc.setLocalDescription(await pc.createOffer())
        await self._describe("offer", pid, pc)

    async def _new_pc(self, pid: str) -> RTCPeerConnection:
        if (old := self.pcs.pop(pid, None)) is not None:
            await old.close()
        pc = RTCPeerConnection(self.configuration)
        pc.addTrack(VideoStreamTrack())

        @pc.on("track")
        def on_track(track) -> None:
            task = asyncio.create_task(self._count_frames(pid, track))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

        self.pcs[pid] = pc
        return pc

    async def _count_frames(self, pid: str, track) -> None:
        try:
            while True:
                await track.recv()
                self.frames[pid] += 1
        except MediaStreamError:
            pass

    async def _describe(self, kind: str, pid: str, pc: RTCPeerConnection) -> None:
        sdp, candidates = split_candidates(pc.localDescription.sdp)
        await self.send(type=kind, to=pid, sdp=sdp)
        for candidate in candidates:
            await self.send(type="candidate", to=pid, candidate=candidate)
        await self.send(type="candidate", to=pid, candidate=None)

    async def _on_signal(self, message: dict) -> None:
        pid = message["from"]
        if message["type"] == "offer":
            pc = await self._new_pc(pid)
            await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="offer"))
            await pc.setLocalDescription(await pc.createAnswer())
            await self._describe("answer", pid, pc)
        elif message["type"] == "answer":
            await self.pcs[pid].setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="answer"))
        elif (init := message["candidate"]) is None:
            await self.pcs[pid].addIceCandidate(None)
        else:
            candidate = candidate_from_sdp(init["candidate"].removeprefix("candidate:"))
            candidate.sdpMid, candidate.sdpMLineIndex = init["sdpMid"], init["sdpMLineIndex"]
            await self.pcs[pid].addIceCandidate(candidate)

    async def connected(self, pid: str, timeout: float = TIMEOUT) -> None:
        async with asyncio.timeout(timeout):
            while pid not in self.pcs or self.pcs[pid].connectionState != "connected":
                await asyncio.sleep(0.01)

    async def frames_from(self, pid: str, count: int = 3, timeout: float = TIMEOUT) -> int:
        """Wait until at least ``count`` more video frames arrived from ``pid``; the total."""
        target = self.frames[pid] + count
        async with asyncio.timeout(timeout):
            while self.frames[pid] < target:
                await asyncio.sleep(0.01)
        return self.frames[pid]

    async def close(self) -> None:
        for pc in self.pcs.values():
            await pc.close()
        for task in list(self._tasks):
            task.cancel()
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self._reader is not None:
            self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)
