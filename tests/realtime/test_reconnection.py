"""A participant whose WebSocket drops keeps their place for the grace period: they resume with their token
(still admitted, media never stopped), or the others are told they left (network_lost). A second connection
for the same person replaces the first."""

from __future__ import annotations

import asyncio
import json

from signaling import Limits

from realtime.conftest import eventually


async def call_in_progress(signaling, *, media: bool = True):
    host = await signaling.joined("staff-3", role="host", media=media)
    citizen = await signaling.joined("citizen-7", media=media)
    await host.expect("waiting")
    await host.send(type="admit", participant="citizen-7")
    await citizen.expect("admitted")
    if media:
        await citizen.call("staff-3")
        await host.connected("citizen-7")
        await host.frames_from("citizen-7", 3)
    return host, citizen


async def test_a_dropped_socket_resumes_its_place_and_media_continues(signaling):
    host, citizen = await call_in_progress(signaling)
    old_token = citizen.resume_token

    citizen.drop()  # no close frame: the phone changed networks
    await host.expect("participant_reconnecting", participant="citizen-7")
    frames = host.frames["citizen-7"]
    joined = await citizen.resume()
    assert joined["self"] == {"id": "citizen-7", "name": "Citizen", "role": "guest"}
    assert joined["state"] == "admitted" and [p["id"] for p in joined["participants"]] == ["staff-3"]
    assert joined["resume"] != old_token
    await host.expect("participant_reconnected", participant="citizen-7")
    assert await host.frames_from("citizen-7", 5) > frames  # the media path never depended on the socket
    await citizen.frames_from("staff-3", 5)

    # Signalling works again on the new socket, in both directions.
    await host.send(type="chat", text="Er du der?")
    await citizen.expect("chat", text="Er du der?")
    await citizen.ping()
    assert ("reconnected", {}) in signaling.events_of("citizen-7")
    assert not any(event == "left" for event, _ in signaling.events_of("citizen-7"))


async def test_after_the_grace_period_the_others_see_the_participant_left(signaling):
    host, citizen = await call_in_progress(signaling, media=False)
    citizen.drop()
    await host.expect("participant_reconnecting", participant="citizen-7")
    await host.expect("participant_left", participant="citizen-7", reason="network_lost", timeout=5)
    assert ("left", {"reason": "network_lost"}) in signaling.events_of("citizen-7")
    await eventually(lambda: signaling.server.stats()["grace_periods"] == 0)

    late = signaling.peer(media=False)
    await late.connect()
    await late.send(type="resume", token=citizen.resume_token)
    assert (await late.expect("error"))["code"] == "resume_failed"
    assert await late.closed() == 4002


async def test_a_resume_token_works_once(signaling):
    host, citizen = await call_in_progress(signaling, media=False)
    used = citizen.resume_token
    citizen.drop()
    await citizen.resume()
    thief = signaling.peer(media=False)
    await thief.connect()
    await thief.send(type="resume", token=used)
    assert (await thief.expect("error"))["code"] == "resume_failed"
    await citizen.ping()


async def test_a_waiting_participant_resumes_still_waiting(signaling):
    host = await signaling.joined("staff-3", role="host", media=False)
    citizen = await signaling.joined("citizen-7", media=False)
    await host.expect("waiting")
    citizen.drop()
    await host.expect("participant_reconnecting", participant="citizen-7")
    joined = await citizen.resume()
    assert joined["state"] == "waiting" and joined["participants"] == []
    await host.expect("participant_reconnected", participant="citizen-7")
    await host.send(type="admit", participant="citizen-7")
    await citizen.expect("admitted")


async def test_a_second_connection_for_the_same_person_replaces_the_first(signaling):
    host, citizen = await call_in_progress(signaling, media=False)
    other_device = await signaling.joined("citizen-7", media=False)
    assert await citizen.closed() == 4004
    await host.expect("participant_left", participant="citizen-7", reason="replaced")
    await host.expect("participant_joined", participant={"id": "citizen-7", "name": "Citizen", "role": "guest"})
    await other_device.ping()
    await other_device.send(type="chat", text="Ny telefon")
    await host.expect("chat", text="Ny telefon")
    assert [e for e, _ in signaling.events_of("citizen-7")][-2:] == ["left", "joined"]
    await eventually(lambda: signaling.server.stats()["participants"] == 2)


async def test_a_socket_closed_by_the_client_without_leaving_can_resume(signaling):
    host, citizen = await call_in_progress(signaling, media=False)
    await citizen.ws.close()  # a page reload: a close frame, but no "leave"
    await host.expect("participant_reconnecting", participant="citizen-7")
    assert (await citizen.resume())["state"] == "admitted"
    await asyncio.sleep(signaling.server.limits.grace_seconds + 0.2)  # the grace period ran out meanwhile
    await citizen.ping()
    assert not host.saw("participant_left")


async def test_a_silent_dead_peer_is_found_by_the_heartbeat(start_signaling, session):
    signaling = await start_signaling(Limits(heartbeat_seconds=1.0, grace_seconds=5))
    host = await signaling.joined("staff-3", role="host", media=False)
    # A client whose network died: it joined, and from then on answers nothing, not even WebSocket pings.
    dead = await session.ws_connect(signaling.url, autoping=False)
    await dead.send_str(json.dumps({"type": "join", "ticket": signaling.ticket("citizen-7")}))
    await host.expect("waiting")
    await host.expect("participant_reconnecting", participant="citizen-7", timeout=5)  # ping at 1 s, no pong by 1.5 s
    await eventually(lambda: signaling.server.stats()["connections"] == 1)
    await dead.close()


async def test_a_quiet_client_that_answers_pings_stays_and_its_own_pings_are_answered(start_signaling, session):
    signaling = await start_signaling(Limits(heartbeat_seconds=0.4, grace_seconds=5))
    host = await signaling.joined("staff-3", role="host", media=False)
    # Says nothing for several of the server's heartbeats but answers its pings (aiohttp's autoping), and pings the
    # server itself (aiohttp's heartbeat closes the socket when no pong comes back).
    quiet = await session.ws_connect(signaling.url, heartbeat=0.3)
    await quiet.send_str(json.dumps({"type": "join", "ticket": signaling.ticket("citizen-7")}))
    await host.expect("waiting")
    await asyncio.sleep(2.0)
    await quiet.send_str(json.dumps({"type": "ping", "ts": 1}))
    while (reply := json.loads((await quiet.receive(timeout=5)).data))["type"] != "pong":
        pass
    assert reply["ts"] == 1 and not quiet.closed
    assert not host.saw("participant_reconnecting")
    assert signaling.server.stats()["connections"] == 2
    await quiet.close()
