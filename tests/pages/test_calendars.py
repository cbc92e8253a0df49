"""Calendars through the pages: an appointment's .ics for the worker and for the citizen, the worker's
private feed for their phone, and who may download what. Every file is read back with an independent
parser (``ical``) and compared with the database rows."""

from __future__ import annotations

import datetime as dt
import logging
import re
from html import unescape
from urllib.parse import urlsplit

import pytest
from aiohttp.test_utils import TestServer
from ical.event import EventStatus
from sqlalchemy import select

from vbostotte import audit
from vbostotte.app import create_app
from vbostotte.models import Appointment, AppointmentKind, AuditEntry, CalendarFeed, Staff, WorkingHours
from vbostotte.web.access_log import PrivateAccessLogger

from calendar_files import properties, read_ics
from support import WebClient, read_in_english, reread, text_of

UTC = dt.UTC
ICS = "text/calendar; charset=utf-8"
FEED_URL = re.compile(r'<code class="link-out">([^<]+)</code>')


@pytest.fixture
async def hours(world, db):
    """The worker of municipality a works Monday–Friday 08–16 and Sunday 08–12 (for the clock-change day)."""
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
            for d in range(5)
        ]
    )
    db.add(WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=6, start_minute=480, end_minute=720))
    await db.commit()
    return world


async def row(db, appointment_id: int) -> Appointment:
    await reread(db)
    return await db.get(Appointment, appointment_id)


async def download(browser: WebClient, path: str):
    """Fetch a calendar file; check it is served as one, and read it back with the independent parser."""
    response = await browser.get(path)
    assert response.status == 200, (path, response.status)
    assert response.headers["Content-Type"] == ICS
    body = await response.read()
    return response, body, read_ics(body)


def same_as_row(event, appointment: Appointment, host: str = "127.0.0.1") -> None:
    assert event.uid == f"appointment-{appointment.id}@{host}"
    assert (event.dtstart, event.end) == (appointment.starts_at, appointment.ends_at)
    assert event.dtstart.utcoffset() == dt.timedelta(0)
    assert event.sequence == appointment.sequence


async def test_a_worker_downloads_an_appointment_and_the_read_is_audited(world, web, db):
    worker, citizen = world.a.worker, world.a.citizen
    await web.login(worker)
    read_in_english(web)
    page = await web.page(f"/appointments/{citizen.appointment_id}")
    assert f'href="/appointments/{citizen.appointment_id}.ics"' in page
    assert "Download to calendar (.ics)" in text_of(page)

    response, body, calendar = await download(web, f"/appointments/{citizen.appointment_id}.ics")
    assert response.headers["Content-Disposition"] == f'attachment; filename="appointment-{citizen.appointment_id}.ics"'
    assert calendar.prodid and calendar.version == "2.0" and calendar.method is None
    [event] = calendar.events
    same_as_row(event, await row(db, citizen.appointment_id))
    assert event.status == EventStatus.CONFIRMED
    assert event.summary == f"Video session – {citizen.preferred_name}"
    assert event.url == f"http://127.0.0.1/appointments/{citizen.appointment_id}"
    assert citizen.name not in body.decode() and event.description is None  # the note is for the citizen
    reads = (await db.execute(select(AuditEntry).where(AuditEntry.action == "appointment.calendar"))).scalars().all()
    assert [(e.actor_id, e.citizen_id, e.purpose, e.outcome) for e in reads] == [
        (worker.id, citizen.id, audit.Purpose.SUPPORT, audit.ALLOWED)
    ]


async def test_the_citizen_puts_their_own_appointment_in_their_calendar(world, web, db):
    citizen = world.a.citizen
    await web.open_link(citizen.link_token)
    read_in_english(web)
    home = await web.page("/me")
    assert f'href="/me/appointments/{citizen.appointment_id}.ics"' in home
    assert "Put it in my calendar" in text_of(home)

    response, body, calendar = await download(web, f"/me/appointments/{citizen.appointment_id}.ics")
    assert response.headers["Content-Disposition"].startswith("attachment;")
    [event] = calendar.events
    same_as_row(event, await row(db, citizen.appointment_id))
    assert event.summary == f"Video session with {world.a.worker.name.split()[0]}"
    assert event.description == f"Agenda for {citizen.name}"
    assert event.url == "http://127.0.0.1/me"


