"""Call now's notice to the citizen (issue 16), against the real local SMTP server and SMS gateway: sent at once, on
the channels the citizen agreed to, in discreet words with the citizen's page (never the personal link); dropped if
the call is already over when the sender gets to it."""

from __future__ import annotations

from vbostotte.calls import call_now
from vbostotte.privacy import consent

from unit import test_reminder_delivery as delivery
from unit.test_reminder_delivery import CITIZEN_EMAIL, CITIZEN_PHONE, assert_discreet, outbox_rows

# The reminder tests' fixtures: the worker's hours and the citizen's e-mail and phone, and the sender's rounds.
bookable, sending_settings, rounds = delivery.bookable, delivery.sending_settings, delivery.rounds


async def test_the_citizen_is_told_at_once_on_the_agreed_channels(bookable, db, clock, rounds, mail, gateway):
    world = bookable
    call_id = (await call_now.start(db, world.a.worker.actor, world.a.citizen.id, rounds.settings, clock())).id
    await db.commit()
    counts = await rounds.run()
    assert counts["sent"] == 2 and counts["claimed"] == 2
    [email] = mail.received
    assert email.to == [CITIZEN_EMAIL] and email.subject == "Din videosamtale begynder nu"
    assert "\nhttp://127.0.0.1/me\n" in email.body
    [sms] = gateway.delivered
    assert sms["to"] == CITIZEN_PHONE
    assert sms["text"] == "Din videosamtale begynder nu. Gå ind fra din side: http://127.0.0.1/me"
    for text in (email.subject, email.body, sms["text"]):
        assert_discreet(text, world)
    assert {row.status for row in await outbox_rows(db, call_id)} == {"sent"}


async def test_only_agreed_channels_and_never_after_the_call(bookable, db, clock, rounds, mail, gateway):
    world = bookable
    await consent.withdraw(db, world.a.worker.actor, world.a.citizen.id, consent.Kind.SMS_REMINDERS, "phone", clock())
    call_id = (await call_now.start(db, world.a.worker.actor, world.a.citizen.id, rounds.settings, clock())).id
    await db.commit()
    assert [row.channel for row in await outbox_rows(db, call_id)] == ["email"]
    clock.advance(minutes=call_now.CALL_NOW_MINUTES + rounds.settings.call_closes_minutes + 1)  # the call is over
    await rounds.run()
    assert mail.received == [] and gateway.requests == []
    [row] = await outbox_rows(db, call_id)
    assert row.status == "dropped"
