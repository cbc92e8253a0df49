"""The interpreter's way into a video session: the invitation, its reminder, the "moved" notice and a new link's
notice carry the one-call guest link, sent through the outbox to a real local SMTP server and SMS gateway. The
link from the mail opens the guest call page of exactly that appointment; a home visit's invitation has none; a
cancelled appointment, a stopped link and a released interpreter give the "does not work any more" page."""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import icalendar
import pytest
from sqlalchemy import select

from vbostotte import db as database
from vbostotte.booking import availability, booking
from vbostotte.calls import call_access
from vbostotte.models import AppointmentKind, Citizen, GuestLink, OutboxMessage, Staff, WorkingHours
from vbostotte.reminders import channels, sender

from support import read_in_english, reread, text_of

INTERPRETER = booking.Interpreter(
    name="Tolk Tina Ali", language="arabisk", email="tina@tolke.example.dk", phone="+4530000000"
)
LINK = re.compile(r"http://127\.0\.0\.1/g/([A-Za-z0-9_-]{43})")
LINK_GONE = "This link does not work any more."
NOT_OPEN = "The call is open from 15 minutes before the start until an hour after the end."


def at(year, month, day, hour, minute=0) -> dt.datetime:
    return availability.to_utc(dt.date(year, month, day), hour * 60 + minute)


TUESDAY_10, WEDNESDAY_13, THURSDAY_10 = at(2026, 11, 24, 10), at(2026, 11, 25, 13), at(2026, 11, 26, 10)


@pytest.fixture(autouse=True)
def english(other_web):
    read_in_english(other_web)  # the guest's browser; the messages themselves are Danish, as interpreters read


@pytest.fixture
async def bookable(world, db):
    """The worker (Anne Jensen) works Monday–Friday 08–16; the citizen is Mette Hansen."""
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=8 * 60, end_minute=16 * 60)
            for d in range(5)
        ]
    )
    citizen = await db.get(Citizen, world.a.citizen.id)
    citizen.name, citizen.preferred_name = "Mette Hansen", "Mette"
    (await db.get(Staff, world.a.worker.id)).name = "Anne Jensen"
    await db.commit()
    return world


@pytest.fixture
async def send(settings, mail, gateway, database_url, clock):
    """One round of the outbox sender against the real SMTP server and SMS gateway (the app's secret and
    address, so the links it writes are the app's)."""
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


async def book(db, world, clock, starts_at, kind=AppointmentKind.VIDEO, interpreter=INTERPRETER) -> int:
    appointment = await booking.book(
        db,
        world.a.worker.actor,
        booking.BookingRequest(
            citizen_id=world.a.citizen.id,
            kind=kind,
            starts_at=starts_at,
            duration_minutes=45,
            note_to_citizen="Vi taler om din økonomi",
            interpreter=interpreter,
        ),
        clock(),
    )
    await db.commit()
    return appointment.id


def to_interpreter(mail, gateway, since: int = 0, sms_since: int = 0):
    mails = [m for m in mail.received[since:] if m.to == [INTERPRETER.email]]
    texts = [sms["text"] for sms in gateway.delivered[sms_since:] if sms["to"] == INTERPRETER.phone]
    return mails, texts


def link_in(text: str) -> str | None:
    found = LINK.findall(text)
    assert len(set(found)) <= 1, text
    return found[0] if found else None


def event_of(mail) -> icalendar.Event:
    return icalendar.Calendar.from_ical(mail.calendar).walk("VEVENT")[0]


async def join_as_guest(guest, token: str):
    """Open the link as the interpreter's browser would, and ask for a ticket from its page."""
    page = await guest.get(f"/g/{token}")
    from_page = f"/g/{token}" if page.status == 200 else "/login"  # a dead link's page has no form to post from
    return page, await guest.post(f"/g/{token}/ticket", {"name": "Tina"}, from_page=from_page)


