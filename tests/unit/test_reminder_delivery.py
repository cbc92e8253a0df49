"""Sending reminders and interpreters' notices from the outbox, against a real local SMTP server and a
local SMS gateway: what is sent, what is never sent, retries, and the background task in the app."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import hashlib

import pytest
from sqlalchemy import select

from vbostotte import db as database
from vbostotte.actors import Actor
from vbostotte.app import create_app
from vbostotte.booking import availability, booking
from vbostotte.models import (
    AppointmentKind,
    Citizen,
    CitizenResponse,
    OutboxMessage,
    Staff,
    WorkingHours,
)
from vbostotte.privacy import consent
from vbostotte.reminders import channels, sender

from mail_and_sms import MESSAGE_ID
from support import reread

UTC = dt.UTC
CITIZEN_EMAIL, CITIZEN_PHONE = "mette@example.dk", "+4520000001"
INTERPRETER = booking.Interpreter(
    name="Tolk Tina Ali", language="arabisk", email="tina@tolke.example.dk", phone="+4530000000"
)
# Words that would tell a reader of the phone's lock screen more than "an appointment": the service,
# the municipality, anything like a diagnosis, the citizen's name, the agenda.
GIVEAWAYS = (
    "bostøtte",
    "støtte",
    "support",
    "kommune",
    "aarhus",
    "social",
    "psyk",
    "diagnos",
    "mette",
    "hansen",
    "agenda",
    "/l/",
)


def at(year, month, day, hour, minute=0) -> dt.datetime:
    return availability.to_utc(dt.date(year, month, day), hour * 60 + minute)


TUESDAY_10 = at(2026, 11, 24, 10)  # the clock starts Monday 23 November 2026, 08:00 in Copenhagen


@pytest.fixture
async def bookable(world, db):
    """The worker (Anne Jensen) works Monday–Friday 08–16; the citizen (Mette Hansen) has an e-mail address
    and a phone number and consents to reminders by both (as every world citizen does)."""
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=8 * 60, end_minute=16 * 60)
            for d in range(5)
        ]
    )
    citizen = await db.get(Citizen, world.a.citizen.id)
    citizen.name, citizen.preferred_name, citizen.email, citizen.phone = (
        "Mette Hansen",
        "Mette",
        CITIZEN_EMAIL,
        CITIZEN_PHONE,
    )
    (await db.get(Staff, world.a.worker.id)).name = "Anne Jensen"
    await db.commit()
    return world


@pytest.fixture
def sending_settings(settings, mail, gateway):
    return dataclasses.replace(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=mail.port,
        sms_gateway_url=gateway.url,
        sms_gateway_token=gateway.token,
    )


@dataclasses.dataclass
class Rounds:
    """Runs the sender's rounds on demand, with the app's kind of engine and the test's clock."""

    sessions: object
    settings: object
    clock: object
    channels: dict

    async def run(self):
        return await sender.run_once(self.sessions, self.settings, self.clock, self.channels)


@pytest.fixture
async def rounds(sending_settings, database_url, clock):
    engine = database.create_engine(database_url)
    async with channels.open_channels(sending_settings) as open_channels:
        yield Rounds(database.sessionmaker(engine), sending_settings, clock, open_channels)
    await engine.dispose()


def citizen_actor(world) -> Actor:
    return Actor(kind="citizen", id=world.a.citizen.id, municipality_id=world.a.id, role="citizen")


async def book(db, world, clock, starts_at=TUESDAY_10, **kw):
    appointment = await booking.book(
        db,
        world.a.worker.actor,
        booking.BookingRequest(
            citizen_id=world.a.citizen.id,
            kind=kw.pop("kind", AppointmentKind.VIDEO),
            starts_at=starts_at,
            duration_minutes=45,
            **kw,
        ),
        clock(),
    )
    await db.commit()
    return Booked(appointment.id)


@dataclasses.dataclass(frozen=True)
class Booked:
    id: int  # only the id: the test's session forgets loaded rows whenever it rereads


