"""The citizen sees when their support worker answers messages, and the crisis line outside those hours."""

from __future__ import annotations

import datetime as dt

from vbostotte.models import MunicipalitySettings, WorkingHours

from support import text_of

UTC = dt.UTC
CRISIS = "Psykiatrisk akutmodtagelse: 7011 2233"


async def test_message_hours_and_the_crisis_line(world, web, db, clock):
    db.add(WorkingHours(staff_id=world.a.worker.id, kind="messages", weekday=0, start_minute=540, end_minute=600))
    db.add(
        MunicipalitySettings(
            municipality_id=world.a.id,
            reminder_offsets_minutes="1440,60",
            confirm_cutoff_minutes=180,
            crisis_line_text=CRISIS,
        )
    )
    await db.commit()
    clock.now = dt.datetime(2026, 11, 23, 8, 30, tzinfo=UTC)  # Monday 09.30 in Copenhagen
    await web.open_link(world.a.citizen.link_token)
    assert 'href="/me/contact"' in await web.page("/me")  # the start page's menu leads to them
    page = text_of(await web.page("/me/contact"))
    assert "Worker svarer på beskeder nu." in page and "mandag 09.00–10.00" in page
    assert CRISIS not in page and CRISIS not in text_of(await web.page("/me"))
    clock.now = dt.datetime(2026, 11, 23, 10, 0, tzinfo=UTC)  # 11.00: outside the hours
    page = text_of(await web.page("/me/contact"))
    assert "svarer på beskeder nu" not in page and CRISIS in page and "Hvis du har brug for hjælp nu" in page
    # Nobody answers now: the start page itself says where to turn.
    home = text_of(await web.page("/me"))
    assert CRISIS in home and "Hvis du har brug for hjælp nu" in home