async def test_the_interpreters_invitation_carries_the_link_to_exactly_that_call_until_it_is_cancelled(
    bookable, web, other_web, db, clock, send, mail, gateway
):
    world = bookable
    tuesday = await book(db, world, clock, TUESDAY_10)
    wednesday = await book(db, world, clock, WEDNESDAY_13)
    await book(db, world, clock, THURSDAY_10, kind=AppointmentKind.HOME_VISIT)
    assert (await send())["sent"] == 6  # three invitations, by e-mail and by SMS

    mails, texts = to_interpreter(mail, gateway)

    def invitation(when: str):
        [found] = [m for m in mails if m.subject == f"Tolkning bestilt {when}"]
        [sms] = [text for text in texts if when in text]
        return found, sms

    tuesday_mail, tuesday_sms = invitation("tirsdag 24. november kl. 10.00")
    wednesday_mail, wednesday_sms = invitation("onsdag 25. november kl. 13.00")
    visit_mail, visit_sms = invitation("torsdag 26. november kl. 10.00")

    # Each video session's invitation carries its own link, the same in the mail, the SMS and the calendar event.
    token = link_in(tuesday_mail.body)
    assert token and link_in(tuesday_sms) == token and link_in(wednesday_mail.body) not in (None, token)
    assert (
        "Deltag i videosamtalen via dette link. Det åbner 15 minutter før start, og Anne lukker dig ind:\n"
        f"http://127.0.0.1/g/{token}\n"
    ) in tuesday_mail.body
    assert tuesday_sms.endswith(f"Kontakt: Anne. Link til videosamtalen: http://127.0.0.1/g/{token}")
    event = event_of(tuesday_mail)
    assert str(event["url"]) == str(event["location"]) == f"http://127.0.0.1/g/{token}"
    # A home visit's invitation has no link at all.
    assert link_in(visit_mail.body) is None and link_in(visit_sms) is None and "/g/" not in visit_mail.raw_text
    assert "url" not in event_of(visit_mail) and "location" not in event_of(visit_mail)
    # No more about the citizen than before: not their name, not the note to them, not their own link.
    for message in (tuesday_mail.raw_text, tuesday_sms, visit_mail.raw_text):
        for private in ("Mette", "Hansen", "økonomi", world.a.citizen.link_token, "Jensen"):
            assert private not in message
    await reread(db)
    links = (await db.execute(select(GuestLink.appointment_id, GuestLink.kind))).all()
    assert sorted(links) == sorted([(tuesday, "interpreter"), (wednesday, "interpreter")])  # made when sent

    # Opened before the call: the guest page of that appointment, saying when the call opens.
    page, early = await join_as_guest(other_web, token)
    assert page.status == 200 and NOT_OPEN in text_of(await page.text())
    assert early.status == 409
    # Ten minutes before Tuesday's start: the page offers to join, and the ticket lets the interpreter (as a guest,
    # waiting to be let in) into Tuesday's call, no other.
    clock.now = TUESDAY_10 - dt.timedelta(minutes=10)
    page, ticket = await join_as_guest(other_web, token)
    html = await page.text()
    assert page.status == 200 and "Join the call" in text_of(html) and 'value="Tolk Tina Ali"' in html
    assert not [private for private in ("Mette", "Hansen", "økonomi") if private in html]  # the page: only the time
    assert ticket.status == 200
    await reread(db)
    joiner = await call_access.redeem(db, (await ticket.json())["ticket"], _settings(web), clock())
    assert (joiner.room, joiner.role, joiner.name) == (f"appointment-{tuesday}", "guest", "Tina")
    await db.commit()
    _, refused = await join_as_guest(other_web, link_in(wednesday_mail.body))  # Wednesday's link: not yet
    assert refused.status == 409

    # The worker cancels Tuesday: the interpreter is told, without a link, and the link no longer works.
    await booking.cancel(db, world.a.worker.actor, tuesday, "sygdom", clock())
    await db.commit()
    before, sms_before = len(mail.received), len(gateway.delivered)
    assert (await send())["sent"] == 2
    [cancelled], [cancelled_sms] = to_interpreter(mail, gateway, before, sms_before)
    assert cancelled.subject == "Tolkning aflyst tirsdag 24. november kl. 10.00"
    assert "/g/" not in cancelled.raw_text and "/g/" not in cancelled_sms
    gone, refused = await join_as_guest(other_web, token)
    assert gone.status == 404 and LINK_GONE in text_of(await gone.text())
    assert refused.status == 404
    assert (await other_web.get(f"/g/{link_in(wednesday_mail.body)}")).status == 200  # the other call's link works