async def outbox_rows(db, appointment_id):
    await reread(db)
    return (
        (
            await db.execute(
                select(OutboxMessage).where(OutboxMessage.appointment_id == appointment_id).order_by(OutboxMessage.id)
            )
        )
        .scalars()
        .all()
    )


def assert_discreet(text: str, world) -> None:
    lowered = text.lower()
    assert not [word for word in GIVEAWAYS if word in lowered], text
    assert world.a.citizen.link_token not in text


async def test_a_due_reminder_goes_out_once_by_email_and_once_by_sms_in_discreet_words(
    bookable, db, clock, rounds, mail, gateway
):
    world = bookable
    appointment = await book(db, world, clock)
    # Planned: 24 hours and 1 hour before, by e-mail and SMS. Nothing is due yet.
    assert (await rounds.run())["claimed"] == 0
    assert mail.received == [] and gateway.requests == []

    clock.now = TUESDAY_10 - dt.timedelta(hours=24)  # Monday 10:00 in Copenhagen
    counts = await rounds.run()
    assert counts["sent"] == 2 and counts["claimed"] == 2
    assert await rounds.run() == {"claimed": 0}  # sent once, not again

    [email] = mail.received
    assert email.to == [CITIZEN_EMAIL]
    assert email.subject == "Påmindelse: videosamtale i morgen kl. 10.00"
    assert email.body.startswith("Påmindelse: videosamtale i morgen kl. 10.00.\n")
    assert "\nhttp://127.0.0.1/me\n" in email.body
    assert email.message["Auto-Submitted"] == "auto-generated" and email.message["Content-Language"] == "da"
    assert email.message.get_content_type() == "text/plain"  # nothing attached for the citizen
    [sms] = gateway.delivered
    assert sms["to"] == CITIZEN_PHONE and sms["sender"] == "Bostotte"
    assert sms["text"].startswith("Påmindelse: videosamtale i morgen kl. 10.00. ")
    assert sms["text"].endswith(" http://127.0.0.1/me")
    for text in (email.subject, email.body, sms["text"]):
        assert_discreet(text, world)
    assert world.a.citizen.link_token not in email.raw_text

    rows = {row.channel: row for row in await outbox_rows(db, appointment.id) if row.status == "sent"}
    assert set(rows) == {"email", "sms"}
    assert all(row.sent_at == clock() and row.attempts == 1 and row.last_error is None for row in rows.values())
    # The Message-ID and the gateway's keys are derived from the outbox row, so a resend is recognisable.
    key_hash = hashlib.sha256(rows["email"].dedupe_key.encode()).hexdigest()
    assert MESSAGE_ID.match(email.message_id).groups() == (str(rows["email"].id), key_hash[:16], "127.0.0.1")
    [request] = gateway.requests
    assert request.headers["Idempotency-Key"] == hashlib.sha256(rows["sms"].dedupe_key.encode()).hexdigest()
    assert request.payload["reference"].startswith(f"outbox-{rows['sms'].id}.")
    # The one-hour reminders wait for their time.
    assert {row.status for row in await outbox_rows(db, appointment.id) if row.sent_at is None} == {"pending"}


async def test_an_english_speaking_citizen_is_reminded_in_english(bookable, db, clock, rounds, mail, gateway):
    world = bookable
    (await db.get(Citizen, world.a.citizen.id)).locale = "en"
    await db.commit()
    appointment = await book(db, world, clock, kind=AppointmentKind.HOME_VISIT)
    clock.now = TUESDAY_10 - dt.timedelta(minutes=60)  # Tuesday 09:00: both reminders are due (say, after an outage)
    await rounds.run()
    [email] = mail.received  # one reminder, not two at once
    assert {
        (row.status, row.last_error) for row in await outbox_rows(db, appointment.id) if row.channel == "email"
    } == {("sent", None), ("dropped", "superseded")}
    assert email.subject == "Reminder: visit today at 10:00"
    assert email.body.startswith(
        "Reminder: visit today at 10:00.\n\nSee the details on your page:\nhttp://127.0.0.1/me\n"
    )
    assert gateway.delivered[0]["text"] == "Reminder: visit today at 10:00. See your page: http://127.0.0.1/me"


