"""The demo works on the first try (issue 13): right after `serve --demo` has loaded its data, a demo worker
logs in, sees free times on the booking page and books the first one; the municipality has a crisis-line text."""

from __future__ import annotations

import re

import pyotp
from babel.dates import get_month_names
from sqlalchemy import func, select

from vbostotte import demo
from vbostotte.booking import availability
from vbostotte.models import Appointment, Citizen, MunicipalitySettings, Staff, WorkingHours

from support import reread, text_of

WHEN = re.compile(r"(\d{1,2})\. (\w+) kl\. (\d\d)\.(\d\d)")


async def load_demo_as_serve_does(db, settings, clock) -> None:
    """What `vbostotte serve --demo` runs before it starts (vbostotte/cli.py calls demo.load)."""
    info = await demo.load(db, settings, clock())
    await db.commit()
    assert len(info.logins) == 4


async def test_a_demo_worker_books_the_first_free_time_from_the_booking_page(db, settings, web, clock):
    settings = settings.with_secret()
    await load_demo_as_serve_does(db, settings, clock)
    anna = (await db.execute(select(Staff).where(Staff.email == "anna@demo.vbostotte.dk"))).scalar_one()
    mette = (await db.execute(select(Citizen).where(Citizen.name == "Mette Hansen"))).scalar_one()
    anna_id, mette_id = anna.id, mette.id
    # Her authenticator app is set up (enrolling is tested in test_staff_login.py): password, then the code.
    anna.totp_secret = secret = pyotp.random_base32()
    await db.commit()
    response = await web.post("/login", {"email": anna.email, "password": demo.PASSWORD})
    assert response.headers["Location"] == "/login/code"
    assert (await web.post("/login/code", {"code": pyotp.TOTP(secret).at(web.clock())})).status == 303

    # The world's clock stands exactly on a slot's start: the booking page lists it, and booking it works.
    page = text_of(await web.page("/appointments/new"))
    assert "You have no free times" not in page and "Du har ingen ledige tider" not in page
    first = WHEN.search(page.split("Dine næste ledige tider", 1)[1])
    assert first, page
    day, month_name, hour, minute = first.groups()
    month = {name: number for number, name in get_month_names("wide", locale="da").items()}[month_name]
    year = clock().year + (1 if month < clock().month else 0)
    done = await web.post(
        "/appointments/new",
        {
            "citizen_id": str(mette_id),
            "kind": "video",
            "date": f"{year}-{month:02d}-{int(day):02d}",
            "time": f"{hour}:{minute}",
            "duration": "45",
        },
    )
    assert done.status == 303, text_of(await done.text())
    assert "ikke ledig" not in text_of(await web.page(done.headers["Location"]))
    await reread(db)
    booked = (
        await db.execute(select(func.count()).select_from(Appointment).where(Appointment.created_by_id == anna_id))
    ).scalar_one()
    assert booked == 1


async def test_demo_workers_have_hours_and_the_municipality_a_crisis_line_also_in_an_older_demo(db, settings, clock):
    settings = settings.with_secret()
    await load_demo_as_serve_does(db, settings, clock)
    workers = (await db.execute(select(Staff).where(Staff.role == "worker"))).scalars().all()
    assert len(workers) == 2
    for worker in workers:
        assert [row for row in await availability.hours_of(db, worker.id) if row[0] == "work"]
    (crisis,) = (await db.execute(select(MunicipalitySettings.crisis_line_text))).scalars()
    assert "Livslinien" in crisis and "112" in crisis
    # A demo database made before the workers had hours gets them at the next start, once.
    for row in (await db.execute(select(WorkingHours))).scalars():
        await db.delete(row)
    await db.commit()
    assert await demo.ensure_ready(db) == 2
    assert await demo.ensure_ready(db) == 0
