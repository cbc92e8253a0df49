"""A worker's holidays and sick days: added and removed by the worker, and never bookable."""

from __future__ import annotations

from sqlalchemy import func, select

from vbostotte.models import AvailabilityException, WorkingHours

from support import reread, text_of


async def test_an_absence_blocks_booking_until_it_is_removed(world, web, db):
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
            for d in range(5)
        ]
    )
    await db.commit()
    await web.login(world.a.worker)
    added = await web.post(
        "/worker/absences", {"first_day": "2026-12-07", "last_day": "2026-12-09", "reason": "holiday"}
    )
    assert added.status == 303
    page = text_of(await web.page("/worker/absences"))
    assert "Ferie: mandag 7. december – onsdag 9. december" in page
    refused = await web.post(
        "/appointments/new",
        {
            "citizen_id": str(world.a.citizen.id),
            "kind": "video",
            "date": "2026-12-08",
            "time": "10:00",
            "duration": "45",
        },
    )
    assert refused.status == 422 and "ikke ledig" in text_of(await refused.text())
    await reread(db)
    absence_id = (
        await db.execute(
            select(AvailabilityException.id).where(  # not the world's July holiday
                AvailabilityException.staff_id == world.a.worker.id, AvailabilityException.id != world.a.absence_id
            )
        )
    ).scalar_one()
    assert (await web.post(f"/worker/absences/{absence_id}/remove", {}, from_page="/worker/absences")).status == 303
    booked = await web.post(
        "/appointments/new",
        {
            "citizen_id": str(world.a.citizen.id),
            "kind": "video",
            "date": "2026-12-08",
            "time": "10:00",
            "duration": "45",
        },
    )
    assert booked.status == 303


async def test_a_last_day_before_the_first_is_refused_and_another_workers_absence_is_not_found(
    world, web, other_web, db
):
    await web.login(world.a.worker)
    bad = await web.post("/worker/absences", {"first_day": "2026-12-09", "last_day": "2026-12-07", "reason": "sick"})
    assert bad.status == 422
    await other_web.login(world.a.other_worker)
    await other_web.post("/worker/absences", {"first_day": "2026-12-09", "last_day": "2026-12-09", "reason": "sick"})
    await reread(db)
    theirs = (
        await db.execute(
            select(AvailabilityException.id).where(AvailabilityException.staff_id == world.a.other_worker.id)
        )
    ).scalar_one()
    assert (await web.post(f"/worker/absences/{theirs}/remove", {}, from_page="/worker/absences")).status == 404
    await reread(db)
    assert (
        await db.execute(
            select(func.count())
            .select_from(AvailabilityException)
            .where(AvailabilityException.staff_id == world.a.other_worker.id)
        )
    ).scalar_one() == 1
