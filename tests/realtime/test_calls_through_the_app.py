"""A call through the real application: the worker and the citizen get join tickets from their own
sessions, two real aiortc peers meet in the appointment's room via the waiting room, video flows, and
the call's events land in the session log (pre-filling attendance)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from vbostotte.models import Appointment, CallEvent

from realtime.peer import Peer
from support import WebClient, reread


async def ticket_for(web: WebClient, appointment_id: int, page: str):
    token = await web.csrf_from(page)
    return await web.client.post(f"/calls/{appointment_id}/ticket", headers={"X-CSRF-Token": token})


@pytest.fixture
def call_time(world, clock):
    clock.advance(days=1, minutes=-10)  # ten minutes before the citizen's video session
    return world


async def test_worker_and_citizen_meet_through_the_waiting_room(call_time, web, other_web, db, loopback_ice):
    world = call_time
    appointment_id = world.a.citizen.appointment_id
    await web.login(world.a.worker)
    await other_web.open_link(world.a.citizen.link_token)
    worker_ticket = await (await ticket_for(web, appointment_id, "/worker")).json()
    citizen_ticket = await (await ticket_for(other_web, appointment_id, "/me")).json()
    assert worker_ticket["socket"] == "/ws/calls"

    worker = Peer(web.client.session, web.client.make_url("/ws/calls"))
    citizen = Peer(other_web.client.session, other_web.client.make_url("/ws/calls"))
    try:
        host = await worker.join(worker_ticket["ticket"])
        assert host["self"] == {"id": f"staff-{world.a.worker.id}", "name": "Worker", "role": "host"}
        guest = await citizen.join(citizen_ticket["ticket"])
        assert guest["state"] == "waiting"
        await worker.expect("waiting")
        await worker.send(type="admit", participant=f"citizen-{world.a.citizen.id}")
        await citizen.expect("admitted")
        await worker.expect("participant_joined")
        await worker.call(f"citizen-{world.a.citizen.id}")
        await worker.connected(f"citizen-{world.a.citizen.id}")
        assert await worker.frames_from(f"citizen-{world.a.citizen.id}") >= 3
        assert await citizen.frames_from(f"staff-{world.a.worker.id}") >= 3
        await citizen.send(type="leave")
        await worker.expect("participant_left")
    finally:
        await worker.close()
        await citizen.close()

    async def logged() -> list[tuple[str, str]]:
        await reread(db)
        events = (
            await db.execute(
                select(CallEvent.participant, CallEvent.event)
                .where(CallEvent.appointment_id == appointment_id)
                .order_by(CallEvent.id)
            )
        ).all()
        return [(p.split("-")[0], e) for p, e in events]

    # Events reach the session log asynchronously (signalling never waits for the database): poll briefly.
    for _ in range(50):
        kinds = await logged()
        if ("citizen", "left") in kinds:
            break
        await asyncio.sleep(0.1)
    for expected in [("staff", "joined"), ("citizen", "waiting"), ("citizen", "admitted"), ("citizen", "left")]:
        assert expected in kinds, kinds
    assert (await db.get(Appointment, appointment_id)).attendance == "attended"


async def test_a_ticket_is_refused_when_replayed_or_for_someone_elses_call(call_time, web, other_web, loopback_ice):
    world = call_time
    await web.login(world.a.worker)
    ticket = (await (await ticket_for(web, world.a.citizen.appointment_id, "/worker")).json())["ticket"]
    first = Peer(web.client.session, web.client.make_url("/ws/calls"), media=False)
    replay = Peer(web.client.session, web.client.make_url("/ws/calls"), media=False)
    try:
        await first.join(ticket)
        await replay.connect()
        await replay.send(type="join", ticket=ticket)
        refused = await replay.expect("error")
        assert refused["code"] == "unauthorized"
        assert await replay.closed() == 4001
    finally:
        await first.close()
        await replay.close()
    # Another worker's appointment, and one before its room opens, give no ticket at all.
    assert (await ticket_for(web, world.a.other_citizen.appointment_id, "/worker")).status == 404
    await other_web.open_link(world.a.other_citizen.link_token)
    assert (await ticket_for(other_web, world.a.citizen.appointment_id, "/me")).status == 404


async def test_a_foreign_origin_is_refused_before_the_upgrade(call_time, web):
    response = await web.client.get(
        "/ws/calls",
        headers={
            "Origin": "https://evil.example",
            "Connection": "Upgrade",
            "Upgrade": "websocket",
            "Sec-WebSocket-Version": "13",
            "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
        },
    )
    assert response.status == 403
