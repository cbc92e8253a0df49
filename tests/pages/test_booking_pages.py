"""Booking through the pages, as a worker and a citizen use them."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from sqlalchemy import func, select

from vbostotte.models import Appointment, OutboxMessage, WorkingHours

from support import reread, text_of

UTC = dt.UTC


@pytest.fixture
async def hours(world, db):
    """Both workers in municipality a work Monday–Friday 08–16 and Sunday 08–12 (for the clock-change days)."""
    for worker in (world.a.worker, world.a.other_worker):
        db.add_all(
            [
                WorkingHours(staff_id=worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
                for d in range(5)
            ]
        )
        db.add(WorkingHours(staff_id=worker.id, kind="work", weekday=6, start_minute=480, end_minute=720))
    await db.commit()
    return world


def booking(world, date: str, time: str, **extra) -> dict:
    return {
        "citizen_id": str(world.a.citizen.id),
        "kind": "video",
        "date": date,
        "time": time,
        "duration": "45",
        **extra,
    }


async def count(db, model=Appointment, *where) -> int:
    await reread(db)
    return (await db.execute(select(func.count()).select_from(model).where(*where))).scalar_one()


async def test_a_worker_books_and_the_citizen_sees_it_in_plain_words_and_answers(hours, web, other_web, db):
    world = hours
    await web.login(world.a.worker)
    done = await web.post(
        "/appointments/new", booking(world, "2026-12-01", "10:00", note_to_citizen="Vi kigger på din plan for ugen.")
    )
    assert done.status == 303 and re.fullmatch(r"/appointments/\d+\?done=booked", done.headers["Location"])
    page = text_of(await web.page(done.headers["Location"]))
    assert "Tirsdag 1. december kl. 10.00" in page and "Aftalen er booket." in page

    await other_web.open_link(world.a.citizen.link_token)
    # The start page shows the next appointment (the world's session tomorrow); all of them are one tap away.
    assert 'href="/me/appointments"' in await other_web.page("/me")
    html = await other_web.page("/me/appointments")
    me = text_of(html)
    assert "Tirsdag 1. december kl. 10.00 — videosamtale med Worker" in me
    assert "Vi kigger på din plan for ugen." in me
    assert html.count('<input type="hidden" name="back" value="appointments">') == 2  # each answer comes back here
    appointment_id = int(done.headers["Location"].split("/")[2].split("?")[0])
    answer = await other_web.post(
        f"/me/appointments/{appointment_id}/respond",
        {"response": "confirmed", "back": "appointments"},
        from_page="/me/appointments",
    )
    assert answer.headers["Location"] == "/me/appointments?done=confirmed"
    page = text_of(await other_web.page("/me/appointments?done=confirmed"))
    assert "Tak. Din bostøttemedarbejder kan se, at du kommer." in page and "Du har sagt, at du kommer." in page
    # From the start page, the answer to the next appointment comes back to the start page.
    home = await other_web.page("/me")
    assert 'name="back"' not in home
    answer = await other_web.post(
        f"/me/appointments/{world.a.citizen.appointment_id}/respond", {"response": "confirmed"}, from_page="/me"
    )
    assert answer.headers["Location"] == "/me?done=confirmed"
    assert "Du har sagt, at du kommer." in text_of(await other_web.page("/me"))
    assert "Bekræftet af borgeren" in text_of(await web.page(f"/appointments/{appointment_id}"))


async def test_i_cant_come_cancels_as_the_citizen_and_tells_the_interpreter(hours, web, other_web, db):
    world = hours
    await web.login(world.a.worker)
    done = await web.post(
        "/appointments/new",
        booking(
            world,
            "2026-12-02",
            "13:00",
            interpreter_name="Tina Tolk",
            interpreter_language="arabisk",
            interpreter_email="tina@tolke.example.dk",
        ),
    )
    appointment_id = int(done.headers["Location"].split("/")[2].split("?")[0])
    await other_web.open_link(world.a.citizen.link_token)
    answer = await other_web.post(
        f"/me/appointments/{appointment_id}/respond",
        {"response": "cant_come", "back": "appointments"},
        from_page="/me/appointments",
    )
    assert answer.headers["Location"] == "/me/appointments?done=cant_come"
    assert "Aftalen er aflyst" in text_of(await other_web.page("/me/appointments?done=cant_come"))
    assert "Aflyst af borgeren" in text_of(await web.page(f"/appointments/{appointment_id}"))
    purposes = (
        await db.execute(
            select(OutboxMessage.purpose).where(
                OutboxMessage.appointment_id == appointment_id,
                OutboxMessage.recipient_kind == "interpreter",
                OutboxMessage.status != "dropped",
            )
        )
    ).scalars()
    assert set(purposes) == {"interpreter_invite", "interpreter_cant_come"}  # the interpreter's reminder is dropped


async def test_a_session_that_has_taken_place_cannot_be_answered_cancelled_or_moved(world, web, other_web, db, clock):
    """Once the citizen has joined the call (attendance filled in by it), "I can't come" is neither offered nor
    accepted, and the worker cannot cancel or move it: a held session stays held."""
    appointment_id = world.a.citizen.appointment_id
    clock.advance(days=1, minutes=5)  # the session is under way
    appointment = await db.get(Appointment, appointment_id)
    appointment.attendance = "attended"
    await db.commit()
    await other_web.open_link(world.a.citizen.link_token)
    me = text_of(await other_web.page("/me/appointments"))
    assert "Du deltog i denne samtale." in me and "Jeg kan ikke komme" not in me and "Jeg kommer" not in me
    home = text_of(await other_web.page("/me"))  # the call's card: the way back into the call, no answers
    assert "Gå til samtalen" in home and "Jeg kan ikke komme" not in home and "Jeg kommer" not in home
    for response in ("cant_come", "confirmed"):
        refused = await other_web.post(
            f"/me/appointments/{appointment_id}/respond", {"response": response}, from_page="/me"
        )
        assert refused.status == 409 and "Samtalen har allerede fundet sted." in text_of(await refused.text())
    await web.login(world.a.worker)
    cancelled = await web.post(f"/appointments/{appointment_id}/cancel", {"reason": "Fejl"}, from_page="/worker")
    assert cancelled.status == 409
    await reread(db)
    held = await db.get(Appointment, appointment_id)
    assert held.cancelled_at is None and held.attendance == "attended" and held.response == "none"


async def test_a_time_that_does_not_exist_is_refused_with_a_clear_message(hours, web, db, clock):
    clock.now = dt.datetime(2026, 3, 20, tzinfo=UTC)
    await web.login(hours.a.worker)
    before = await count(db)
    refused = await web.post("/appointments/new", booking(hours, "2026-03-29", "02:30"))
    assert refused.status == 422
    assert "Dette tidspunkt findes ikke" in text_of(await refused.text())
    assert await count(db) == before
    # The same clock time on the autumn change day is fine, and a Sunday morning slot lands at UTC+1 in winter.
    clock.now = dt.datetime(2026, 10, 20, tzinfo=UTC)
    await web.login(hours.a.worker)
    assert (await web.post("/appointments/new", booking(hours, "2026-10-25", "10:00"))).status == 303
    await reread(db)
    starts = (await db.execute(select(Appointment.starts_at).order_by(Appointment.id.desc()).limit(1))).scalar_one()
    assert starts == dt.datetime(2026, 10, 25, 9, 0, tzinfo=UTC)


async def test_a_double_click_books_once(hours, web, db):
    await web.login(hours.a.worker)
    form = booking(hours, "2026-12-03", "09:00", idempotency_key="tab-1-form-1")
    first, second = await asyncio.gather(
        web.post("/appointments/new", form, from_page="/appointments/new"),
        web.post("/appointments/new", form, from_page="/appointments/new"),
    )
    assert first.status == second.status == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert await count(db, Appointment, Appointment.idempotency_key == "tab-1-form-1") == 1


async def test_two_browsers_booking_the_same_slot_one_gets_it_the_other_is_told_it_is_taken(hours, web, other_web, db):
    world = hours
    await web.login(world.a.worker)
    await other_web.login(world.a.worker)  # the same worker, two devices
    tokens = [await b.csrf_from("/appointments/new") for b in (web, other_web)]
    forms = [booking(world, "2026-12-04", "11:00", csrf_token=t) for t in tokens]
    responses = await asyncio.gather(
        web.post("/appointments/new", forms[0]), other_web.post("/appointments/new", forms[1])
    )
    statuses = sorted(r.status for r in responses)
    assert statuses == [303, 422]
    taken = next(r for r in responses if r.status == 422)
    assert "Tiden er lige blevet optaget" in text_of(await taken.text())


async def test_unconfirmed_after_the_cut_off_is_flagged_and_the_interpreter_can_be_released(hours, web, db, clock):
    world = hours
    await web.login(world.a.worker)
    done = await web.post(
        "/appointments/new",
        booking(
            world,
            "2026-11-24",
            "13:00",
            interpreter_name="Tina Tolk",
            interpreter_language="arabisk",
            interpreter_phone="+4530000000",
        ),
    )
    appointment_id = int(done.headers["Location"].split("/")[2].split("?")[0])
    assert "Ikke bekræftet: ring til borgeren" not in text_of(await web.page("/worker"))
    clock.now = dt.datetime(2026, 11, 24, 9, 30, tzinfo=UTC)  # 10:30 local, 2.5 hours before: past the 3-hour cut-off
    await web.login(world.a.worker)
    home = text_of(await web.page("/worker"))
    assert "Ikke bekræftet: ring til borgeren" in home and "tolk bestilt: behold eller afbestil" in home
    released = await web.post(
        f"/appointments/{appointment_id}/release-interpreter", {}, from_page=f"/appointments/{appointment_id}"
    )
    assert released.status == 303
    assert "Tolken er afbestilt og har fået besked." in text_of(await web.page(released.headers["Location"]))
    assert await count(db, OutboxMessage, OutboxMessage.purpose == "interpreter_released") == 1


async def test_working_hours_are_saved_and_refuse_an_end_before_the_start(world, web, db):
    await web.login(world.a.worker)
    bad = await web.post("/worker/hours", {"work_0_start": "16:00", "work_0_end": "08:00"})
    assert bad.status == 422 and "Sluttidspunktet skal være efter starttidspunktet." in text_of(await bad.text())
    assert await count(db, WorkingHours) == 0
    ok = await web.post(
        "/worker/hours",
        {"work_0_start": "08:00", "work_0_end": "15:30", "messages_0_start": "09:00", "messages_0_end": "10:00"},
    )
    assert ok.status == 303
    page = await web.page("/worker/hours")
    assert 'value="15:30"' in page and 'value="09:00"' in page
    assert await count(db, WorkingHours) == 2
