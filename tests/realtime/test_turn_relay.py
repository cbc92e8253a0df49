"""Calls through a real TURN server (coturn with use-auth-secret): the credentials the app hands out work,
and a citizen whose calls must go through the relay offers relay candidates only."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import shutil
import socket
import struct
import subprocess
import time

import pytest
from aiortc import RTCConfiguration, RTCIceServer
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from vbostotte.app import create_app
from vbostotte.models import Citizen

from realtime.peer import Peer
from support import Clock, WebClient, free_port, require

SECRET = "turn-test-secret-not-for-production"


@pytest.fixture
async def turn_url():
    """A real coturn on 127.0.0.1, loopback peers allowed (for this test only: production denies them)."""
    binary = shutil.which("turnserver")
    require(binary is not None, "coturn (turnserver)")
    port = free_port()
    server = subprocess.Popen(
        [
            binary,
            "-n",
            "--listening-ip=127.0.0.1",
            "--relay-ip=127.0.0.1",
            f"--listening-port={port}",
            "--min-port=49160",
            "--max-port=49260",
            "--use-auth-secret",
            f"--static-auth-secret={SECRET}",
            "--realm=vbostotte.test",
            "--no-tls",
            "--no-dtls",
            "--fingerprint",
            "--allow-loopback-peers",
            "--no-multicast-peers",
            "--no-cli",
            "--log-file=stdout",
            "--simple-log",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        await answers_stun(server, port)
        yield f"turn:127.0.0.1:{port}?transport=udp"
    finally:
        server.terminate()
        server.wait(timeout=10)


async def answers_stun(server: subprocess.Popen, port: int, timeout: float = 10.0) -> None:
    """Wait until the turnserver answers a STUN Binding request on its port (it is then ready for the test)."""
    request = struct.pack("!HHI", 0x0001, 0, 0x2112A442) + os.urandom(12)  # Binding, no attributes, magic cookie
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.setblocking(False)
        probe.connect(("127.0.0.1", port))
        try:
            async with asyncio.timeout(timeout):
                while True:
                    assert server.poll() is None, "turnserver exited"
                    try:
                        probe.send(request)
                        answer = await asyncio.wait_for(loop.sock_recv(probe, 2048), 0.2)
                    except (TimeoutError, ConnectionRefusedError):  # not listening yet
                        await asyncio.sleep(0.02)
                        continue
                    if answer[8:20] == request[8:20]:  # the answer to this request (its transaction id)
                        return
        except TimeoutError:
            raise AssertionError(f"turnserver did not answer STUN on port {port} in {timeout} s") from None


@pytest.fixture(params=[0, 365, -365], ids=["clock-today", "clock-a-year-ahead", "clock-a-year-behind"])
def clock(request):
    """The app's clock on the Monday of a week near, a year after or a year before the real date: coturn checks
    the credentials against the real time, so the call must connect whatever the app's clock says."""
    return Clock.monday_of(dt.date.today() + dt.timedelta(days=request.param))


def configuration(setup: dict) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=s["urls"], username=s.get("username"), credential=s.get("credential"))
            for s in setup["ice_servers"]
        ],
        iceTransportPolicy=RTCIceTransportPolicy(setup["ice_transport_policy"]),
    )


async def test_a_relay_only_citizen_connects_through_turn_with_relay_candidates_only(
    turn_url, settings, clock, world, db, aiohttp_client, loopback_ice
):
    citizen_row = await db.get(Citizen, world.a.citizen.id)
    citizen_row.force_relay = True
    await db.commit()
    app = create_app(dataclasses.replace(settings, turn_urls=turn_url, turn_secret=SECRET), clock=clock)
    worker_web, citizen_web = WebClient(await aiohttp_client(app), clock), WebClient(await aiohttp_client(app), clock)
    clock.advance(days=1, minutes=-10)
    await worker_web.login(world.a.worker)
    await citizen_web.open_link(world.a.citizen.link_token)
    appointment = world.a.citizen.appointment_id
    setups = []
    for web, page in ((worker_web, "/worker"), (citizen_web, "/me")):
        response = await web.client.post(
            f"/calls/{appointment}/ticket", headers={"X-CSRF-Token": await web.csrf_from(page)}
        )
        setups.append(await response.json())
    worker_setup, citizen_setup = setups
    assert citizen_setup["ice_transport_policy"] == "relay" and worker_setup["ice_transport_policy"] == "all"
    username = citizen_setup["ice_servers"][0]["username"]
    expiry = int(username.split(":")[0])  # made with the real time, not the app's clock; no name or id of the citizen
    assert time.time() < expiry <= time.time() + settings.turn_ttl_seconds
    assert str(world.a.citizen.id) != username.split(":")[1] and "citizen" not in username

    worker = Peer(
        worker_web.client.session, worker_web.client.make_url("/ws/calls"), configuration=configuration(worker_setup)
    )
    citizen = Peer(
        citizen_web.client.session, citizen_web.client.make_url("/ws/calls"), configuration=configuration(citizen_setup)
    )
    citizen_id, worker_id = f"citizen-{world.a.citizen.id}", f"staff-{world.a.worker.id}"
    try:
        await worker.join(worker_setup["ticket"])
        await citizen.join(citizen_setup["ticket"])
        await worker.send(type="admit", participant=citizen_id)
        await citizen.expect("admitted")
        await citizen.call(worker_id)  # the newly admitted participant offers
        await citizen.connected(worker_id, timeout=15)
        offer = citizen.pcs[worker_id].localDescription.sdp
        assert "typ relay" in offer and "typ host" not in offer and "typ srflx" not in offer
        assert await worker.frames_from(citizen_id) >= 3
    finally:
        await worker.close()
        await citizen.close()


async def test_a_wrong_turn_secret_gives_no_relay_candidates(turn_url, loopback_ice):
    """Proves the check above can fail: credentials from another secret are refused by coturn."""
    from aiortc import RTCPeerConnection, VideoStreamTrack

    from signaling.ice import ice_servers

    wrong = ice_servers([], [turn_url], "not-the-secret", "x1", 600)[0]
    pc = RTCPeerConnection(
        RTCConfiguration(iceServers=[RTCIceServer(**wrong)], iceTransportPolicy=RTCIceTransportPolicy.RELAY)
    )
    pc.addTrack(VideoStreamTrack())
    try:
        await pc.setLocalDescription(await pc.createOffer())
        assert "typ relay" not in pc.localDescription.sdp
    finally:
        await pc.close()
