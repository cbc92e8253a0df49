"""Wellbeing check-ins as services against the real database: the consent gate on the worker's reads (and its
audit trail), the lowest answer marking the citizen for attention, the trend's "latest answer of the day", and
the chart's geometry."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from vbostotte import audit
from vbostotte.actors import Actor
from vbostotte.care import checkins, wellbeing_chart
from vbostotte.care.checkins import Day, Trend
from vbostotte.errors import InvalidInput, PermissionDenied
from vbostotte.models import AuditEntry, Citizen
from vbostotte.privacy import consent

from support import reread

WORKER_SEES = consent.Kind.WORKER_SEES_CHECKINS


def citizen_of(municipality, which="citizen") -> Actor:
    person = getattr(municipality, which)
    return Actor(kind="citizen", id=person.id, municipality_id=municipality.id, role="citizen")


async def checkin_reads(db, citizen_id) -> list[tuple]:
    await reread(db)
    rows = (
        await db.execute(
            select(AuditEntry)
            .where(AuditEntry.citizen_id == citizen_id, AuditEntry.action.like("checkin.%"))
            .order_by(AuditEntry.id)
        )
    ).scalars()
    return [(e.actor_id, e.action, e.purpose) for e in rows]


async def test_the_worker_sees_the_trend_only_with_consent_and_each_read_is_audited(world, db, clock):
    a = world.a
    await checkins.check_in(db, citizen_of(a), 2, "Træt", clock())
    await db.commit()
    citizen = await db.get(Citizen, a.citizen.id)

    trend = await checkins.trend(db, a.worker.actor, citizen, clock())  # the world's citizen has every consent
    await db.commit()
    assert [(d.level, d.words) for d in trend.days] == [(2, "Træt")]
    assert await checkin_reads(db, a.citizen.id) == [
        (a.citizen.id, "checkin.create", audit.Purpose.SELF_SERVICE),
        (a.worker.id, "checkin.view", audit.Purpose.WELLBEING_FOLLOW_UP),
    ]

    await consent.withdraw(db, citizen_of(a), a.citizen.id, WORKER_SEES, "citizen_page", clock())
    await db.commit()
    assert await checkins.trend(db, a.worker.actor, citizen, clock()) is None  # at once, nothing read
    await db.commit()
    assert len(await checkin_reads(db, a.citizen.id)) == 2

    await consent.give(db, citizen_of(a), a.citizen.id, WORKER_SEES, "citizen_page", clock())
    await db.commit()
    assert (await checkins.trend(db, a.worker.actor, citizen, clock())).levels == [2]


async def test_without_consent_a_worker_can_neither_read_nor_clear_the_mark(world, db, clock):
    other = await db.get(Citizen, world.a.other_citizen.id)  # has given no consent at all
    await checkins.check_in(db, citizen_of(world.a, "other_citizen"), 1, None, clock())
    assert await checkins.trend(db, world.a.other_worker.actor, other, clock()) is None
    assert await checkins.needing_attention(db, world.a.other_worker.actor, clock()) == []
    with pytest.raises(PermissionDenied):
        await checkins.mark_followed_up(db, world.a.other_worker.actor, other, clock())


async def test_a_lowest_check_in_marks_the_citizen_until_a_worker_follows_up(world, db, clock):
    a = world.a
    await checkins.check_in(db, citizen_of(a), 3, None, clock())
    assert await checkins.needing_attention(db, a.worker.actor, clock()) == []
    clock.advance(hours=2)
    await checkins.check_in(db, citizen_of(a), 1, "Det er svært", clock())
    [(citizen, at)] = await checkins.needing_attention(db, a.worker.actor, clock())
    assert (citizen.id, at) == (a.citizen.id, clock())
    # Only the citizen's own workers: not the colleague, not another municipality's worker.
    assert await checkins.needing_attention(db, a.other_worker.actor, clock()) == []
    assert await checkins.needing_attention(db, world.b.worker.actor, clock()) == []

    await checkins.mark_followed_up(db, a.worker.actor, citizen, clock())
    assert await checkins.needing_attention(db, a.worker.actor, clock()) == []
    trend = await checkins.trend(db, a.worker.actor, citizen, clock())
    assert not trend.needs_attention and trend.lowest_days == [checkins.local_day(clock())]


async def test_the_trend_shows_the_latest_answer_of_each_copenhagen_day(world, db, clock):
    a = world.a
    me = citizen_of(a)
    clock.now = dt.datetime(2026, 11, 22, 22, 30, tzinfo=dt.UTC)  # 23:30 Sunday in Copenhagen
    await checkins.check_in(db, me, 4, "søndag", clock())
    clock.now = dt.datetime(2026, 11, 22, 23, 30, tzinfo=dt.UTC)  # 00:30 Monday in Copenhagen
    await checkins.check_in(db, me, 2, "nat", clock())
    clock.advance(hours=10)
    await checkins.check_in(db, me, 3, "formiddag", clock())
    trend = await checkins.trend(db, a.worker.actor, await db.get(Citizen, a.citizen.id), clock())
    assert [(d.day.isoformat(), d.level, d.words) for d in trend.days] == [
        ("2026-11-22", 4, "søndag"),
        ("2026-11-23", 3, "formiddag"),
    ]
    assert trend.average == 3.5 and trend.last - trend.first == dt.timedelta(days=checkins.TREND_DAYS - 1)


async def test_only_the_citizen_checks_in_and_only_on_the_scale(world, db, clock):
    with pytest.raises(PermissionDenied):
        await checkins.check_in(db, world.a.worker.actor, 3, None, clock())
    for level in (0, 6):
        with pytest.raises(InvalidInput):
            await checkins.check_in(db, citizen_of(world.a), level, None, clock())


def test_the_chart_places_points_by_day_and_value_with_both_series():
    first = dt.date(2026, 10, 27)
    trend = Trend(
        first,
        first + dt.timedelta(days=27),
        [Day(first, 5, None, None), Day(first + dt.timedelta(days=27), 1, "svært", 3)],
        False,
    )
    chart = wellbeing_chart.chart(trend)
    top, bottom = chart.levels
    assert (top.x, top.y) == (chart.left, chart.top)  # first day, best answer: top left
    assert (bottom.x, bottom.y) == (chart.right, chart.bottom)  # last day, lowest answer: bottom right
    [grade] = chart.grades
    assert grade.value == 3 and grade.y == (chart.top + chart.bottom) / 2
    assert [day for day, _ in chart.x_ticks] == [first + dt.timedelta(days=n) for n in (0, 7, 14, 21)]
    assert [value for value, _ in chart.y_ticks] == [1, 2, 3, 4, 5]
