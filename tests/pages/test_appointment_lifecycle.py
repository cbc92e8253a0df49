"""The appointment's state machine through the pages and the API (vbostotte/booking/lifecycle.py): what no longer
applies is not offered, and asking for it anyway gets 409 with a Danish message and changes nothing — no
cancellation, no answer, no message to the interpreter."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from signaling.types import Event, Participant
from vbostotte.calls import calls
from vbostotte.models import Appointment, OutboxMessage, WorkingHours

from support import reread, text_of

COLUMNS = ("starts_at", "cancelled_at", "cancelled_by", "response", "attendance", "interpreter_released_at", "sequence")


async def snapshot(db, appointment_id: int) -> tuple:
    """What a refused change must leave as it was: the appointment's columns and its messages."""
    await reread(db)
    a = await db.get(Appointment, appointment_id)
    assert a is not None
    messages = await db.execute(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.appointment_id == appointment_id)
    )
    return tuple(getattr(a, c) for c in COLUMNS), messages.scalar_one()


@pytest.fixture
async def with_interpreter(world, db):
    """The citizen's video session tomorrow at 08:00, with an interpreter, not answered; the worker works then."""
    appointment = await db.get(Appointment, world.a.citizen.appointment_id)
    appointment.interpreter_name, appointment.interpreter_language = "Tina Tolk", "arabisk"
    appointment.interpreter_email = "tina@tolke.example.dk"
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
            for d in range(5)
        ]
    )
    await db.commit()
    return world


async def test_the_citizen_cannot_answer_once_the_call_has_opened(with_interpreter, other_web, db, clock):
    world = with_interpreter
    appointment_id = world.a.citizen.appointment_id
    await other_web.open_link(world.a.citizen.link_token)
    clock.advance(days=1, minutes=-20)  # the call opens in five minutes: she may still answer
    assert "Jeg kan ikke komme" in text_of(await other_web.page("/me/appointments"))
    clock.advance(minutes=10)  # the call has opened
    home = text_of(await other_web.page("/me"))
    assert "Gå til samtalen" in home and "Jeg kan ikke komme" not in home and "Jeg kommer" not in home
    assert "Jeg kan ikke komme" not in text_of(await other_web.page("/me/appointments"))
    before = await snapshot(db, appointment_id)
    for response in ("cant_come", "confirmed"):
        refused = await other_web.post(
            f"/me/appointments/{appointment_id}/respond", {"response": response}, from_page="/me"
        )
        assert refused.status == 409
        assert "Samtalen er begyndt, så du kan ikke længere svare her." in text_of(await refused.text())
    assert await snapshot(db, appointment_id) == before  # not cancelled, and the interpreter is told nothing


async def test_a_held_session_offers_nothing_that_no_longer_applies_and_refuses_every_change(
    with_interpreter, web, db, clock
):
    world = with_interpreter
    appointment_id = world.a.citizen.appointment_id
    clock.advance(days=1, minutes=-10)  # the call is open, the citizen has not confirmed
    await web.login(world.a.worker)
    page = text_of(await web.page(f"/appointments/{appointment_id}"))
    for offered in ("ikke bekræftet: ring til borgeren", "Afbestil tolken", "Flyt aftalen", "Aflys aftalen"):
        assert offered in page, offered
    assert "Aflyst sent" in page  # every attendance choice while nothing is recorded
    assert "Ikke bekræftet: ring til borgeren" in text_of(await web.page("/worker"))

    # The citizen joins the call: the call marks her as attended.
    who = Participant(id=f"citizen-{world.a.citizen.id}", room=calls.room_name(appointment_id), role="guest", name="")
    await calls.record_events(db, [Event("joined", who, {"waited": False}, clock().timestamp())])
    await db.commit()

    page = text_of(await web.page(f"/appointments/{appointment_id}"))
    for gone in ("ikke bekræftet: ring til borgeren", "Afbestil tolken", "Flyt aftalen", "Aflys aftalen", "Aflyst"):
        assert gone not in page, gone
    assert "Mødte op" in page and "Udeblev" in page  # attendance may still be corrected, not made a cancellation
    home = text_of(await web.page("/worker"))
    assert "Ikke bekræftet: ring til borgeren" not in home and "Ikke bekræftet endnu" not in home
    assert "Mødte op" in home  # the week's status says what happened

    before = await snapshot(db, appointment_id)
    refusals = {
        "cancel": {"reason": "Fejl"},
        "reschedule": {"date": "2026-11-26", "time": "13:00", "duration": "45", "reason": "Flyt"},
        "attendance": {"attendance": "cancelled_late"},
        "release-interpreter": {},
    }
    for action, form in refusals.items():
        refused = await web.post(f"/appointments/{appointment_id}/{action}", form, from_page="/worker")
        assert refused.status == 409, action
        assert "Samtalen har allerede fundet sted." in text_of(await refused.text()), action
    assert await snapshot(db, appointment_id) == before  # still held, and no e-mail to the interpreter

    session = await (await web.client.get("/api/v1/session")).json()
    api = await web.client.post(
        f"/api/v1/appointments/{appointment_id}/cancel",
        json={"reason": "Fejl"},
        headers={"X-CSRF-Token": session["csrf_token"]},
    )
    assert api.status == 409
    assert (await api.json())["message"] == "Samtalen har allerede fundet sted."
    assert await snapshot(db, appointment_id) == before

    corrected = await web.post(
        f"/appointments/{appointment_id}/attendance", {"attendance": "no_show"}, from_page="/worker"
    )
    assert corrected.status == 303
    await reread(db)
    assert (await db.get(Appointment, appointment_id)).attendance == "no_show"


async def test_a_cancelled_appointment_offers_no_forms_and_a_second_cancel_tells_nobody(with_interpreter, web, db):
    world = with_interpreter
    appointment_id = world.a.citizen.appointment_id
    await web.login(world.a.worker)
    done = await web.post(f"/appointments/{appointment_id}/cancel", {"reason": "Syg"}, from_page="/worker")
    assert done.status == 303
    page = text_of(await web.page(f"/appointments/{appointment_id}"))
    assert "Flyt aftalen" not in page and "Aflys aftalen" not in page and "Gem fremmøde" not in page
    before = await snapshot(db, appointment_id)
    session = await (await web.client.get("/api/v1/session")).json()
    again = await web.client.post(
        f"/api/v1/appointments/{appointment_id}/cancel",
        json={"reason": "Syg"},
        headers={"X-CSRF-Token": session["csrf_token"]},
    )
    assert again.status == 200 and (await again.json())["status"] == "cancelled"  # a retry is safe …
    assert await snapshot(db, appointment_id) == before  # … and tells the interpreter nothing twice
    moved = await web.post(
        f"/appointments/{appointment_id}/reschedule",
        {"date": "2026-11-26", "time": "13:00", "duration": "45", "reason": "Flyt"},
        from_page="/worker",
    )
    assert moved.status == 409 and "Aftalen er aflyst." in text_of(await moved.text())
    assert await snapshot(db, appointment_id) == before
