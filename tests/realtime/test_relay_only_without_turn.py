"""A relay-only citizen without a TURN server, through the real app, signalling and aiortc peers: none of her
addresses (host or srflx candidates) ever reaches the worker, because she cannot even get a join ticket. The same
call without relay-only shows that the count below does see her candidates when they are sent."""

from __future__ import annotations

import asyncio

import pytest

from vbostotte.calls import calls
from vbostotte.models import Citizen

from realtime.peer import Peer
from support import WebClient, read_in_english, session_hash

REASON = (
    "Your calls must go through a relay server (TURN), so that the others cannot see your internet address, "
    "but none is set up. The call cannot start. Please tell your support worker."
)


def candidates_from(peer: Peer, pid: str) -> list[str]:
    """Every ICE candidate ``peer`` received from ``pid``: trickled, or inside an offer or answer."""
    found = []
    for message in peer.messages:
        if message.get("from") != pid:
            continue
        if message["type"] == "candidate" and message["candidate"]:
            found.append(message["candidate"]["candidate"])
        elif message["type"] in ("offer", "answer"):
            found += [line[2:] for line in message["sdp"].splitlines() if line.startswith("a=candidate:")]
    return found


def of_type(candidates: list[str], kind: str) -> int:
    return sum(f" typ {kind}" in candidate for candidate in candidates)


async def ask_ticket(web: WebClient, appointment_id: int, page: str):
    return await web.client.post(
        f"/calls/{appointment_id}/ticket",
        headers={"X-CSRF-Token": await web.csrf_from(page), "Accept": "application/json"},
    )


@pytest.mark.parametrize("relay_only", [True, False], ids=["relay-only-without-turn", "control-not-relay-only"])
async def test_no_candidate_of_a_relay_only_citizen_reaches_the_worker_without_turn(
    relay_only, settings, clock, world, db, web, other_web, loopback_ice
):
    assert not calls.relay_available(settings)  # the test's settings have no TURN server
    citizen_row = await db.get(Citizen, world.a.citizen.id)
    citizen_row.force_relay = relay_only
    await db.commit()
    clock.advance(days=1, minutes=-10)
    await web.login(world.a.worker)
    await other_web.open_link(world.a.citizen.link_token)
    read_in_english(web, other_web)
    appointment_id = world.a.citizen.appointment_id
    citizen_id, worker_id = f"citizen-{world.a.citizen.id}", f"staff-{world.a.worker.id}"

    citizen_answer = await ask_ticket(other_web, appointment_id, "/me")
    citizen_body = await citizen_answer.json()
    worker_answer = await ask_ticket(web, appointment_id, "/worker")
    worker_ticket = (await worker_answer.json()).get("ticket")
    if worker_ticket is None:  # refused too: the worker is in the room all the same (as if he had joined before),
        # since he is who would receive her candidates
        worker_ticket = await calls.issue_ticket(
            db,
            world.a.worker.actor,
            appointment_id,
            settings,
            clock(),
            session_hash=await session_hash(db, world.a.worker.actor, settings, clock()),
        )
        await db.commit()

    worker = Peer(web.client.session, web.client.make_url("/ws/calls"))
    citizen = Peer(other_web.client.session, other_web.client.make_url("/ws/calls"))
    try:
        await worker.join(worker_ticket)
        if "ticket" in citizen_body:  # she may call: she joins, is let in and offers, as the call page does
            await citizen.join(citizen_body["ticket"])
            await worker.expect("waiting")
            await worker.send(type="admit", participant=citizen_id)
            await citizen.expect("admitted")
            await citizen.call(worker_id)
            await worker.connected(citizen_id)
        else:
            await asyncio.sleep(1.0)  # time for anything that could still come
            await worker.ping()
    finally:
        await worker.close()
        await citizen.close()

    received = candidates_from(worker, citizen_id)
    host, srflx = of_type(received, "host"), of_type(received, "srflx")
    print(
        f"{'relay-only' if relay_only else 'control'}: candidates of the citizen at the worker: {host} host, "
        f"{srflx} srflx, {len(received)} in all"
    )
    if relay_only:
        assert host == 0 and srflx == 0 and received == []
        assert not worker.saw("waiting") and not any(m.get("from") == citizen_id for m in worker.messages)
        assert citizen_answer.status == 409 and worker_answer.status == 409  # the call cannot start
        assert citizen_body["message"] == REASON
    else:
        assert citizen_answer.status == 200 and worker_answer.status == 200
        assert host >= 1  # the control: her host candidates (127.0.0.1 here) do arrive when she may call
