"""How a call ended, with real aiortc peers through the application (vbostotte/calls/endings.py): the citizen's
connection drops and she comes back — within the grace period, or after it through the waiting room — and the
worker then ends the call: the session log says the worker ended it and the statistics count no failed connection.
A connection lost for good (nobody back) is one."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from sqlalchemy import select

from vbostotte.models import CallEvent
from vbostotte.review import statistics
from vbostotte.web.keys import SIGNALING

from realtime.peer import Peer
from support import WebClient, call_ticket, reread, text_of

GRACE_SECONDS = 1.0  # the grace period kept for a dropped participant (30 s in the app; shorter here)


def peer(web: WebClient, media: bool) -> Peer:
    return Peer(web.client.session, web.client.make_url("/ws/calls"), media=media)


@pytest.fixture
def call_time(world, clock, web, other_web, supervisor_web):
    """Ten minutes before the citizen's video session; the app's signalling server keeps a dropped participant's
    place for GRACE_SECONDS (its grace timers run on the wall clock, so the test waits them out for real). Every
    client started the app, so the server is the last one made: set after all three."""
    clock.advance(days=1, minutes=-10)
    server = web.client.app[SIGNALING]
    server.limits = dataclasses.replace(server.limits, grace_seconds=GRACE_SECONDS)
    return world


@pytest.fixture
async def supervisor_web(aiohttp_client, app, clock) -> WebClient:
    return WebClient(await aiohttp_client(app), clock)


async def logged(db, appointment_id: int, until: str) -> list[CallEvent]:
    """The call's events in the session log, once ``until`` has arrived (they are written a moment later)."""
    for _ in range(100):
        await reread(db)
        events = list(
            (
                await db.execute(
                    select(CallEvent).where(CallEvent.appointment_id == appointment_id).order_by(CallEvent.id)
                )
            ).scalars()
        )
        if any(e.event == until for e in events):
            return events
        await asyncio.sleep(0.1)
    raise AssertionError(f"no {until!r} in {[(e.participant, e.event) for e in events]}")


async def failed_calls(db, world, clock) -> tuple[int, int]:
    await reread(db)
    day = clock().date()
    scope = statistics.Scope(world.a.id, (world.a.team_id,), world.a.worker.id)
    video = (await statistics.compute(db, scope, statistics.Period(day, day))).video
    return video.failed, video.with_call


async def how_it_ended(web: WebClient, world, appointment_id: int) -> str:
    """What the supervisor's session log says under "Sådan sluttede den"."""
    await web.login(world.a.supervisor)
    page = text_of(await web.page(f"/supervisor/appointments/{appointment_id}/log"))
    return page.split("Sådan sluttede den", 1)[1][:60]


async def meet(web, other_web, world, media: bool) -> tuple[int, str, Peer, Peer]:
    """The worker opens the citizen's video session's call, the citizen waits and is let in: the appointment's id,
    her participant id, the worker's peer and hers."""
    appointment_id, pid = world.a.citizen.appointment_id, f"citizen-{world.a.citizen.id}"
    await web.login(world.a.worker)
    await other_web.open_link(world.a.citizen.link_token)
    worker, citizen = peer(web, media), peer(other_web, media)
    await worker.join(await call_ticket(web, appointment_id, "/worker"))
    assert (await citizen.join(await call_ticket(other_web, appointment_id, "/me")))["state"] == "waiting"
    await worker.expect("waiting")
    await worker.send(type="admit", participant=pid)
    await citizen.expect("admitted")
    await worker.expect("participant_joined")
    return appointment_id, pid, worker, citizen


async def test_she_closes_her_browser_comes_back_later_and_the_worker_ends_the_call(
    call_time, web, other_web, supervisor_web, db, clock, loopback_ice
):
    world = call_time
    appointment_id, pid, worker, citizen = await meet(web, other_web, world, media=True)
    back = peer(other_web, media=True)
    try:
        await worker.call(pid)
        await worker.connected(pid)
        assert await worker.frames_from(pid) >= 3
        citizen.drop()  # the browser is closed: no goodbye
        await worker.expect("participant_reconnecting", participant=pid)
        # Nobody came back within the grace period: the others are told she left.
        await worker.expect("participant_left", participant=pid, reason="network_lost")

        # She opens her page again, gets a new ticket and waits; the worker lets her in; they talk; he ends it.
        assert (await back.join(await call_ticket(other_web, appointment_id, "/me")))["state"] == "waiting"
        await worker.expect("waiting")
        await worker.send(type="admit", participant=pid)
        await back.expect("admitted")
        await worker.call(pid)
        await worker.connected(pid)
        assert await back.frames_from(f"staff-{world.a.worker.id}") >= 3
        await worker.send(type="end")
        await back.expect("ended")
    finally:
        for p in (worker, citizen, back):
            await p.close()

    events = await logged(db, appointment_id, "ended")
    kinds = [(e.participant.split("-")[0], e.event, e.details.get("reason")) for e in events]
    assert ("citizen", "left", "network_lost") in kinds and ("staff", "ended", None) in kinds
    ended = await how_it_ended(supervisor_web, world, appointment_id)
    assert "Medarbejderen afsluttede samtalen" in ended and "Forbindelsen blev afbrudt" not in ended
    assert await failed_calls(db, world, clock) == (0, 1)


async def test_a_drop_healed_within_the_grace_period_is_no_failure(
    call_time, web, other_web, supervisor_web, db, clock, loopback_ice
):
    world = call_time
    appointment_id, pid, worker, citizen = await meet(web, other_web, world, media=False)
    try:
        citizen.drop()  # the phone changes networks
        await worker.expect("participant_reconnecting", participant=pid)
        await citizen.resume()
        await worker.expect("participant_reconnected", participant=pid)
        await worker.send(type="end")
        await citizen.expect("ended")
    finally:
        await worker.close()
        await citizen.close()
    events = await logged(db, appointment_id, "ended")
    assert [e.event for e in events if e.participant == pid][-2:] == ["reconnected", "left"]
    assert "Medarbejderen afsluttede samtalen" in await how_it_ended(supervisor_web, world, appointment_id)
    assert await failed_calls(db, world, clock) == (0, 1)


async def test_a_connection_lost_for_good_is_a_failed_call(
    call_time, web, other_web, supervisor_web, db, clock, loopback_ice
):
    world = call_time
    appointment_id, pid, worker, citizen = await meet(web, other_web, world, media=False)
    try:
        citizen.drop()
        await worker.expect("participant_reconnecting", participant=pid)
        await worker.expect("participant_left", participant=pid, reason="network_lost")
        clock.advance(minutes=2)  # the worker waits a while, then leaves
        await worker.send(type="leave")
        assert await worker.closed() == 1000
    finally:
        await worker.close()
        await citizen.close()
    await logged(db, appointment_id, "left")
    for _ in range(50):  # the worker's own "left" comes a moment after the citizen's
        events = await logged(db, appointment_id, "left")
        if sum(e.event == "left" for e in events) == 2:
            break
        await asyncio.sleep(0.1)
    assert "Forbindelsen blev afbrudt" in await how_it_ended(supervisor_web, world, appointment_id)
    assert await failed_calls(db, world, clock) == (1, 1)
