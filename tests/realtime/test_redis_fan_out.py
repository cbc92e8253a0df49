"""Two signalling servers — each its own aiohttp app on its own port, each its own RedisBroker connection,
as two processes would have — share one real Redis: participants on different servers meet in one room."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from signaling import RedisBroker

from realtime.conftest import FAST, eventually
from support import port_open, require

REDIS_URL = "redis://127.0.0.1:6379"


@pytest.fixture
async def redis_broker():
    """Connect RedisBrokers sharing a key prefix of this test's own; the keys are deleted afterwards."""
    require(port_open(REDIS_URL, 6379), f"Redis at {REDIS_URL}")
    prefix = f"vbtest:{uuid.uuid4().hex}"
    brokers: list[RedisBroker] = []

    async def connect() -> RedisBroker:
        broker = await RedisBroker.connect(REDIS_URL, prefix=prefix)
        brokers.append(broker)
        return broker

    connect.prefix = prefix
    yield connect
    if brokers:
        keys = [key async for key in brokers[0].client.scan_iter(match=f"{prefix}:*")]
        if keys:
            await brokers[0].client.delete(*keys)
    for broker in brokers:
        await broker.close()


@pytest.fixture
async def two_servers(redis_broker, start_signaling):
    """Servers A and B on one Redis, with one ticket book and one session log (as one database would be)."""
    tickets, events = {}, []
    a = await start_signaling(FAST, await redis_broker(), tickets=tickets, events=events)
    b = await start_signaling(FAST, await redis_broker(), tickets=tickets, events=events)
    return a, b


async def test_host_on_one_server_and_citizen_on_the_other_share_a_call(two_servers):
    a, b = two_servers
    host = await a.joined("staff-3", role="host")
    citizen = await b.joined("citizen-7")
    await host.expect("waiting", participant={"id": "citizen-7", "name": "Citizen", "role": "guest"})
    await host.send(type="admit", participant="citizen-7")
    admitted = await citizen.expect("admitted")
    assert [p["id"] for p in admitted["participants"]] == ["staff-3"]
    await host.expect("participant_joined")

    await citizen.call("staff-3")
    await citizen.connected("staff-3")
    await host.connected("citizen-7")
    await host.frames_from("citizen-7", 5)
    await citizen.frames_from("staff-3", 5)
    assert any(m["type"] == "candidate" and m["from"] == "staff-3" for m in citizen.messages)

    await citizen.send(type="chat", text="Hej fra B")
    await host.expect("chat", text="Hej fra B", **{"from": "citizen-7"})
    await citizen.send(type="leave")
    await host.expect("participant_left", participant="citizen-7", reason="hung_up")
    assert [e for e, who, _ in a.events if who == "citizen-7"] == ["waiting", "admitted", "left"]


async def test_a_participant_resumes_on_the_other_server_after_a_restart(two_servers):
    a, b = two_servers
    host = await a.joined("staff-3", role="host", media=False)
    citizen = await b.joined("citizen-7", media=False)
    await host.expect("waiting")
    await host.send(type="admit", participant="citizen-7")
    await citizen.expect("admitted")

    await b.server.close()  # server B restarts
    assert await citizen.closed() == 1012
    await host.expect("participant_reconnecting", participant="citizen-7")
    citizen.url = a.url  # the load balancer sends the reconnecting page to A
    joined = await citizen.resume()
    assert joined["state"] == "admitted" and [p["id"] for p in joined["participants"]] == ["staff-3"]
    await host.expect("participant_reconnected", participant="citizen-7")
    await citizen.send(type="chat", text="Så er jeg tilbage")
    await host.expect("chat", text="Så er jeg tilbage")


async def test_a_grace_period_ends_once_although_both_servers_watch_it(two_servers):
    a, b = two_servers
    host = await a.joined("staff-3", role="host", media=False)
    citizen = await b.joined("citizen-7", media=False)
    await host.expect("waiting")
    await host.send(type="admit", participant="citizen-7")
    await citizen.expect("admitted")

    citizen.drop()
    await host.expect("participant_reconnecting", participant="citizen-7")
    await host.expect("participant_left", participant="citizen-7", reason="network_lost")
    await eventually(lambda: a.server.stats()["grace_periods"] == 0 and b.server.stats()["grace_periods"] == 0)

    # Both servers share one event list; whichever timer fires first records the end of the grace period, and
    # the event reaches the list asynchronously: wait for it, then check that it came exactly once.
    def lost() -> list[str]:
        return [e for e, who, _ in a.events if who == "citizen-7" and e == "left"]

    await eventually(lambda: lost() != [])
    await asyncio.sleep(0.2)  # time for a second, wrong "left" to arrive if one were coming
    assert lost() == ["left"]
    assert list(await a.server.broker.members("appointment-1")) == ["staff-3"]
    assert sum(m["type"] == "participant_left" for m in host.messages) == 1


async def test_a_room_is_full_across_servers(two_servers):
    a, b = two_servers
    await a.joined("staff-3", role="host", media=False)
    await b.joined("citizen-7", media=False)
    await a.joined("guest-12", media=False)
    await b.joined("guest-13", media=False)
    fifth = b.peer(media=False)
    await fifth.connect()
    await fifth.send(type="join", ticket=b.ticket("guest-14"))
    assert (await fifth.expect("error"))["code"] == "room_full"
    assert await fifth.closed() == 4006


async def test_the_host_ends_the_call_on_every_server(two_servers):
    a, b = two_servers
    host = await a.joined("staff-3", role="host", media=False)
    citizen = await b.joined("citizen-7", media=False)
    await host.expect("waiting")
    await host.send(type="admit", participant="citizen-7")
    await citizen.expect("admitted")
    await host.send(type="end")
    assert (await citizen.expect("ended"))["by"] == "staff-3"
    assert await citizen.closed() == 4005
    assert await host.closed() == 4005
    assert await a.server.broker.members("appointment-1") == {}


async def test_a_place_left_when_every_server_stopped_expires_with_its_grace_period(redis_broker, start_signaling):
    """Both servers stop while the admitted citizen's socket is dropped (no process runs the grace timer): once
    the grace period is over the place is gone — a later join waits to be let in, and it does not count as full."""
    tickets, events = {}, []
    limits = FAST  # grace 1 s
    a = await start_signaling(limits, await redis_broker(), tickets=tickets, events=events)
    host = await a.joined("staff-3", role="host", media=False)
    citizen = await a.joined("citizen-7", media=False)
    await host.expect("waiting")
    await host.send(type="admit", participant="citizen-7")
    await citizen.expect("admitted")
    citizen.drop()
    await host.expect("participant_reconnecting", participant="citizen-7")
    await host.send(type="leave")
    await host.closed()
    await a.server.close()  # the last process stops during the citizen's grace period
    await asyncio.sleep(limits.grace_seconds + 0.3)

    b = await start_signaling(limits, await redis_broker(), tickets=tickets, events=events)
    again = await b.joined("citizen-7", media=False)
    assert again.me["id"] == "citizen-7" and (await b.server.rooms.members("appointment-1"))[0].state == "waiting"
    assert [m.id for m in await b.server.rooms.members("appointment-1")] == ["citizen-7"]
