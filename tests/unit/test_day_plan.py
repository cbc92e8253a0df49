"""The day plan against the real database and a real local SMTP server: a task's reminder goes out through the
durable outbox only on a consented channel, and is not sent once the task is done or removed or the consent is
withdrawn; the worker adds tasks only with the consent; grades replace each other within a day."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from vbostotte import db as database
from vbostotte.actors import Actor
from vbostotte.booking import availability
from vbostotte.care import day_plan
from vbostotte.errors import InvalidInput, NotFound, PermissionDenied
from vbostotte.models import Citizen, DayGrade, OutboxMessage
from vbostotte.privacy import consent
from vbostotte.reminders import channels, sender

from support import reread

EMAIL = "mette@example.dk"
TODAY = dt.date(2026, 11, 23)  # the test clock's day: Monday, 08:00 in Copenhagen


def minute(hour: int, minutes: int = 0) -> int:
    return hour * 60 + minutes


def me(world, which="citizen") -> Actor:
    return Actor(kind="citizen", id=getattr(world.a, which).id, municipality_id=world.a.id, role="citizen")


@pytest.fixture
async def citizen(world, db):
    """The world's citizen (every consent given), reachable by e-mail only: SMS withdrawn."""
    row = await db.get(Citizen, world.a.citizen.id)
    row.email = EMAIL
    await consent.withdraw(
        db, me(world), row.id, consent.Kind.SMS_REMINDERS, "citizen_page", dt.datetime(2026, 11, 23, 6, tzinfo=dt.UTC)
    )
    await db.commit()
    return row.id


@pytest.fixture
async def send(settings, mail, database_url, clock):
    """One round of the real sender (its own engine, as the app's), with e-mail through the local SMTP server."""
    sending = dataclasses.replace(settings, smtp_host="127.0.0.1", smtp_port=mail.port)
    engine = database.create_engine(database_url)
    async with channels.open_channels(sending) as open_channels:

        async def run():
            return await sender.run_once(database.sessionmaker(engine), sending, clock, open_channels)

        yield run
    await engine.dispose()


async def messages_of(db, task_id):
    await reread(db)
    return [
        (m.channel, m.status, m.last_error)
        for m in (
            await db.execute(
                select(OutboxMessage).where(OutboxMessage.day_task_id == task_id).order_by(OutboxMessage.id)
            )
        ).scalars()
    ]


async def add(db, world, citizen_id, title, at_minute, clock, actor=None):
    task = await day_plan.add_task(db, actor or me(world), await db.get(Citizen, citizen_id), title, at_minute, clock())
    task_id = task.id
    await db.commit()
    return task_id


async def test_a_reminder_goes_out_by_email_once_at_its_time(world, db, clock, citizen, mail, send):
    task_id = await add(db, world, citizen, "Drik vand", minute(10), clock)
    assert await messages_of(db, task_id) == [("email", "pending", None)]  # consented channel only
    assert (await send())["claimed"] == 0  # not due yet

    clock.now = availability.to_utc(TODAY, minute(10))
    assert (await send())["sent"] == 1
    assert (await send())["claimed"] == 0
    [email] = mail.received
    assert email.to == [EMAIL]
    assert email.subject == "Påmindelse fra din dagsplan: Drik vand"
    assert email.body.startswith("Påmindelse fra din dagsplan: Drik vand, i dag kl. 10.00.\n")
    assert "kl. 10.00" in email.body and "http://127.0.0.1/me" in email.body
    assert world.a.citizen.link_token not in email.raw_text
    assert await messages_of(db, task_id) == [("email", "sent", None)]