async def test_on_the_autumn_clock_change_ten_oclock_is_nine_utc(hours, web, db, clock):
    clock.now = dt.datetime(2026, 10, 20, tzinfo=UTC)
    await web.login(hours.a.worker)
    done = await web.post(
        "/appointments/new",
        {
            "citizen_id": str(hours.a.citizen.id),
            "kind": "video",
            "date": "2026-10-25",
            "time": "10:00",
            "duration": "45",
        },
    )
    appointment_id = int(done.headers["Location"].split("/")[2].split("?")[0])
    _, body, calendar = await download(web, f"/appointments/{appointment_id}.ics")
    assert calendar.events[0].dtstart == dt.datetime(2026, 10, 25, 9, 0, tzinfo=UTC)
    assert properties(body)[0]["dtstart"] == ["20261025T090000Z"]
    assert properties(body)[0]["dtend"] == ["20261025T094500Z"]
    same_as_row(calendar.events[0], await row(db, appointment_id))


async def test_a_moved_appointment_keeps_its_uid_with_a_higher_sequence_and_a_cancelled_one_says_so(hours, web, db):
    appointment_id = hours.a.citizen.appointment_id
    await web.login(hours.a.worker)
    path = f"/appointments/{appointment_id}.ics"
    first = (await download(web, path))[2].events[0]

    moved = await web.post(
        f"/appointments/{appointment_id}/reschedule",
        {"date": "2026-11-26", "time": "10:00", "duration": "45", "reason": "Sick"},
        from_page=f"/appointments/{appointment_id}",
    )
    assert moved.status == 303
    second = (await download(web, path))[2].events[0]
    assert second.uid == first.uid and second.sequence > first.sequence
    assert second.dtstart == dt.datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
    same_as_row(second, await row(db, appointment_id))

    cancelled = await web.post(
        f"/appointments/{appointment_id}/cancel", {"reason": "Sick"}, from_page=f"/appointments/{appointment_id}"
    )
    assert cancelled.status == 303
    _, body, calendar = await download(web, path)
    third = calendar.events[0]
    assert third.uid == first.uid and third.sequence > second.sequence
    assert third.status == EventStatus.CANCELLED and properties(body)[0]["status"] == ["CANCELLED"]


async def test_another_workers_or_municipalitys_appointment_is_not_found_and_the_attempt_is_audited(
    world, web, other_web, db
):
    worker = world.a.worker
    await web.login(worker)
    mine = (await web.get(f"/appointments/{world.a.citizen.appointment_id}.ics")).status
    colleagues = await web.get(f"/appointments/{world.a.other_citizen.appointment_id}.ics")
    foreign = await web.get(f"/appointments/{world.b.citizen.appointment_id}.ics")
    assert (mine, colleagues.status, foreign.status) == (200, 404, 404)
    for response in (colleagues, foreign):
        assert "text/calendar" not in response.headers["Content-Type"]
        assert world.a.other_citizen.name not in await response.text()
    await reread(db)
    denied = (
        (await db.execute(select(AuditEntry).where(AuditEntry.outcome == audit.DENIED).order_by(AuditEntry.id)))
        .scalars()
        .all()
    )
    assert [(e.actor_id, e.action, e.object_type, e.object_id) for e in denied] == [
        (worker.id, "appointment.calendar", "citizen", world.a.other_citizen.id),
        (worker.id, "appointment.calendar", "appointment", world.b.citizen.appointment_id),
    ]
    # A citizen gets only their own; staff have no "my appointment" file.
    await other_web.open_link(world.a.citizen.link_token)
    assert (await other_web.get(f"/me/appointments/{world.a.other_citizen.appointment_id}.ics")).status == 404
    assert (await other_web.get(f"/appointments/{world.a.citizen.appointment_id}.ics")).status == 403
    assert (await web.get(f"/me/appointments/{world.a.citizen.appointment_id}.ics")).status == 404


async def make_feed(browser: WebClient) -> str:
    """Make a feed address on the working-hours page; returns it as shown (once)."""
    made = await browser.post("/worker/calendar-feed", from_page="/worker/hours")
    assert made.status == 200
    return unescape(FEED_URL.search(await made.text()).group(1))


def path_of(url: str) -> str:
    return urlsplit(url).path


async def add_appointment(db, world, now: dt.datetime, days: float, **extra) -> int:
    """A home visit of world a's worker and citizen, ``days`` from now; returns its id."""
    start = now + dt.timedelta(days=days)
    appointment = Appointment(
        municipality_id=world.a.id,
        citizen_id=world.a.citizen.id,
        worker_id=world.a.worker.id,
        kind=AppointmentKind.HOME_VISIT,
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
        created_at=now,
        response="none",
        **extra,
    )
    db.add(appointment)
    await db.commit()
    return appointment.id


