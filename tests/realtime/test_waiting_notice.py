"""The worker always knows (issue 12): when the citizen (or a guest) enters the waiting room of one of the worker's
calls, /worker/waiting — which every staff page of the worker asks every few seconds — names them for that worker
and nobody else, audited once per arrival; and it reads the signalling rooms from the broker, so with Redis a
citizen who joined through one process is seen by a worker asking another."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid

import pytest
import redis.asyncio as redis
from sqlalchemy import select

from vbostotte.app import create_app
from vbostotte.calls import waiting
from vbostotte.models import AuditEntry

from realtime.peer import Peer
from support import WebClient, call_ticket, port_open, require, reread

REDIS_URL = "redis://127.0.0.1:6379/0"
JSON = {"Accept": "application/json"}


async def waiting_for(web: WebClient) -> list[dict]:
    response = await web.client.get("/worker/waiting", headers=JSON)
    assert response.status == 200, await response.text()
    return (await response.json())["waiting"]


@pytest.fixture
async def other_worker_web(aiohttp_client, app, clock) -> WebClient:
    """A third browser, made before anyone joins a call (a client made later would start the app again, with a
    signalling server of its own)."""
    return WebClient(await aiohttp_client(app), clock)


async def audit_entries(db, worker_id: int) -> list[AuditEntry]:
    await reread(db)
    return list(
        await db.scalars(
            select(AuditEntry).where(AuditEntry.action == waiting.ACTION, AuditEntry.actor_id == worker_id)
        )
    )


async def test_the_worker_sees_who_waits_and_no_other_worker_does(
    world, clock, web, other_web, other_worker_web, db, loopback_ice
):
    clock.advance(days=1, minutes=-10)  # ten minutes before the citizen's video session: the call is open
    appointment_id, citizen_pid = world.a.citizen.appointment_id, f"citizen-{world.a.citizen.id}"
    await web.login(world.a.worker)
    await other_worker_web.login(world.a.other_worker)
    await other_web.open_link(world.a.citizen.link_token)
    assert await waiting_for(web) == []  # the room is open and empty

    citizen = Peer(other_web.client.session, other_web.client.make_url("/ws/calls"), media=False)
    worker = Peer(web.client.session, web.client.make_url("/ws/calls"), media=False)
    try:
        assert (await citizen.join(await call_ticket(other_web, appointment_id, "/me")))["state"] == "waiting"
        assert await waiting_for(web) == [
            {
                "appointment": appointment_id,
                "participant": citizen_pid,
                "name": world.a.citizen.preferred_name,
                "citizen": True,
                "waited_seconds": 0,
                "url": f"/calls/{appointment_id}",
            }
        ]
        await asyncio.sleep(1.1)  # how long is measured on the wall clock, the one signalling stamps places with
        assert [w["waited_seconds"] for w in await waiting_for(web)] == [1]
        # Another worker of the same team sees nothing of it; the citizen may not ask at all.
        assert await waiting_for(other_worker_web) == []
        assert (await other_web.client.get("/worker/waiting", headers=JSON)).status == 403

        # Naming the waiting citizen is audited: once for this arrival, however often the page asks.
        entries = await audit_entries(db, world.a.worker.id)
        assert [(e.citizen_id, e.object_type, e.object_id, e.purpose) for e in entries] == [
            (world.a.citizen.id, "appointment", appointment_id, "support")
        ]
        assert await audit_entries(db, world.a.other_worker.id) == []

        # The worker comes into the call (a host is never "waiting") and lets the citizen in: nobody waits now.
        await worker.join(await call_ticket(web, appointment_id, "/worker"))
        assert [w["participant"] for w in await waiting_for(web)] == [citizen_pid]
        await worker.send(type="admit", participant=citizen_pid)
        await citizen.expect("admitted")
        assert await waiting_for(web) == []
    finally:
        await citizen.close()
        await worker.close()


async def test_a_citizen_who_waits_again_is_audited_again(world, clock, web, other_web, db, loopback_ice):
    clock.advance(days=1, minutes=-10)
    appointment_id = world.a.citizen.appointment_id
    await web.login(world.a.worker)
    await other_web.open_link(world.a.citizen.link_token)
    for attempt in range(2):
        citizen = Peer(other_web.client.session, other_web.client.make_url("/ws/calls"), media=False)
        try:
            await citizen.join(await call_ticket(other_web, appointment_id, "/me"))
            assert len(await waiting_for(web)) == 1
            assert len(await waiting_for(web)) == 1
            await citizen.send(type="leave")
            await citizen.closed()
        finally:
            await citizen.close()
        assert await waiting_for(web) == []
        assert len(await audit_entries(db, world.a.worker.id)) == attempt + 1
        clock.advance(minutes=1)


@pytest.fixture
async def redis_settings(settings):
    """The app's settings with Redis, under a key prefix of this test's own (its keys are deleted afterwards)."""
    require(port_open(REDIS_URL, 6379), f"Redis at {REDIS_URL}")
    prefix = f"vbtest:{uuid.uuid4().hex}"
    yield dataclasses.replace(settings, redis_url=REDIS_URL, redis_prefix=prefix)
    client = redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


async def test_a_citizen_waiting_on_one_process_is_seen_by_the_worker_on_another(
    world, clock, aiohttp_client, redis_settings, loopback_ice
):
    """Two applications, as two processes would be, sharing the database and one Redis: the citizen joins the
    waiting room through A, the worker's page asks B."""
    clock.advance(days=1, minutes=-10)
    appointment_id = world.a.citizen.appointment_id
    a = WebClient(await aiohttp_client(create_app(redis_settings, clock=clock)), clock)
    b = WebClient(await aiohttp_client(create_app(redis_settings, clock=clock)), clock)
    await b.login(world.a.worker)
    await a.open_link(world.a.citizen.link_token)
    citizen = Peer(a.client.session, a.client.make_url("/ws/calls"), media=False)
    try:
        await citizen.join(await call_ticket(a, appointment_id, "/me"))
        assert [(w["appointment"], w["name"]) for w in await waiting_for(b)] == [
            (appointment_id, world.a.citizen.preferred_name)
        ]
        await citizen.send(type="leave")
        await citizen.closed()
        assert await waiting_for(b) == []
    finally:
        await citizen.close()
