"""A three-way call through the real application: the worker, the citizen and the interpreter, who joins from
their guest link (no account), waits like everyone else until the worker lets them in, and then exchanges video
with both others (real aiortc peers, a mesh)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from vbostotte.calls import guests
from vbostotte.models import Appointment, GuestLink
from vbostotte.web.keys import SETTINGS

from realtime.peer import Peer
from support import reread


async def ticket_for(web, path: str, page: str, data: dict | None = None) -> dict:
    token = await web.csrf_from(page)
    response = await web.client.post(path, data=data, headers={"X-CSRF-Token": token})
    assert response.status == 200, await response.text()
    return await response.json()


@pytest.fixture
async def interpreter_booked(world, db):
    appointment = await db.get(Appointment, world.a.citizen.appointment_id)
    appointment.interpreter_name, appointment.interpreter_language = "Tina Tolk", "arabisk"
    await db.commit()
    return world


async def test_the_interpreter_joins_from_their_link_waits_and_meets_both_others(
    interpreter_booked, web, other_web, aiohttp_client, app, clock, db, loopback_ice
):
    world = interpreter_booked
    appointment_id = world.a.citizen.appointment_id
    clock.advance(days=1, minutes=-10)
    await web.login(world.a.worker)
    await web.page(f"/calls/{appointment_id}")  # the worker's call page makes the interpreter's link
    await reread(db)
    link = (await db.execute(select(GuestLink).where(GuestLink.appointment_id == appointment_id))).scalar_one()
    token = guests.token_for(link, app[SETTINGS].secret_key)
    interpreter_web = type(web)(await aiohttp_client(app), clock)
    await other_web.open_link(world.a.citizen.link_token)

    socket = web.client.make_url("/ws/calls")
    worker = Peer(web.client.session, socket)
    citizen = Peer(other_web.client.session, socket)
    interpreter = Peer(interpreter_web.client.session, socket)
    ids = {
        "worker": f"staff-{world.a.worker.id}",
        "citizen": f"citizen-{world.a.citizen.id}",
        "interpreter": f"guest-{link.id}",
    }
    try:
        await worker.join((await ticket_for(web, f"/calls/{appointment_id}/ticket", "/worker"))["ticket"])
        await citizen.join((await ticket_for(other_web, f"/calls/{appointment_id}/ticket", "/me"))["ticket"])
        guest_ticket = await ticket_for(interpreter_web, f"/g/{token}/ticket", f"/g/{token}", {"name": "Tina"})
        joined = await interpreter.join(guest_ticket["ticket"])
        assert joined["state"] == "waiting" and joined["self"] == {
            "id": ids["interpreter"],
            "name": "Tina",
            "role": "guest",
        }
        waiting = await worker.expect(
            "waiting", participant={"id": ids["interpreter"], "name": "Tina", "role": "guest"}
        )
        assert waiting["since"] > 0
        await interpreter.send(type="admit", participant=ids["citizen"])  # a guest cannot let anyone in
        assert (await interpreter.expect("error"))["code"] == "not_allowed"

        await worker.send(type="admit", participant=ids["citizen"])
        await citizen.expect("admitted")
        await citizen.call(ids["worker"])  # the newcomer calls those already in the call
        await citizen.connected(ids["worker"])
        await worker.send(type="notice", to=ids["interpreter"], text="Jeg er 5 minutter forsinket")
        assert (await interpreter.expect("notice"))["text"] == "Jeg er 5 minutter forsinket"

        await worker.send(type="admit", participant=ids["interpreter"])
        admitted = await interpreter.expect("admitted")
        assert {p["id"] for p in admitted["participants"]} == {ids["worker"], ids["citizen"]}
        for other in ("worker", "citizen"):
            await interpreter.call(ids[other])
        for other in ("worker", "citizen"):
            await interpreter.connected(ids[other])
            assert await interpreter.frames_from(ids[other]) >= 3
        assert await worker.frames_from(ids["interpreter"]) >= 3
        assert await citizen.frames_from(ids["interpreter"]) >= 3
        assert await worker.frames_from(ids["citizen"]) >= 3

        await interpreter.send(type="chat", text="Hej")
        assert (await citizen.expect("chat"))["from"] == ids["interpreter"]
        await citizen.send(type="media", audio="on", video="off", audio_only="on")
        assert (await interpreter.expect("media")) == {
            "type": "media",
            "audio": "on",
            "video": "off",
            "audio_only": "on",
            "from": ids["citizen"],
        }
    finally:
        for peer in (worker, citizen, interpreter):
            await peer.close()