async def test_the_reminder_and_a_move_carry_the_link_and_a_new_link_reaches_the_interpreter(
    bookable, web, other_web, db, clock, send, mail, gateway
):
    world = bookable
    appointment_id = await book(db, world, clock, TUESDAY_10)
    await send()
    [invitation], _ = to_interpreter(mail, gateway)
    first = link_in(invitation.body)

    # The worker moves it to 11:00: one "moved" notice (not a second invitation as well), with the same link.
    await booking.reschedule(db, world.a.worker.actor, appointment_id, at(2026, 11, 24, 11), 45, "", clock())
    await db.commit()
    before, sms_before = len(mail.received), len(gateway.delivered)
    assert (await send())["sent"] == 2
    [moved], [moved_sms] = to_interpreter(mail, gateway, before, sms_before)
    assert moved.subject == "Tolkning flyttet til tirsdag 24. november kl. 11.00"
    assert link_in(moved.body) == link_in(moved_sms) == first
    assert str(event_of(moved)["url"]).endswith(first)

    # The worker stops the link and makes a new one: the interpreter is sent the new one at once; the old one is dead.
    await web.login(world.a.worker)
    assert (
        await web.post(
            f"/calls/{appointment_id}/guests/revoke", {"kind": "interpreter"}, from_page=f"/calls/{appointment_id}"
        )
    ).status == 303
    assert (
        await web.post(
            f"/calls/{appointment_id}/guests",
            {"kind": "interpreter", "name": "Tina Ali"},
            from_page=f"/calls/{appointment_id}",
        )
    ).status == 303
    before, sms_before = len(mail.received), len(gateway.delivered)
    assert (await send())["sent"] == 2
    [renewed], [renewed_sms] = to_interpreter(mail, gateway, before, sms_before)
    second = link_in(renewed.body)
    assert renewed.subject == "Nyt link til tolkningen tirsdag 24. november kl. 11.00"
    assert "Det tidligere link virker ikke længere." in renewed.body
    assert second not in (None, first) and link_in(renewed_sms) == second
    assert (await other_web.get(f"/g/{first}")).status == 404
    assert (await other_web.get(f"/g/{second}")).status == 200
    assert second in await web.page(f"/calls/{appointment_id}")  # the worker's page shows the same address

    # One hour before the new time: the interpreter's reminder, with the link; the old time's reminder was dropped.
    clock.now = at(2026, 11, 24, 10)
    before, sms_before = len(mail.received), len(gateway.delivered)
    assert (await send())["sent"] == 2  # the interpreter's reminder by e-mail and SMS (this citizen has no address)
    [reminder], [reminder_sms] = to_interpreter(mail, gateway, before, sms_before)
    assert reminder.subject == "Påmindelse: tolkning tirsdag 24. november kl. 11.00"
    assert reminder.body.startswith(
        "Påmindelse om tolkningen (arabisk): videosamtale tirsdag 24. november kl. 11.00, 45 minutter. Kontakt: Anne.\n"
    )
    assert link_in(reminder.body) == link_in(reminder_sms) == second
    assert reminder.calendar is None  # a reminder changes nothing in the calendar
    await reread(db)
    reminders = (
        await db.execute(
            select(OutboxMessage.dedupe_key, OutboxMessage.status).where(
                OutboxMessage.purpose == "interpreter_reminder"
            )
        )
    ).all()
    assert sorted(status for _, status in reminders) == ["dropped", "dropped", "sent", "sent"]
    assert {key.split(":")[2] for key, status in reminders if status == "sent"} == {"20261124T100000Z"}  # 11:00 local
    assert (await send())["claimed"] == 0


async def test_a_stopped_link_or_a_released_interpreter_gets_no_working_link(
    bookable, web, other_web, db, clock, send, mail, gateway
):
    world = bookable
    stopped = await book(db, world, clock, TUESDAY_10)
    released = await book(db, world, clock, WEDNESDAY_13)
    await send()
    [to_stopped] = [m for m in mail.received if "tirsdag" in m.subject]
    [to_released] = [m for m in mail.received if "onsdag" in m.subject]

    await web.login(world.a.worker)
    await web.post(f"/calls/{stopped}/guests/revoke", {"kind": "interpreter"}, from_page=f"/calls/{stopped}")
    gone = await other_web.get(f"/g/{link_in(to_stopped.body)}")
    assert gone.status == 404 and LINK_GONE in text_of(await gone.text())
    # Its reminder still goes out (the time stands), but without the stopped link and without a new one.
    clock.now = TUESDAY_10 - dt.timedelta(hours=1)
    before = len(mail.received)
    await send()
    [reminder], _ = to_interpreter(mail, gateway, before, len(gateway.delivered))
    assert reminder.subject.startswith("Påmindelse: tolkning") and "/g/" not in reminder.raw_text

    await booking.release_interpreter(db, world.a.worker.actor, released, clock())
    await db.commit()
    before = len(mail.received)
    await send()
    [released_notice], _ = to_interpreter(mail, gateway, before, len(gateway.delivered))
    assert (
        released_notice.subject.startswith("Tolkning er ikke længere nødvendig") and "/g/" not in released_notice.body
    )
    clock.now = WEDNESDAY_13 - dt.timedelta(minutes=10)
    gone = await other_web.get(f"/g/{link_in(to_released.body)}")
    assert gone.status == 404 and LINK_GONE in text_of(await gone.text())
    await reread(db)
    statuses = (
        await db.execute(
            select(OutboxMessage.status, OutboxMessage.last_error).where(
                OutboxMessage.appointment_id == released, OutboxMessage.purpose == "interpreter_reminder"
            )
        )
    ).all()
    assert set(statuses) == {("dropped", "interpreter released")}


def _settings(web):
    from vbostotte.web.keys import SETTINGS

    return web.client.app[SETTINGS]
