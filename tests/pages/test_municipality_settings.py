"""What the administrator sets for the municipality, and the citizen's reminder consents, take effect."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from vbostotte.models import MunicipalitySettings, OutboxMessage, WorkingHours
from vbostotte.privacy import consent

from support import reread, text_of


@pytest.fixture
async def hours(world, db):
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
            for d in range(5)
        ]
    )
    await db.commit()
    return world


async def test_the_reminder_schedule_and_cut_off_apply_to_new_bookings(hours, web, other_web, db):
    world = hours
    await other_web.login(world.a.admin)
    saved = await other_web.post(
        "/admin/settings",
        {"offsets": ["2880", "60"], "cutoff": "5", "crisis_line_text": "Psykiatrisk akutmodtagelse: 7011 2233"},
    )
    assert saved.status == 303
    page = text_of(await other_web.page("/admin/settings"))
    assert "2 dage før" in page and "Psykiatrisk akutmodtagelse" in page
    await reread(db)
    settings = await db.get(MunicipalitySettings, world.a.id)
    assert (settings.reminder_offsets_minutes, settings.confirm_cutoff_minutes) == ("2880,60", 300)

    await web.login(world.a.worker)
    await web.post(
        f"/citizens/{world.a.citizen.id}/consents",
        {"kind": "email_reminders", "action": "withdraw", "how": "phone"},
        from_page=f"/citizens/{world.a.citizen.id}",
    )
    done = await web.post(
        "/appointments/new",
        {
            "citizen_id": str(world.a.citizen.id),
            "kind": "video",
            "date": "2026-12-01",
            "time": "10:00",
            "duration": "45",
        },
    )
    appointment_id = int(done.headers["Location"].split("/")[2].split("?")[0])
    await reread(db)
    planned = (
        await db.execute(
            select(OutboxMessage.channel, OutboxMessage.due_at).where(OutboxMessage.appointment_id == appointment_id)
        )
    ).all()
    starts = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)
    assert sorted(planned) == [("sms", starts - dt.timedelta(days=2)), ("sms", starts - dt.timedelta(hours=1))]


async def test_withdrawing_a_channel_drops_its_planned_reminders(hours, web, db):
    world = hours
    await web.login(world.a.worker)
    page = f"/citizens/{world.a.citizen.id}"
    await web.post(
        "/appointments/new",
        {
            "citizen_id": str(world.a.citizen.id),
            "kind": "home_visit",
            "date": "2026-12-02",
            "time": "13:00",
            "duration": "60",
        },
    )
    await web.post(
        f"{page}/consents", {"kind": "sms_reminders", "action": "withdraw", "how": "in_person"}, from_page=page
    )
    await reread(db)
    rows = (await db.execute(select(OutboxMessage.channel, OutboxMessage.status, OutboxMessage.last_error))).all()
    assert {(status, error) for channel, status, error in rows if channel == "sms"} == {
        ("dropped", "consent withdrawn")
    }
    assert {status for channel, status, _ in rows if channel == "email"} == {"pending"}
    assert await consent.has(db, world.a.citizen.id, consent.Kind.EMAIL_REMINDERS)
    assert not await consent.has(db, world.a.citizen.id, consent.Kind.SMS_REMINDERS)
    assert "Samtykket er registreret." in text_of(await web.page(f"{page}?done=consent"))


async def test_only_administrators_change_the_settings(web, world):
    await web.login(world.a.worker)
    response = await web.get("/admin/settings")
    assert response.status == 403