async def test_reminders_of_an_appointment_cancelled_before_they_are_due_are_never_sent(
    bookable, db, clock, rounds, mail, gateway
):
    world = bookable
    appointment = await book(db, world, clock)
    clock.advance(minutes=30)
    await booking.cancel(db, world.a.worker.actor, appointment.id, "ill", clock())
    await db.commit()
    clock.now = TUESDAY_10 - dt.timedelta(minutes=30)  # every reminder's time has passed
    await rounds.run()
    assert mail.received == [] and gateway.requests == []
    assert {row.status for row in await outbox_rows(db, appointment.id)} == {"dropped"}


async def test_a_reminder_taken_for_sending_just_before_the_cancel_is_dropped_at_send_time(
    bookable, db, clock, rounds, mail, gateway
):
    world = bookable
    appointment = await book(db, world, clock)
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    async with rounds.sessions() as session, session.begin():
        claims = await sender.claim_due(session, clock(), 10, dt.timedelta(minutes=2))
    assert len(claims) == 2
    # The cancel commits between the claim and the send; it cannot drop rows already 'sending'.
    await booking.cancel(db, world.a.worker.actor, appointment.id, "ill", clock())
    await db.commit()
    outcomes = [
        await sender.deliver(rounds.sessions, rounds.settings, clock, rounds.channels, claim) for claim in claims
    ]
    assert outcomes == ["dropped", "dropped"]
    assert mail.received == [] and gateway.requests == []
    sent_or_dropped = {(row.status, row.last_error) for row in await outbox_rows(db, appointment.id)}
    assert sent_or_dropped == {("dropped", "cancelled"), ("dropped", None)}  # None: dropped when cancelled


async def test_reminders_planned_for_a_moved_appointments_old_time_are_dropped(
    bookable, db, clock, rounds, mail, gateway
):
    world = bookable
    appointment = await book(db, world, clock)
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    async with rounds.sessions() as session, session.begin():
        old_claims = await sender.claim_due(session, clock(), 10, dt.timedelta(minutes=2))
    # Moved to Wednesday 13:00 after the old reminders were taken for sending.
    await booking.reschedule(db, world.a.worker.actor, appointment.id, at(2026, 11, 25, 13), 45, "moved", clock())
    await db.commit()
    for claim in old_claims:
        assert await sender.deliver(rounds.sessions, rounds.settings, clock, rounds.channels, claim) == "dropped"
    assert mail.received == [] and gateway.requests == []
    rows = await outbox_rows(db, appointment.id)
    assert {row.last_error for row in rows if row.id in {c.id for c in old_claims}} == {"moved"}
    # The reminders for the new time go out when due, naming the new time.
    clock.now = at(2026, 11, 25, 13) - dt.timedelta(hours=24)
    assert (await rounds.run())["sent"] == 2
    assert "13.00" in mail.received[0].subject and "13.00" in gateway.delivered[0]["text"]


async def test_no_message_on_a_channel_the_citizen_withdrew_after_planning(
    bookable, db, clock, rounds, mail, gateway, monkeypatch
):
    world = bookable
    appointment = await book(db, world, clock)
    # Withdrawn without dropping the planned rows (as when a sender had already claimed them): the check at
    # send time must catch it on its own.
    monkeypatch.setattr(consent, "drop_reminders", lambda *args, **kw: asyncio.sleep(0))
    await consent.withdraw(
        db, citizen_actor(world), world.a.citizen.id, consent.Kind.SMS_REMINDERS, "citizen_page", clock()
    )
    await db.commit()
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    counts = await rounds.run()
    assert (counts["sent"], counts["dropped"]) == (1, 1)
    assert len(mail.received) == 1 and gateway.requests == []
    due = [row for row in await outbox_rows(db, appointment.id) if row.due_at <= clock()]
    assert {(row.channel, row.status, row.last_error) for row in due} == {
        ("email", "sent", None),
        ("sms", "dropped", "not agreed"),
    }


