"""Echo peers for the connection test: a server-side aiortc peer that sends a browser's own camera and
microphone back to it, so a person sees themselves through the real network path before a call.

Non-trickle: the answer is returned once ICE gathering is complete. Peers are few (``max_peers``), short-lived
(``max_seconds``) and all closed by ``close()``."""

from __future__ import annotations

import asyncio
import logging

from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.contrib.media import MediaRelay

log = logging.getLogger(__name__)


class Busy(Exception):
    """As many echo peers as allowed are already running; try again shortly."""


def _configuration(ice_servers: list[dict]) -> RTCConfiguration:
    # An explicit list, even when empty: given none, aiortc would fall back to a public STUN server.
    servers = [
        RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential")) for s in ice_servers
    ]
    return RTCConfiguration(iceServers=servers)


class EchoPeers:
    """The running echo peers, at most ``max_peers`` at once, each closed after ``max_seconds``."""

    def __init__(self, *, max_peers: int = 4, max_seconds: float = 120.0) -> None:
        self.max_peers, self.max_seconds = max_peers, max_seconds
        self.peers: set[RTCPeerConnection] = set()
        self._timers: dict[RTCPeerConnection, asyncio.TimerHandle] = {}
        self._closing: set[asyncio.Task] = set()
        self._relay = MediaRelay()

    async def answer(self, offer_sdp: str, ice_servers: list[dict]) -> str:
        """The answer SDP (with all candidates) to ``offer_sdp``; every received track is sent back.
        Raises ``Busy`` when ``max_peers`` are running, ``ValueError`` for an SDP aiortc cannot use."""
        if len(self.peers) >= self.max_peers:
            raise Busy()
        pc = RTCPeerConnection(_configuration(ice_servers))
        self.peers.add(pc)  # counted before the first await, so concurrent offers cannot exceed the limit
        self._timers[pc] = asyncio.get_running_loop().call_later(self.max_seconds, self._close_soon, pc)

        @pc.on("track")
        def on_track(track) -> None:
            pc.addTrack(self._relay.subscribe(track))

        @pc.on("connectionstatechange")
        def on_state() -> None:
            if pc.connectionState in ("failed", "closed"):
                self._close_soon(pc)

        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            if not pc.getTransceivers():
                raise ValueError("the offer has no audio or video")
            await pc.setLocalDescription(await pc.createAnswer())  # returns once ICE gathering is complete
        except Exception as exc:
            await self._close(pc)
            # aiortc raises assorted errors for an SDP it cannot parse or use; to the caller it is one thing.
            raise ValueError("the offer cannot be answered") from exc
        return pc.localDescription.sdp

    def _close_soon(self, pc: RTCPeerConnection) -> None:
        if pc not in self.peers:
            return
        task = asyncio.get_running_loop().create_task(self._close(pc))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, pc: RTCPeerConnection) -> None:
        self.peers.discard(pc)
        timer = self._timers.pop(pc, None)
        if timer is not None:
            timer.cancel()
        try:
            await pc.close()
        except Exception as exc:  # noqa: BLE001 - closing regardless
            log.warning("echo peer closed with %s", type(exc).__name__)

    async def close(self) -> None:
        """Close every echo peer (on shutdown)."""
        await asyncio.gather(*(self._close(pc) for pc in list(self.peers)), return_exceptions=True)
        await asyncio.gather(*list(self._closing), return_exceptions=True)
