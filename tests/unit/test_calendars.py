"""The interpreter's invitation and the calendar files' content, without HTTP: valid iCalendar (read
back with an independent parser), the same UID everywhere, UTC times, and nothing about the citizen
in what the interpreter gets."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from ical.event import EventStatus

from vbostotte import i18n
from vbostotte.booking import calendars
from vbostotte.models import Appointment, AppointmentKind, Citizen, Staff

from calendar_files import properties, read_ics
from support import reread

UTC = dt.UTC


@pytest.fixture
async def with_interpreter(world, db) -> Appointment:
    """World a's citizen's appointment tomorrow, with an interpreter booked."""
    appointment = await db.get(Appointment, world.a.citizen.appointment_id)
    appointment.interpreter_name, appointment.interpreter_language = "Tina Tolk", "arabisk"
    appointment.interpreter_email = "tina@tolke.example.dk"
    await db.commit()
    await reread(db)
    return await db.get(Appointment, world.a.citizen.appointment_id)


def no_citizen_in(body: bytes, citizen) -> None:
    text = body.decode()
    for private in (citizen.name, citizen.preferred_name, f"Agenda for {citizen.name}"):
        assert private not in text, private


async def test_the_interpreters_invitation_is_an_itip_request_without_the_citizen(
    with_interpreter, settings, world, clock
):
    appointment = with_interpreter
    body = calendars.invitation(appointment, settings, "REQUEST", now=clock())
    calendar = read_ics(body)
    assert calendar.method == "REQUEST"
    [event] = calendar.events
    assert event.uid == f"appointment-{appointment.id}@127.0.0.1"
    assert (event.dtstart, event.end) == (appointment.starts_at, appointment.ends_at)
    assert event.dtstart.utcoffset() == dt.timedelta(0)
    assert event.status == EventStatus.CONFIRMED and event.sequence == 0
    assert event.dtstamp == clock()
    assert event.organizer.uri == "mailto:noreply@localhost" and event.organizer.common_name == "Virtuel Bostøtte"
    [attendee] = event.attendees
    assert (attendee.uri, attendee.common_name) == ("mailto:tina@tolke.example.dk", "Tina Tolk")
    assert "arabisk" in event.summary and "Videosamtale" in event.summary  # the municipality's language: Danish
    assert event.description is None and event.url is None
    no_citizen_in(body, world.a.citizen)


async def test_the_cancellation_replaces_the_invitation(with_interpreter, settings, world, db, clock):
    appointment = with_interpreter
    request = read_ics(calendars.invitation(appointment, settings, "REQUEST", now=clock())).events[0]
    appointment.cancelled_at, appointment.sequence = clock(), appointment.sequence + 1  # as booking.cancel does
    body = calendars.invitation(appointment, settings, "CANCEL", now=clock())
    calendar = read_ics(body)
    assert calendar.method == "CANCEL"
    [event] = calendar.events
    assert event.uid == request.uid and event.sequence > request.sequence
    assert event.status == EventStatus.CANCELLED and properties(body)[0]["status"] == ["CANCELLED"]
    no_citizen_in(body, world.a.citizen)


async def test_the_invitation_speaks_the_municipalitys_language_and_knows_only_two_methods(
    with_interpreter, settings, clock
):
    english = dataclasses.replace(settings, default_locale="en")
    summary = read_ics(calendars.invitation(with_interpreter, english, now=clock())).events[0].summary
    assert summary == "Interpreting (arabisk): Video session"
    assert i18n.get_locale() == "da"  # the caller's language is left as it was
    with pytest.raises(ValueError):
        calendars.invitation(with_interpreter, settings, "PUBLISH")


async def test_an_interpreter_without_e_mail_gets_no_attendee_line(with_interpreter, settings, db, clock):
    with_interpreter.interpreter_email = None
    event = read_ics(calendars.invitation(with_interpreter, settings, now=clock())).events[0]
    assert event.attendees == []


async def test_staff_and_citizen_see_the_same_event_in_their_own_words(world, settings, db, clock):
    appointment = await db.get(Appointment, world.a.citizen.appointment_id)
    citizen = await db.get(Citizen, appointment.citizen_id)
    worker = await db.get(Staff, appointment.worker_id)
    staff_body = calendars._calendar(
        [calendars.staff_event(appointment, citizen, settings, clock(), lambda a: f"https://x/appointments/{a.id}")]
    )
    citizen_body = calendars._calendar(
        [calendars.citizen_event(appointment, worker, settings, clock(), lambda a: "https://x/me")]
    )
    staff, own = read_ics(staff_body).events[0], read_ics(citizen_body).events[0]
    assert staff.uid == own.uid and (staff.dtstart, staff.end) == (own.dtstart, own.end)
    assert staff.summary == "Videosamtale – Citizen" and staff.description is None  # the note is the citizen's
    assert own.description == f"Agenda for {world.a.citizen.name}"
    assert citizen.name not in staff_body.decode()  # the preferred first name only, never the full name
    assert (staff.url, own.url) == (f"https://x/appointments/{appointment.id}", "https://x/me")


async def test_a_home_visit_is_named_as_one(world, settings, db, clock):
    appointment = await db.get(Appointment, world.a.citizen.past_appointment_id)
    assert appointment.kind == AppointmentKind.HOME_VISIT
    citizen = await db.get(Citizen, appointment.citizen_id)
    event = read_ics(
        calendars._calendar([calendars.staff_event(appointment, citizen, settings, clock(), lambda a: "https://x")])
    ).events[0]
    assert event.summary.startswith("Hjemmebesøg")