async def test_no_message_at_all_without_any_agreement(bookable, db, clock, rounds, mail, gateway):
    world = bookable
    for kind in (consent.Kind.EMAIL_REMINDERS, consent.Kind.SMS_REMINDERS):
        await consent.withdraw(db, citizen_actor(world), world.a.citizen.id, kind, "citizen_page", clock())
    await db.commit()
    await book(db, world, clock)
    clock.now = TUESDAY_10 - dt.timedelta(minutes=30)
    assert (await rounds.run())["claimed"] == 0
    assert mail.received == [] and gateway.requests == []


async def test_a_missing_phone_number_fails_the_sms_with_a_reason(bookable, db, clock, rounds, mail, gateway):
    world = bookable
    (await db.get(Citizen, world.a.citizen.id)).phone = None
    await db.commit()
    appointment = await book(db, world, clock)
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    await rounds.run()
    due = [row for row in await outbox_rows(db, appointment.id) if row.due_at <= clock()]
    assert {(row.channel, row.status, row.last_error) for row in due} == {
        ("email", "sent", None),
        ("sms", "failed", "no phone number"),
    }


async def test_the_interpreter_hears_of_the_booking_and_of_the_citizens_cant_come_or_the_workers_cancel(
    bookable, db, clock, rounds, mail, gateway
):
    world = bookable
    first = await book(db, world, clock, interpreter=INTERPRETER)
    second = await book(db, world, clock, starts_at=at(2026, 11, 25, 13), interpreter=INTERPRETER)
    assert (await rounds.run())["sent"] == 4  # both invitations, by e-mail and by SMS
    # "I can't come" (the citizen's one tap) cancels the first; the worker cancels the second.
    await booking.respond(db, citizen_actor(world), first.id, CitizenResponse.CANT_COME, clock())
    await booking.cancel(db, world.a.worker.actor, second.id, "the worker is ill", clock())
    await db.commit()
    assert (await rounds.run())["sent"] == 4

    notices = [m for m in mail.received if m.to == [INTERPRETER.email]]
    texts = [sms["text"] for sms in gateway.delivered if sms["to"] == INTERPRETER.phone]
    assert len(notices) == 4 and len(texts) == 4
    for text in [m.body for m in notices] + [m.subject for m in notices] + texts:
        assert_discreet(text, world)
        assert "Tina" not in text and "Jensen" not in text  # neither the interpreter's nor the worker's full name
        assert "the worker is ill" not in text  # nor the reason
    for text in [m.body for m in notices] + texts:
        # Date and time in Danish, the language, the worker's first name.
        assert "tirsdag 24. november kl. 10.00" in text or "onsdag 25. november kl. 13.00" in text, text
        assert "arabisk" in text and "Anne" in text
    purposes = {
        row.purpose
        for appointment in (first, second)
        for row in await outbox_rows(db, appointment.id)
        if row.recipient_kind == "interpreter" and row.status == "sent"
    }
    assert purposes == {"interpreter_invite", "interpreter_cant_come", "interpreter_cancelled"}
    assert len({m.body for m in notices}) == 4
    # Each e-mail carries the calendar invitation, or its cancellation, with the same event.
    methods = sorted(m.calendar.split("METHOD:")[1].split()[0] for m in notices)
    assert methods == ["CANCEL", "CANCEL", "REQUEST", "REQUEST"]
    assert all(world.a.citizen.link_token not in m.raw_text and "Mette" not in m.calendar for m in notices)


async def test_a_released_interpreter_hears_only_that_they_are_released(bookable, db, clock, rounds, mail, gateway):
    world = bookable
    appointment = await book(db, world, clock, interpreter=INTERPRETER)
    await booking.release_interpreter(db, world.a.worker.actor, appointment.id, clock())
    await db.commit()
    counts = await rounds.run()
    assert (counts["sent"], counts["dropped"]) == (2, 2)
    rows = [row for row in await outbox_rows(db, appointment.id) if row.recipient_kind == "interpreter"]
    assert {(row.purpose, row.status) for row in rows} == {
        ("interpreter_invite", "dropped"),
        ("interpreter_reminder", "dropped"),
        ("interpreter_released", "sent"),
    }