async def test_no_reminder_for_a_task_done_or_removed_or_after_consent_is_withdrawn(
    world, db, clock, citizen, mail, send
):
    done = await add(db, world, citizen, "Stå op", minute(9), clock)
    removed = await add(db, world, citizen, "Køb ind", minute(9), clock)
    await day_plan.set_done(db, me(world), done, True, clock())
    await day_plan.remove_task(db, me(world), removed, clock())
    await db.commit()
    clock.now = availability.to_utc(TODAY, minute(9))
    await send()
    assert mail.received == []
    assert await messages_of(db, done) == [("email", "dropped", "task done")]  # checked again at send time
    assert await messages_of(db, removed) == []  # dropped with the task, kept in the outbox without it
    kept = (
        await db.execute(
            select(OutboxMessage.status, OutboxMessage.last_error).where(
                OutboxMessage.dedupe_key.like(f"day_task_reminder:{removed}:%")
            )
        )
    ).all()
    assert [tuple(row) for row in kept] == [("dropped", "task removed")]

    unconsented = await add(db, world, citizen, "Ring til lægen", minute(10), clock)
    await consent.withdraw(db, me(world), citizen, consent.Kind.EMAIL_REMINDERS, "citizen_page", clock())
    await db.commit()
    clock.now = availability.to_utc(TODAY, minute(10))
    await send()
    assert mail.received == []
    assert await messages_of(db, unconsented) == [("email", "dropped", "consent withdrawn")]


async def test_a_task_ticked_done_and_undone_again_still_gets_its_reminder(world, db, clock, citizen, mail, send):
    task_id = await add(db, world, citizen, "Gå en tur", minute(11), clock)
    await day_plan.set_done(db, me(world), task_id, True, clock())
    await day_plan.set_done(db, me(world), task_id, False, clock())
    await db.commit()
    clock.now = availability.to_utc(TODAY, minute(11))
    assert (await send())["sent"] == 1 and len(mail.received) == 1


async def test_without_a_consented_channel_nothing_is_planned(world, db, clock):
    task_id = await add(
        db, world, world.a.other_citizen.id, "Drik vand", minute(10), clock, actor=me(world, "other_citizen")
    )
    assert await messages_of(db, task_id) == []


async def test_the_worker_adds_a_task_only_with_the_citizens_consent(world, db, clock, citizen):
    task_id = await add(db, world, citizen, "Støvsug", None, clock, actor=world.a.worker.actor)
    plan = await day_plan.plan_for_worker(db, world.a.worker.actor, await db.get(Citizen, citizen), clock())
    assert task_id in [t.id for t in plan.tasks] and plan.tasks[-1].created_by == "staff"
    other = await db.get(Citizen, world.a.other_citizen.id)
    with pytest.raises(PermissionDenied):
        await day_plan.add_task(db, world.a.other_worker.actor, other, "Støvsug", None, clock())
    assert await day_plan.plan_for_worker(db, world.a.other_worker.actor, other, clock()) is None


async def test_a_reminder_time_must_be_later_today_and_the_plan_stays_small(world, db, clock, citizen):
    with pytest.raises(InvalidInput) as refused:
        await day_plan.add_task(db, me(world), await db.get(Citizen, citizen), "Stå op", minute(7), clock())
    assert refused.value.errors == {"remind_at": "Choose a time later today."}
    for n in range(day_plan.MAX_TASKS - 1):  # the world's citizen has "Køb ind" already
        await day_plan.add_task(db, me(world), await db.get(Citizen, citizen), f"Opgave {n}", None, clock())
    with pytest.raises(InvalidInput):
        await day_plan.add_task(db, me(world), await db.get(Citizen, citizen), "En for meget", None, clock())


async def test_a_citizen_cannot_touch_another_citizens_task(world, db, clock):
    for task_id in (world.b.day_task_id, world.a.day_task_id):
        with pytest.raises(NotFound):
            await day_plan.set_done(db, me(world, "other_citizen"), task_id, True, clock())
        with pytest.raises(NotFound):
            await day_plan.remove_task(db, me(world, "other_citizen"), task_id, clock())


async def test_the_days_grade_is_one_tap_and_the_last_answer_counts(world, db, clock):
    await day_plan.grade_day(db, me(world), 2, clock())
    clock.advance(hours=10)
    await day_plan.grade_day(db, me(world), 4, clock())
    await db.commit()
    await reread(db)
    rows = (await db.execute(select(DayGrade.day, DayGrade.grade))).all()
    assert [tuple(r) for r in rows] == [(TODAY, 4)]
    with pytest.raises(InvalidInput):
        await day_plan.grade_day(db, me(world), 6, clock())
