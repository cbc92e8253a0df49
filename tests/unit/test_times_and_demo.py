"""Copenhagen time across daylight-saving changes, and the demo data a newcomer clicks through."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from vbostotte import demo, i18n
from vbostotte.models import Appointment, AppointmentKind, Citizen, Staff

from support import text_of

UTC = dt.UTC


@pytest.fixture
def danish():
    token = i18n.set_locale("da")
    yield
    i18n.reset_locale(token)


@pytest.mark.parametrize(
    "utc, shown",
    [
        (dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC), "tirsdag 1. december kl. 10.00"),  # winter: UTC+1
        (dt.datetime(2026, 6, 2, 8, 0, tzinfo=UTC), "tirsdag 2. juni kl. 10.00"),  # summer: UTC+2
        # Spring change (29 March 2026): 01:00 UTC is 03:00 local; 02:xx local never exists.
        (dt.datetime(2026, 3, 29, 0, 59, tzinfo=UTC), "søndag 29. marts kl. 01.59"),
        (dt.datetime(2026, 3, 29, 1, 0, tzinfo=UTC), "søndag 29. marts kl. 03.00"),
        # Autumn change (25 October 2026): local 02:30 happens twice, an hour apart in UTC.
        (dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC), "søndag 25. oktober kl. 02.30"),
        (dt.datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "søndag 25. oktober kl. 02.30"),
        (dt.datetime(2026, 10, 25, 2, 30, tzinfo=UTC), "søndag 25. oktober kl. 03.30"),
    ],
)
def test_times_are_shown_in_copenhagen_time(danish, utc, shown):
    assert i18n.format_when(utc) == shown


def test_english_formatting():
    token = i18n.set_locale("en")
    try:
        assert i18n.format_when(dt.datetime(2026, 12, 1, 9, 0, tzinfo=UTC)) == "Tuesday 1 December at 10:00"
    finally:
        i18n.reset_locale(token)


async def test_demo_data_is_loaded_once_with_a_week_of_both_kinds(db, settings, clock):
    assert await demo.seed(db, settings.with_secret(), clock()) is True
    assert await demo.seed(db, settings.with_secret(), clock()) is False
    await db.commit()
    assert (await db.execute(select(func.count()).select_from(Staff))).scalar_one() == 4
    assert (await db.execute(select(func.count()).select_from(Citizen))).scalar_one() == 4
    kinds = set((await db.execute(select(Appointment.kind))).scalars())
    assert kinds == {AppointmentKind.VIDEO, AppointmentKind.HOME_VISIT}
    starts = (await db.execute(select(Appointment.starts_at))).scalars().all()
    assert all(clock() < s < clock() + dt.timedelta(days=7) for s in starts)
    # A second start-up does not pile up more appointments while some are still ahead.
    assert await demo.ensure_week(db, clock()) == 0


async def test_every_demo_citizen_link_opens_their_page(db, settings, web, clock):
    await demo.seed(db, settings.with_secret(), clock())
    await db.commit()
    info = await demo.info(db, settings.with_secret())
    assert len(info.citizen_links) == 4 and len(info.logins) == 4
    for name, url in info.citizen_links:
        web.client.session.cookie_jar.clear()
        response = await web.open_link(url.rsplit("/l/", 1)[1])
        assert response.status == 303 and response.headers["Location"] == "/me"
        assert name.split()[0] in text_of(await web.page("/me"))