async def test_a_gateway_error_is_retried_after_back_off_and_the_sms_is_sent_once(bookable, db, clock, rounds, gateway):
    world = bookable
    appointment = await book(db, world, clock)
    gateway.answers = [500]
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    await rounds.run()
    [sms_row] = [r for r in await outbox_rows(db, appointment.id) if r.channel == "sms" and r.due_at <= clock()]
    assert (sms_row.status, sms_row.attempts, sms_row.last_error) == ("pending", 1, "sms http 500")
    assert sms_row.next_attempt_at == clock() + dt.timedelta(minutes=1)
    assert (await rounds.run())["claimed"] == 0  # not before the back-off
    clock.advance(minutes=1)
    assert (await rounds.run())["sent"] == 1
    assert len(gateway.requests) == 2 and len(gateway.delivered) == 1
    assert len({r.headers["Idempotency-Key"] for r in gateway.requests}) == 1  # the same message, twice asked
    [sms_row] = [r for r in await outbox_rows(db, appointment.id) if r.id == sms_row.id]
    assert (sms_row.status, sms_row.attempts, sms_row.sent_at) == ("sent", 2, clock())


async def test_a_refused_sms_fails_at_once_and_is_not_retried(bookable, db, clock, rounds, gateway):
    world = bookable
    appointment = await book(db, world, clock)
    gateway.answers = [400]
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    assert (await rounds.run())["failed"] == 1
    clock.advance(minutes=90)
    await rounds.run()
    assert len(gateway.requests) == 1
    [sms_row] = [r for r in await outbox_rows(db, appointment.id) if r.channel == "sms" and r.attempts]
    assert (sms_row.status, sms_row.attempts, sms_row.last_error) == ("failed", 1, "sms http 400")


async def test_after_eight_failed_attempts_with_growing_pauses_the_sender_gives_up(
    bookable, db, clock, rounds, gateway
):
    world = bookable
    appointment = await book(db, world, clock)
    gateway.answers = [503] * 20
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    pauses = []
    for _ in range(8):
        await rounds.run()
        [row] = [r for r in await outbox_rows(db, appointment.id) if r.channel == "sms" and r.attempts]
        if row.status == "pending":
            pauses.append(row.next_attempt_at - clock())
            clock.now = row.next_attempt_at
    assert [p // dt.timedelta(minutes=1) for p in pauses] == [1, 2, 4, 8, 16, 32, 60]
    assert (row.status, row.attempts, row.last_error) == ("failed", 8, "sms http 503")
    assert len(gateway.requests) == 8


async def test_a_temporary_smtp_refusal_is_retried_and_a_permanent_one_is_not(bookable, db, clock, rounds, mail):
    world = bookable
    appointment = await book(db, world, clock)
    mail.answers = ["451 4.3.0 Try again later", "550 5.1.1 No such mailbox"]
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    await rounds.run()
    clock.advance(minutes=1)
    await rounds.run()
    rows = [r for r in await outbox_rows(db, appointment.id) if r.channel == "email" and r.attempts]
    assert [(r.status, r.attempts, r.last_error) for r in rows] == [("failed", 2, "smtp 550")]
    assert mail.received == []


async def test_the_app_sends_in_the_background_and_stops_cleanly(
    bookable, db, clock, sending_settings, mail, gateway, aiohttp_client
):
    world = bookable
    await book(db, world, clock)
    clock.now = TUESDAY_10 - dt.timedelta(hours=24)
    settings = dataclasses.replace(sending_settings, outbox_worker=True, outbox_poll_seconds=1)
    client = await aiohttp_client(create_app(settings, clock=clock))
    async with asyncio.timeout(10):
        while len(mail.received) < 1 or len(gateway.delivered) < 1:
            await asyncio.sleep(0.02)
    assert (await client.get("/healthz")).status == 200
    await client.close()  # runs the cleanup: the sender stops without waiting for a timeout
    assert len(mail.received) == 1 and len(gateway.delivered) == 1
