"""One-call guest links: the appointment's interpreter, and a relative if the citizen agreed to it, join one
video session's call from a link, without an account. A guest always waits until the worker lets them in.

A link belongs to one appointment and works only while its call is open (``calls.is_open``); it can be revoked,
and a relative's link stops working the moment the citizen withdraws the consent. Its token is derived from a
random nonce and the server's secret key, so the interpreter's invitation and reminder can be composed when they
are sent and the worker can copy a link again; only the token's SHA-256 is stored and looked up, and a token
must also be the one the current key gives (docs/call-page.md explains the choice and a key change).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.actors import Actor
from vbostotte.calls import calls
from vbostotte.config import Settings
from vbostotte.errors import Conflict, InvalidInput, NotFound
from vbostotte.i18n import N_
from vbostotte.identity import sessions
from vbostotte.models import Appointment, AppointmentKind, GuestLink
from vbostotte.privacy import consent
from vbostotte.reminders import outbox

INTERPRETER, RELATIVE = "interpreter", "relative"
MAX_NAME = 100
PATH = "/g/"  # the guest page's address is PATH + token (masked in the access log)


class GuestLinkInvalid(NotFound):
    message = N_("This link does not work any more. Ask your contact at the municipality for a new one.")


class NoRelativeConsent(Conflict):
    message = N_(
        "The citizen has not agreed that a relative may take part in video calls. Record the citizen's consent first."
    )


class NoInterpreter(Conflict):
    message = N_("This appointment has no interpreter. Add the interpreter to the appointment first.")


@dataclass(frozen=True)
class ActiveLink:
    """A guest link as the worker sees it on the call page: who it is for, and its address."""

    id: int
    kind: str
    name: str
    url: str


def token_for(link: GuestLink, secret: str) -> str:
    """The link's token: HMAC of its random nonce under the server's secret (never stored)."""
    digest = hmac.new(secret.encode(), f"guest-link:{link.nonce}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def url_for(link: GuestLink, settings: Settings) -> str:
    """The link's address, with the token the current secret key gives. After the key has been changed the
    stored hash is still the old token's, which stopped working with the old key (see ``open_link``): the
    link is re-keyed here, so the address the worker copies and the outbox sends works again."""
    token = token_for(link, settings.secret_key)
    if link.token_hash != (digest := sessions.token_hash(token)):
        link.token_hash = digest
    return settings.base_url.rstrip("/") + PATH + token


def _new_link(
    appointment: Appointment, kind: str, name: str, settings: Settings, now: dt.datetime, created_by: int | None
) -> GuestLink:
    link = GuestLink(
        appointment_id=appointment.id,
        kind=kind,
        name=name[:MAX_NAME],
        nonce=secrets.token_hex(16),
        created_at=now,
        created_by_id=created_by,
    )
    link.token_hash = sessions.token_hash(token_for(link, settings.secret_key))
    return link


def _wants_interpreter_link(appointment: Appointment) -> bool:
    return (
        appointment.kind == AppointmentKind.VIDEO
        and appointment.has_interpreter
        and appointment.interpreter_released_at is None
        and appointment.cancelled_at is None
    )


async def _active(db: AsyncSession, appointment_id: int) -> list[GuestLink]:
    stmt = (
        select(GuestLink)
        .where(GuestLink.appointment_id == appointment_id, GuestLink.revoked_at.is_(None))
        .order_by(GuestLink.id)
    )
    return list((await db.execute(stmt)).scalars())


async def interpreter_link(
    db: AsyncSession, appointment: Appointment, settings: Settings, now: dt.datetime
) -> GuestLink | None:
    """The interpreter's link for a video session with an interpreter, made the first time it is needed."""
    if not _wants_interpreter_link(appointment):
        return None
    made = (
        await db.execute(
            select(GuestLink)
            .where(GuestLink.appointment_id == appointment.id, GuestLink.kind == INTERPRETER)
            .order_by(GuestLink.id.desc())
            .limit(1)
        )
    ).scalar()
    if made is None:  # once only: a link the worker revoked stays revoked until they make a new one
        made = _new_link(appointment, INTERPRETER, appointment.interpreter_name or "", settings, now, None)
        db.add(made)
        await db.flush()
    return made if made.revoked_at is None else None


async def links_for(
    db: AsyncSession, actor: Actor, appointment: Appointment, settings: Settings, now: dt.datetime
) -> list[ActiveLink]:
    """The working guest links of the worker's own call (the interpreter's is made if it is due)."""
    if not (actor.is_staff and actor.id == appointment.worker_id):
        return []
    await interpreter_link(db, appointment, settings, now)
    return [
        ActiveLink(link.id, link.kind, link.name, url_for(link, settings))
        for link in await _active(db, appointment.id)
        if await _usable(db, link, appointment)
    ]


async def relative_allowed(db: AsyncSession, appointment: Appointment) -> bool:
    return await consent.has(db, appointment.citizen_id, consent.Kind.RELATIVE_IN_CALLS)