async def test_the_feed_works_without_a_session_and_holds_the_workers_appointments_around_now(
    world, web, other_web, db, clock
):
    now = clock()
    far_back = await add_appointment(db, world, now, -40)
    soon_back = await add_appointment(db, world, now, -20)
    cancelled = await add_appointment(db, world, now, 3, cancelled_at=now, cancelled_by="worker", sequence=1)
    far_ahead = await add_appointment(db, world, now, 170)
    too_far = await add_appointment(db, world, now, 190)
    await web.login(world.a.worker)
    read_in_english(web)
    url = await make_feed(web)
    assert re.fullmatch(r"http://127\.0\.0\.1/calendar/[A-Za-z0-9_-]{43}\.ics", url)

    # A calendar app: no cookies, no login.
    _, body, calendar = await download(other_web, path_of(url))
    assert calendar.refresh_interval == dt.timedelta(hours=1)
    events = {event.uid: event for event in calendar.events}
    wanted = [world.a.citizen.appointment_id, world.a.citizen.past_appointment_id, soon_back, cancelled, far_ahead]
    assert set(events) == {f"appointment-{i}@127.0.0.1" for i in wanted}
    for appointment_id in wanted:
        same_as_row(events[f"appointment-{appointment_id}@127.0.0.1"], await row(db, appointment_id))
    assert events[f"appointment-{cancelled}@127.0.0.1"].status == EventStatus.CANCELLED
    assert f"appointment-{far_back}@" not in body.decode() and f"appointment-{too_far}@" not in body.decode()
    assert world.a.other_citizen.preferred_name not in body.decode()

    # Each fetch is a read in the audit log: the worker's, for support, about no single citizen.
    await download(other_web, path_of(url))
    await reread(db)
    fetches = await db.execute(select(AuditEntry).where(AuditEntry.action == "appointment.calendar_feed"))
    assert [(e.actor_id, e.citizen_id, e.purpose, e.outcome) for e in fetches.scalars()] == [
        (world.a.worker.id, None, audit.Purpose.SUPPORT, audit.ALLOWED)
    ] * 2


async def test_the_feed_address_is_shown_once_stored_hashed_and_stops_when_revoked(world, web, other_web, db):
    await web.login(world.a.worker)
    read_in_english(web)
    assert "You have no calendar address." in text_of(await web.page("/worker/hours"))
    url = await make_feed(web)
    token = path_of(url).removeprefix("/calendar/").removesuffix(".ics")
    page = await web.page("/worker/hours")
    assert token not in page and "You have a calendar address" in text_of(page)
    await reread(db)
    stored = (await db.execute(select(CalendarFeed))).scalars().all()
    assert len(stored) == 1 and token not in stored[0].token_hash

    revoked = await web.post("/worker/calendar-feed/revoke", from_page="/worker/hours")
    assert revoked.status == 303 and revoked.headers["Location"] == "/worker/hours?done=feed_revoked"
    assert "The calendar address is stopped." in text_of(await web.page(revoked.headers["Location"]))
    assert (await other_web.get(path_of(url))).status == 404

    new_url = await make_feed(web)
    assert new_url != url
    assert (await other_web.get(path_of(new_url))).status == 200
    assert (await other_web.get(path_of(url))).status == 404
    # Making another address replaces the one in use.
    newest = await make_feed(web)
    assert (await other_web.get(path_of(new_url))).status == 404
    assert (await other_web.get(path_of(newest))).status == 200


async def test_an_unknown_token_or_a_deactivated_worker_gets_nothing(world, web, other_web, db):
    assert (await other_web.get("/calendar/" + "A" * 43 + ".ics")).status == 404
    await web.login(world.a.worker)
    url = await make_feed(web)
    worker = await db.get(Staff, world.a.worker.id)
    worker.active = False
    await db.commit()
    assert (await other_web.get(path_of(url))).status == 404


async def test_only_a_worker_makes_a_feed(world, web):
    await web.login(world.a.supervisor)
    token = await web.csrf_from("/supervisor")
    response = await web.client.post("/worker/calendar-feed", data={"csrf_token": token}, allow_redirects=False)
    assert response.status == 403


async def test_the_access_log_never_holds_the_feed_token(aiohttp_client, settings, clock, world, caplog):
    caplog.set_level(logging.INFO, logger="aiohttp.access")
    app = create_app(settings, clock=clock)
    server = TestServer(app)
    await server.start_server(access_log_class=PrivateAccessLogger)  # as `vbostotte serve` logs
    browser = WebClient(await aiohttp_client(server), clock)
    await browser.login(world.a.worker)
    url = await make_feed(browser)
    token = path_of(url).removeprefix("/calendar/").removesuffix(".ics")
    assert (await browser.get(path_of(url))).status == 200
    await browser.post("/worker/calendar-feed/revoke", from_page="/worker/hours")
    assert (await browser.get(path_of(url))).status == 404
    assert "GET /calendar/… 200" in caplog.text and "GET /calendar/… 404" in caplog.text
    assert token not in caplog.text
