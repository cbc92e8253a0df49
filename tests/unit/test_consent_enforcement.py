"""Consent is checked before acting: no reminder by e-mail or SMS without that consent, and a withdrawal takes
effect at once. Sent through the real outbox sender to a real local SMTP server and a local SMS gateway."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest
from sqlalchemy import select

from vbostotte import db as database
from vbostotte.actors import Actor
from vbostotte.booking import availability, booking
from vbostotte.models import AppointmentKind, Citizen, OutboxMessage, WorkingHours
from vbostotte.privacy import consent
from vbostotte.reminders import channels, sender

from support import reread

TUESDAY_10 = availability.to_utc(dt.date(2026, 11, 24), 10 * 60)
CHANNEL_KIND = {"email": consent.Kind.EMAIL_REMINDERS, "sms": consent.Kind.SMS_REMINDERS}


@pytest.fixture
async def bookable(world, db):
    """The worker works Monday–Friday 08–16; the citizen has an e-mail address and a phone number."""
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
            for d in range(5)
        ]
    )
    citizen = await db.get(Citizen, world.a.citizen.id)
    citizen.email, citizen.phone = "borger@example.dk", "+4520000001"
    await db.commit()
    return world


@pytest.fixture
async def send(settings, mail, gateway, database_url, clock):
    """One round of the real sender, with real channels."""
    sending = dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mail.port,
        sms_gateway_url=gateway.url,
        sms_gateway_token=gateway.token,
    )
    engine = database.create_engine(database_url)
    async with channels.open_channels(sending) as open_channels:

        async def run():
            return await sender.run_once(database.sessionmaker(engine), sending, clock, open_channels)

        yield run
    await engine.dispose()


def citizen(world) -> Actor:
    return Actor(kind="citizen", id=world.a.citizen.id, municipality_id=world.a.id, role="citizen")


async def book(db, world, clock) -> int:
    appointment = await booking.book(
        db,
        world.a.worker.actor,
        booking.BookingRequest(
            citizen_id=world.a.citizen.id, kind=AppointmentKind.VIDEO, starts_at=TUESDAY_10, duration_minutes=45
        ),
        clock(),
    )
    await db.commit()
    return appointment.id


def delivered(channel: str, mail, gateway) -> int:
    return len(mail.received) if channel == "email" else len(gateway.delivered)


@pytest.mark.parametrize("channel", ["email", "sms"])
async def test_no_reminder_on_a_channel_without_its_consent(bookable, db, clock, send, mail, gateway, channel):
    world = bookable
    await consent.withdraw(db, citizen(world), world.a.citizen.id, CHANNEL_KIND[channel], "citizen_page", clock())
    await db.commit()
    appointment_id = await book(db, world, clock)
    await reread(db)
    planned = set(
        (
            await db.execute(select(OutboxMessage.channel).where(OutboxMessage.appointment_id == appointment_id))
        ).scalars()
    )
    assert channel not in planned and planned  # the other channel is still planned
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    await send()
    assert delivered(channel, mail, gateway) == 0
    assert delivered("sms" if channel == "email" else "email", mail, gateway) == 1


@pytest.mark.parametrize("channel", ["email", "sms"])
async def test_with_the_consent_the_reminder_goes_out(bookable, db, clock, send, mail, gateway, channel):
    world = bookable
    await book(db, world, clock)
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    await send()
    assert delivered(channel, mail, gateway) == 1


async def test_consent_given_after_booking_is_used_for_the_next_booking(bookable, db, clock, send, mail, gateway):
    world = bookable
    for kind in CHANNEL_KIND.values():
        await consent.withdraw(db, citizen(world), world.a.citizen.id, kind, "citizen_page", clock())
    await db.commit()
    await book(db, world, clock)
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    assert (await send())["claimed"] == 0
    await consent.give(db, world.a.worker.actor, world.a.citizen.id, consent.Kind.SMS_REMINDERS, "in_person", clock())
    await db.commit()
    await booking.book(
        db,
        world.a.worker.actor,
        booking.BookingRequest(
            citizen_id=world.a.citizen.id,
            kind=AppointmentKind.HOME_VISIT,
            starts_at=TUESDAY_10 + dt.timedelta(days=1),
            duration_minutes=45,
        ),
        clock(),
    )
    await db.commit()
    clock.now = TUESDAY_10 + dt.timedelta(hours=1)
    await send()
    assert len(gateway.delivered) == 1 and mail.received == []


async def test_a_withdrawal_drops_pending_reminders_on_that_channel_at_once(bookable, db, clock, send, mail, gateway):
    world = bookable
    appointment_id = await book(db, world, clock)
    await consent.withdraw(db, citizen(world), world.a.citizen.id, consent.Kind.SMS_REMINDERS, "citizen_page", clock())
    await db.commit()  # the same transaction as the withdrawal
    await reread(db)
    rows = (
        await db.execute(
            select(OutboxMessage.channel, OutboxMessage.status, OutboxMessage.last_error).where(
                OutboxMessage.appointment_id == appointment_id, OutboxMessage.recipient_kind == "citizen"
            )
        )
    ).all()
    assert {(s, e) for c, s, e in rows if c == "sms"} == {("dropped", "consent withdrawn")}
    assert {s for c, s, _ in rows if c == "email"} == {"pending"}
    clock.now = TUESDAY_10 - dt.timedelta(minutes=30)
    await send()
    assert gateway.requests == [] and len(mail.received) == 1
