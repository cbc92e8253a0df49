"""One-call guest links: a relative's link only with the citizen's consent, a guest's page and single-use ticket
only while the call is open, never after the link is stopped, never for another appointment; all audited."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from vbostotte.calls import call_access, guests
from vbostotte.identity import sessions
from vbostotte.models import Appointment, AuditEntry, CallTicket, GuestLink
from vbostotte.privacy import consent
from vbostotte.web import access_log

from support import read_in_english, reread, text_of

NO_CONSENT = "The citizen has not agreed that a relative may take part in video calls."
LINK_GONE = "This link does not work any more."
NOT_OPEN = "The call is open from 15 minutes before the start until an hour after the end."


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


async def make_link(web, appointment_id: int, kind: str = "relative", name: str = "Bo Holm"):
    return await web.post(f"/calls/{appointment_id}/guests", {"kind": kind, "name": name}, from_page="/worker")


async def the_link(db, appointment_id: int, kind: str) -> GuestLink:
    await reread(db)
    return (
        await db.execute(
            select(GuestLink).where(
                GuestLink.appointment_id == appointment_id, GuestLink.kind == kind, GuestLink.revoked_at.is_(None)
            )
        )
    ).scalar_one()


async def guest_ticket(guest, token: str, name: str = "Bo Holm"):
    return await guest.post(f"/g/{token}/ticket", {"name": name}, from_page=f"/g/{token}")


async def test_a_relatives_link_needs_the_citizens_consent(web, world, db, clock):
    appointment_id = world.a.citizen.appointment_id
    await consent.withdraw(
        db, world.a.worker.actor, world.a.citizen.id, consent.Kind.RELATIVE_IN_CALLS, "in_person", clock()
    )
    await db.commit()
    await web.login(world.a.worker)
    page = text_of(await web.page(f"/calls/{appointment_id}"))
    assert "A relative can only be invited when the citizen has agreed" in page
    refused = await make_link(web, appointment_id)
    assert refused.status == 409
    assert NO_CONSENT in text_of(await refused.text())
    await reread(db)
    assert (await db.execute(select(GuestLink))).first() is None

    await consent.give(
        db, world.a.worker.actor, world.a.citizen.id, consent.Kind.RELATIVE_IN_CALLS, "in_person", clock()
    )
    await db.commit()
    made = await make_link(web, appointment_id)
    assert made.status == 303
    link = await the_link(db, appointment_id, "relative")
    page = await web.page(f"/calls/{appointment_id}")
    assert "/g/" in page and "Bo Holm" in text_of(page)
    # Only the token's hash is stored; the address the worker sees hashes to it.
    shown = page.split("/g/", 1)[1].split("<", 1)[0]
    assert sessions.token_hash(shown) == link.token_hash and shown not in str(link.nonce)
    entries = (
        await db.execute(
            select(AuditEntry.action, AuditEntry.citizen_id, AuditEntry.object_id).where(
                AuditEntry.object_type == "guest_link"
            )
        )
    ).all()
    assert entries == [("guest_link.create", world.a.citizen.id, link.id)]

    # The script asks for JSON, so a link can be made during the call without leaving the page.
    again = await web.client.post(
        f"/calls/{appointment_id}/guests",
        data={"kind": "relative", "name": "Eva Holm"},
        headers={"X-CSRF-Token": await web.csrf_from("/worker"), "Accept": "application/json"},
    )
    body = await again.json()
    assert again.status == 200 and body["name"] == "Eva Holm" and "/g/" in body["url"]
    assert (await the_link(db, appointment_id, "relative")).name == "Eva Holm"  # the new link replaced the old one


async def test_a_guest_gets_a_ticket_only_while_the_call_is_open_and_until_the_link_is_stopped(
    web, other_web, world, db, clock
):
    appointment_id = world.a.citizen.appointment_id
    await web.login(world.a.worker)
    assert (await make_link(web, appointment_id)).status == 303
    page = await web.page(f"/calls/{appointment_id}")
    token = page.split("/g/", 1)[1].split("<", 1)[0]

    guest_page = text_of(await other_web.page(f"/g/{token}"))  # before the call opens: the page, not a ticket
    assert NOT_OPEN in guest_page
    early = await guest_ticket(other_web, token)
    assert early.status == 409 and NOT_OPEN in text_of(await early.text())

    clock.advance(days=1, minutes=-10)
    html = await other_web.page(f"/g/{token}")
    assert 'value="Bo Holm"' in html and "Join the call" in text_of(html)  # the name is prefilled
    ticket = await guest_ticket(other_web, token, name="Bo")
    assert ticket.status == 200
    issued = await ticket.json()
    await reread(db)
    joiner = await call_access.redeem(db, issued["ticket"], _settings(web), clock())
    assert joiner is not None and joiner.role == "guest" and joiner.name == "Bo"
    assert joiner.room == f"appointment-{appointment_id}" and joiner.id.startswith("guest-")
    assert await call_access.redeem(db, issued["ticket"], _settings(web), clock()) is None  # single use
    await db.commit()
    audited = (
        await db.execute(
            select(AuditEntry.actor_kind, AuditEntry.actor_role, AuditEntry.citizen_id).where(
                AuditEntry.action == "call.guest_join"
            )
        )
    ).all()
    assert audited == [("guest", "relative", world.a.citizen.id)]

    await web.login(world.a.worker)  # a day later: a new staff session
    stopped = await web.post(f"/calls/{appointment_id}/guests/revoke", {"kind": "relative"}, from_page="/worker")
    assert stopped.status == 303
    gone = await other_web.get(f"/g/{token}")
    assert gone.status == 404 and LINK_GONE in text_of(await gone.text())
    refused = await other_web.post(f"/g/{token}/ticket", {"name": "Bo"}, from_page="/login")
    assert refused.status == 404 and LINK_GONE in text_of(await refused.text())


def _settings(web):
    from vbostotte.web.keys import SETTINGS

    return web.client.app[SETTINGS]


async def test_a_link_stops_working_when_the_call_closes_or_the_consent_is_withdrawn(web, other_web, world, db, clock):
    appointment_id = world.a.citizen.appointment_id
    await web.login(world.a.worker)
    await make_link(web, appointment_id)
    token = (await web.page(f"/calls/{appointment_id}")).split("/g/", 1)[1].split("<", 1)[0]
    clock.advance(days=1, minutes=-10)
    assert (await other_web.get(f"/g/{token}")).status == 200
    await consent.withdraw(
        db, world.a.worker.actor, world.a.citizen.id, consent.Kind.RELATIVE_IN_CALLS, "in_person", clock()
    )
    await db.commit()
    withdrawn = await other_web.get(f"/g/{token}")
    assert withdrawn.status == 404 and LINK_GONE in text_of(await withdrawn.text())
    await consent.give(
        db, world.a.worker.actor, world.a.citizen.id, consent.Kind.RELATIVE_IN_CALLS, "in_person", clock()
    )
    await db.commit()
    assert (await other_web.get(f"/g/{token}")).status == 200
    clock.advance(minutes=10 + 45 + 61)  # past the planned end and the hour after it
    expired = await other_web.get(f"/g/{token}")
    assert expired.status == 404 and LINK_GONE in text_of(await expired.text())


async def test_the_interpreter_gets_a_link_of_their_own_that_reaches_only_their_appointment(web, world, db, clock):
    a_id, b_id = world.a.citizen.appointment_id, world.a.citizen.past_appointment_id
    appointment = await db.get(Appointment, a_id)
    appointment.interpreter_name, appointment.interpreter_language = "Tina Tolk", "arabisk"
    await db.commit()
    await web.login(world.a.worker)
    page = text_of(await web.page(f"/calls/{a_id}"))
    assert "Interpreter: Tina Tolk" in page and "/g/" in page
    link = await the_link(db, a_id, "interpreter")
    assert link.created_by_id is None  # made by the service for the booking's interpreter

    clock.advance(days=1, minutes=-10)
    settings = _settings(web)
    token, visit = await guests.issue_ticket(db, guests.token_for(link, settings.secret_key), None, settings, clock())
    assert visit.appointment.id == a_id
    # A ticket naming another appointment with this link is refused, whatever the other appointment is.
    forged = "f" * 43
    other = await db.get(Appointment, b_id)
    db.add(
        CallTicket(
            token_hash=sessions.token_hash(forged),
            appointment_id=b_id,
            principal_kind="guest",
            principal_id=link.id,
            expires_at=clock() + dt.timedelta(minutes=1),
            slot_starts_at=other.starts_at,
        )
    )
    await db.flush()
    assert await call_access.redeem(db, forged, settings, clock()) is None
    assert (await call_access.redeem(db, token, settings, clock())).room == f"appointment-{a_id}"
    await db.commit()

    # A link the worker stopped stays stopped: no new one appears by itself, the worker can make one.
    await web.login(world.a.worker)  # a day later: a new staff session
    stopped = await web.post(f"/calls/{a_id}/guests/revoke", {"kind": "interpreter"}, from_page="/worker")
    assert stopped.status == 303
    page = text_of(await web.page(f"/calls/{a_id}"))
    assert "Interpreter: Tina Tolk" not in page and "Make a new link for the interpreter" in page


async def test_another_worker_can_neither_make_nor_stop_links_of_a_call_that_is_not_theirs(web, world, db):
    await web.login(world.a.other_worker)
    refused = await make_link(web, world.a.citizen.appointment_id)
    assert refused.status == 404
    await reread(db)
    assert (await db.execute(select(GuestLink))).first() is None


def test_the_access_log_never_shows_a_guest_links_token():
    assert access_log.loggable_path("/g/abcdefghijklmnopqrstuvwxyz0123/ticket") == "/g/…/ticket"


async def test_a_changed_secret_key_retires_the_old_addresses_and_the_links_are_re_keyed(world, db, settings, clock):
    """Tokens are derived from a stored nonce and the secret key (docs/call-page.md). Changing the key (after a
    leak, say) must stop every address made with the old one, and the address the worker copies or the outbox
    sends afterwards must work."""
    import dataclasses

    appointment = await db.get(Appointment, world.a.citizen.appointment_id)
    appointment.interpreter_name, appointment.interpreter_language = "Tina Tolk", "arabisk"
    link = await guests.interpreter_link(db, appointment, settings, clock())
    old_address = guests.url_for(link, settings)
    await db.commit()
    old_token = old_address.rsplit("/", 1)[1]
    assert (await guests.open_link(db, old_token, settings, clock())).link.id == link.id

    rotated = dataclasses.replace(settings, secret_key="another-secret-key-after-a-leak-9876543210")
    with pytest.raises(guests.GuestLinkInvalid):  # the old address is dead at once, though its hash is stored
        await guests.open_link(db, old_token, rotated, clock())
    new_token = guests.url_for(link, rotated).rsplit("/", 1)[1]  # what the worker copies, or the outbox sends
    await db.commit()
    assert new_token != old_token
    assert (await guests.open_link(db, new_token, rotated, clock())).link.id == link.id
    for token, key in ((old_token, rotated), (old_token, settings)):
        with pytest.raises(guests.GuestLinkInvalid):
            await guests.open_link(db, token, key, clock())
    assert guests.url_for(link, rotated).endswith(new_token)  # stable under one key: the same address again
