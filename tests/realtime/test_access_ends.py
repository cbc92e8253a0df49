"""When access ends, it ends in the call too (issue 20): real sockets through the real app, one test for each way
access can end. The person is out within 2 s (closed with 4010, or everyone with 4005 when the call itself is
over), the others are told why in one word, the old resume token no longer works, and neither does a ticket asked
for before."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientSession
from sqlalchemy import update

from vbostotte.booking import availability
from vbostotte.calls import call_access, guests
from vbostotte.models import WebSession

from realtime.peer import Peer
from support import WebClient, reread

WITHIN = 2.0  # seconds from the end of access (the answer to the request that ended it) to the closed socket
REMOVED, ENDED = 4010, 4005


async def ticket(web: WebClient, path: str, page: str) -> str:
    response = await web.client.post(path, headers={"X-CSRF-Token": await web.csrf_from(page)})
    assert response.status == 200, await response.text()
    return (await response.json())["ticket"]


class Call:
    """The worker and the citizen (and, when asked for, the citizen's relative) admitted into tomorrow's video call."""

    def __init__(self, world, worker_web: WebClient, citizen_web: WebClient) -> None:
        self.world, self.worker_web, self.citizen_web = world, worker_web, citizen_web
        self.appointment_id = world.a.citizen.appointment_id
        self.worker_id, self.citizen_id = f"staff-{world.a.worker.id}", f"citizen-{world.a.citizen.id}"
        self.peers: list[Peer] = []

    def peer(self, web: WebClient | ClientSession) -> Peer:
        session = web.client.session if isinstance(web, WebClient) else web
        url = self.worker_web.client.make_url("/ws/calls")
        peer = Peer(session, url, media=False)
        self.peers.append(peer)
        return peer

    async def start(self) -> tuple[Peer, Peer]:
        await self.worker_web.login(self.world.a.worker)
        await self.citizen_web.open_link(self.world.a.citizen.link_token)
        path = f"/calls/{self.appointment_id}/ticket"
        self.worker, self.citizen = self.peer(self.worker_web), self.peer(self.citizen_web)
        await self.worker.join(await ticket(self.worker_web, path, "/worker"))
        await self.citizen.join(await ticket(self.citizen_web, path, "/me"))
        await self.admit(self.citizen, self.citizen_id)
        return self.worker, self.citizen

    async def admit(self, peer: Peer, pid: str) -> None:
        await self.worker.expect("waiting")
        await self.worker.send(type="admit", participant=pid)
        await peer.expect("admitted")

    async def add_relative(self, guest_web: WebClient, db, settings) -> tuple[Peer, str]:
        made = await self.worker_web.post(
            f"/calls/{self.appointment_id}/guests", {"kind": "relative", "name": "Bo"}, from_page="/worker"
        )
        assert made.status == 303
        await reread(db)
        link = next(link for link in await guests._active(db, self.appointment_id) if link.kind == "relative")
        token = guests.token_for(link, settings.secret_key)
        relative = self.peer(guest_web)
        joined = await relative.join(await ticket(guest_web, f"/g/{token}/ticket", f"/g/{token}"))
        assert joined["state"] == "waiting", joined
        await self.admit(relative, f"guest-{link.id}")
        return relative, f"guest-{link.id}"

    async def close(self) -> None:
        for peer in self.peers:
            await peer.close()


@pytest.fixture
async def third_web(aiohttp_client, app, clock) -> WebClient:
    """A third browser (an administrator, a relative), made before the call starts: a test client made later would
    start the app a second time, with a signalling server of its own."""
    return WebClient(await aiohttp_client(app), clock)


@pytest.fixture
async def call(world, clock, web, other_web, third_web, loopback_ice):
    clock.advance(days=1, minutes=-10)  # ten minutes before the citizen's video session
    call = Call(world, web, other_web)
    yield call
    await call.close()


async def removed_within(peer: Peer, started: float, code: int = REMOVED) -> float:
    """The peer's socket is closed with ``code`` within WITHIN seconds of ``started``; how long it took."""
    assert await peer.closed(timeout=WITHIN + 3) == code
    took = time.monotonic() - started
    assert took <= WITHIN, f"closed after {took:.2f} s"
    print(f"closed {took:.2f} s after the end of access")  # the figure (pytest -s shows it)
    return took


async def refused_resume(peer: Peer) -> None:
    """The old resume token puts nobody back in the call."""
    await peer.connect()
    await peer.send(type="resume", token=peer.resume_token)
    assert (await peer.expect("error"))["code"] == "resume_failed"
    assert await peer.closed() == 4002


async def test_a_worker_who_logs_out_is_out_of_the_call(call):
    worker, citizen = await call.start()
    assert (await call.worker_web.post("/logout", from_page="/worker")).status in (302, 303)
    started = time.monotonic()  # the end of access is committed
    await removed_within(worker, started)
    left = await citizen.expect("participant_left", participant=call.worker_id)
    assert left["reason"] == "removed"
    await refused_resume(worker)


async def test_a_worker_whose_session_timed_out_is_out_and_being_in_a_call_keeps_it_alive(call, db, clock, settings):
    worker, citizen = await call.start()
    # In the call for longer than the idle limit: being in a call is activity, so the session lives on.
    clock.advance(minutes=settings.session_idle_minutes - 1)
    await asyncio.sleep(2.5)
    clock.advance(minutes=2)
    await asyncio.sleep(2.5)
    await worker.ping()
    # The session times out (idle past the limit: the computer was left behind, the call long gone from its mind).
    started = time.monotonic()
    await db.execute(
        update(WebSession)
        .where(WebSession.staff_id == call.world.a.worker.id)
        .values(last_seen_at=clock() - dt.timedelta(minutes=settings.session_idle_minutes + 1))
    )
    await db.commit()
    await removed_within(worker, started)
    assert (await citizen.expect("participant_left", participant=call.worker_id))["reason"] == "removed"


async def test_a_deactivated_worker_is_out_of_the_call(call, third_web):
    worker, citizen = await call.start()
    admin = third_web
    await admin.login(call.world.a.admin)
    response = await admin.post(f"/admin/staff/{call.world.a.worker.id}/active", {"active": "0"}, from_page="/admin")
    assert response.status == 303
    started = time.monotonic()  # the end of access is committed
    await removed_within(worker, started)
    assert (await citizen.expect("participant_left", participant=call.worker_id))["reason"] == "removed"
    await refused_resume(worker)


async def test_a_citizen_whose_link_is_revoked_is_out_and_a_ticket_from_before_is_refused(call):
    worker, citizen = await call.start()
    unused = await ticket(call.citizen_web, f"/calls/{call.appointment_id}/ticket", "/me")
    response = await call.worker_web.post(f"/citizens/{call.world.a.citizen.id}/link/revoke", from_page="/worker")
    assert response.status == 303
    started = time.monotonic()  # the end of access is committed
    await removed_within(citizen, started)
    assert (await worker.expect("participant_left", participant=call.citizen_id))["reason"] == "removed"
    await refused_resume(citizen)
    late = call.peer(call.citizen_web)
    await late.connect()
    await late.send(type="join", ticket=unused)
    assert (await late.expect("error"))["code"] == "unauthorized"
    assert await late.closed() == 4001


async def test_a_cancelled_appointment_ends_the_call_for_everyone(call):
    worker, citizen = await call.start()
    response = await call.worker_web.post(
        f"/appointments/{call.appointment_id}/cancel", {"reason": "Syg"}, from_page="/worker"
    )
    assert response.status == 303
    started = time.monotonic()  # the end of access is committed
    await removed_within(citizen, started, ENDED)
    await removed_within(worker, started, ENDED)
    assert citizen.saw("ended", by="server")
    await refused_resume(citizen)


async def test_a_moved_appointment_takes_everyone_out_who_joined_before_the_move(call, clock, db):
    await availability.set_working_hours(db, call.world.a.worker.actor, [(day, 7 * 60, 16 * 60) for day in range(5)])
    await db.commit()
    worker, citizen = await call.start()
    starts = clock() + dt.timedelta(minutes=12)  # two minutes later than planned, the call window still open
    local = starts.astimezone(ZoneInfo("Europe/Copenhagen"))
    response = await call.worker_web.post(
        f"/appointments/{call.appointment_id}/reschedule",
        {"date": local.date().isoformat(), "time": local.strftime("%H:%M"), "duration": "45", "reason": "Later"},
        from_page="/worker",
    )
    assert response.status == 303, await response.text()
    started = time.monotonic()  # the end of access is committed
    await removed_within(citizen, started)
    await removed_within(worker, started)
    # A ticket asked for after the move lets the citizen in again.
    again = call.peer(call.citizen_web)
    joined = await again.join(await ticket(call.citizen_web, f"/calls/{call.appointment_id}/ticket", "/me"))
    assert joined["state"] == "waiting"


async def test_a_revoked_guest_link_and_a_withdrawn_consent_take_the_relative_out(call, third_web, db, settings):
    worker, citizen = await call.start()
    relative, relative_id = await call.add_relative(third_web, db, settings)
    response = await call.worker_web.post(
        f"/calls/{call.appointment_id}/guests/revoke", {"kind": "relative"}, from_page="/worker"
    )
    assert response.status == 303
    started = time.monotonic()  # the end of access is committed
    await removed_within(relative, started)
    assert (await citizen.expect("participant_left", participant=relative_id))["reason"] == "removed"

    relative, relative_id = await call.add_relative(third_web, db, settings)
    response = await call.citizen_web.post(
        "/me/consents", {"kind": "relative_in_calls", "action": "withdraw"}, from_page="/me"
    )
    assert response.status == 303
    started = time.monotonic()  # the end of access is committed
    await removed_within(relative, started)
    assert (await worker.expect("participant_left", participant=relative_id))["reason"] == "removed"
    await citizen.ping()  # the citizen and the worker stay
    await worker.ping()


async def test_the_call_ends_for_all_when_its_window_closes(call, clock, settings):
    worker, citizen = await call.start()
    # Time passes in the call (in steps shorter than the idle limit, each seen by the app's access check).
    for _ in range(5):
        clock.advance(minutes=(10 + 45 + settings.call_closes_minutes - 1) / 5)
        await asyncio.sleep(call_access.CHECK_SECONDS * 1.5)
    await worker.ping()
    await citizen.ping()
    started = time.monotonic()
    clock.advance(minutes=2)
    await removed_within(worker, started, ENDED)
    await removed_within(citizen, started, ENDED)