async def create_link(
    db: AsyncSession, actor: Actor, appointment_id: int, kind: str, name: str, settings: Settings, now: dt.datetime
) -> ActiveLink:
    """A new link for the interpreter or a relative of the worker's own video session, replacing that guest's
    earlier link. A relative's link needs the citizen's consent to relatives in calls."""
    appointment = await calls.call_for(db, actor, appointment_id, "guest_link.create")
    if not actor.is_staff or appointment.kind != AppointmentKind.VIDEO or appointment.cancelled_at is not None:
        raise NotFound()
    name = " ".join(name.split())
    if not 1 <= len(name) <= MAX_NAME:
        raise InvalidInput({"name": N_("Write the guest's name (at most 100 characters).")})
    if kind == INTERPRETER and not _wants_interpreter_link(appointment):
        raise NoInterpreter()
    if kind == RELATIVE and not await relative_allowed(db, appointment):
        raise NoRelativeConsent()
    for old in await _active(db, appointment.id):
        if old.kind == kind:
            old.revoked_at = now
    link = _new_link(appointment, kind, name, settings, now, actor.id)
    db.add(link)
    await db.flush()
    await _audit(db, actor, "guest_link.create", appointment, link)
    if kind == INTERPRETER and not await outbox.invitation_unsent(db, appointment.id):
        # The interpreter already has the invitation with the old link: the outbox sends them the new one
        # (an invitation still to be sent carries the link that is current when it goes).
        await outbox.notify_interpreter(db, appointment, outbox.INTERPRETER_NEW_LINK, now, ref=str(link.id))
    return ActiveLink(link.id, link.kind, link.name, url_for(link, settings))


async def revoke(db: AsyncSession, actor: Actor, appointment_id: int, kind: str, now: dt.datetime) -> None:
    """Stop the working guest link for ``kind`` (interpreter or relative) of the worker's own call."""
    appointment = await calls.call_for(db, actor, appointment_id, "guest_link.revoke")
    if not actor.is_staff:
        raise NotFound()
    for link in await _active(db, appointment.id):
        if link.kind == kind:
            link.revoked_at = now
            await _audit(db, actor, "guest_link.revoke", appointment, link)


async def _audit(db: AsyncSession, actor: Actor, action: str, appointment: Appointment, link: GuestLink) -> None:
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            action,
            audit.Purpose.SUPPORT,
            citizen_id=appointment.citizen_id,
            object_type="guest_link",
            object_id=link.id,
        ),
    )


async def _usable(db: AsyncSession, link: GuestLink, appointment: Appointment) -> bool:
    """Whether the link still lets its guest in (apart from the call's opening hours)."""
    if link.revoked_at is not None or link.appointment_id != appointment.id:
        return False
    if appointment.kind != AppointmentKind.VIDEO or appointment.cancelled_at is not None:
        return False
    if link.kind == INTERPRETER:
        return appointment.interpreter_released_at is None
    return await relative_allowed(db, appointment)


@dataclass(frozen=True)
class Visit:
    """A guest who opened a working link: their link and its appointment."""

    link: GuestLink
    appointment: Appointment

    @property
    def actor(self) -> Actor:
        """The guest as the audit log sees them."""
        return Actor(
            kind="guest",
            id=self.link.id,
            municipality_id=self.appointment.municipality_id,
            role=self.link.kind,
            name=self.link.name,
        )


async def open_link(db: AsyncSession, token: str, settings: Settings, now: dt.datetime) -> Visit:
    """The link behind a token, if it still works: not revoked, its call not over, its guest still welcome."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        raise GuestLinkInvalid()
    link = (await db.execute(select(GuestLink).where(GuestLink.token_hash == sessions.token_hash(token)))).scalar()
    if link is not None and not hmac.compare_digest(token, token_for(link, settings.secret_key)):
        link = None  # made under a secret key that has since been changed (a rotated key retires its links)
    appointment = await db.get(Appointment, link.appointment_id) if link else None
    if link is None or appointment is None or not await _usable(db, link, appointment):
        raise GuestLinkInvalid()
    closes = appointment.ends_at + dt.timedelta(minutes=settings.call_closes_minutes)
    if now > closes:
        raise GuestLinkInvalid()
    return Visit(link, appointment)


async def issue_ticket(
    db: AsyncSession, token: str, name: str | None, settings: Settings, now: dt.datetime
) -> tuple[str, Visit]:
    """A single-use join ticket (role guest) for the link's call while it is open; the guest may correct the
    name the others see."""
    visit = await open_link(db, token, settings, now)
    calls.check_joinable(visit.appointment, settings, now)
    if name is not None:
        name = " ".join(name.split())
        if not 1 <= len(name) <= MAX_NAME:
            raise InvalidInput({"name": N_("Write your name (at most 100 characters).")})
        visit.link.name = name
    ticket = await calls.new_ticket(db, visit.appointment, calls.PrincipalKind.GUEST, visit.link.id, now)
    await audit.record(
        db,
        visit.actor,
        audit.AuditEvent(
            "call.guest_join",
            audit.Purpose.SUPPORT,
            citizen_id=visit.appointment.citizen_id,
            object_type="appointment",
            object_id=visit.appointment.id,
        ),
    )
    return ticket, visit


async def joiner(db: AsyncSession, link_id: int, appointment: Appointment) -> calls.Joiner | None:
    """Who a redeemed guest ticket lets in: the link's guest, into the link's own appointment only."""
    link = await db.get(GuestLink, link_id)
    if link is None or not await _usable(db, link, appointment):
        return None
    return calls.Joiner(
        id=calls.participant_id(calls.PrincipalKind.GUEST, link.id),
        room=calls.room_name(appointment.id),
        role=calls.GUEST,
        name=link.name,
    )
