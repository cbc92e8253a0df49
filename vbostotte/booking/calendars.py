"""Calendars: appointments as iCalendar (RFC 5545) — a file per appointment for staff and for the
citizen, a worker's private feed for their phone's calendar, and the interpreter's invitation
(iTIP REQUEST / CANCEL, RFC 5546) for the e-mail sender to attach.

Every event of one appointment has the same UID wherever it appears, and a SEQUENCE that booking
raises when the appointment is moved or cancelled, so a calendar app replaces what it has. Times
are written by the iCalendar library, in UTC. What an event says depends on who reads it: a worker
sees the citizen's preferred name; the citizen sees their note; the interpreter never sees who the
citizen is.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Callable, Iterable, Iterator
from email.utils import parseaddr
from urllib.parse import urlsplit

import icalendar
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import access, audit, i18n
from vbostotte.actors import Actor
from vbostotte.booking import booking
from vbostotte.config import Settings
from vbostotte.errors import NotFound
from vbostotte.i18n import N_
from vbostotte.identity import sessions
from vbostotte.models import Appointment, AppointmentKind, CalendarFeed, Citizen, Staff, StaffRole

UTC = dt.UTC
PRODID = "-//Virtuel Bostotte//vbostotte//DA"
METHODS = ("REQUEST", "CANCEL")
FEED_NAME = "Virtuel Bostøtte"
FEED_DAYS_BACK, FEED_DAYS_AHEAD = 30, 180
FEED_REFRESH = dt.timedelta(hours=1)  # how often a phone should fetch the feed again
TOKEN_BYTES = 32  # 256 bits, like a personal link

Link = Callable[[Appointment], str]  # the address an event points to (built by the web layer from routes)

KIND_LABELS = {AppointmentKind.VIDEO: N_("Video session"), AppointmentKind.HOME_VISIT: N_("Home visit")}


# --- Building iCalendar --------------------------------------------------------------------------


def uid(appointment: Appointment, settings: Settings) -> str:
    """The appointment's UID: the same in every file and feed, so calendars update rather than duplicate."""
    host = urlsplit(settings.base_url).hostname or "localhost"
    return f"appointment-{appointment.id}@{host}"


def _kind(appointment: Appointment) -> str:
    return i18n.gettext(KIND_LABELS[AppointmentKind(appointment.kind)])


def _event(
    appointment: Appointment,
    settings: Settings,
    now: dt.datetime,
    summary: str,
    *,
    cancelled: bool | None = None,
    description: str | None = None,
    url: str | None = None,
) -> icalendar.Event:
    event = icalendar.Event()
    event.add("uid", uid(appointment, settings))
    event.add("dtstamp", now.astimezone(UTC))
    event.add("created", appointment.created_at.astimezone(UTC))
    event.add("dtstart", appointment.starts_at.astimezone(UTC))
    event.add("dtend", appointment.ends_at.astimezone(UTC))
    event.add("sequence", appointment.sequence or 0)
    if cancelled is None:
        cancelled = appointment.cancelled_at is not None
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    event.add("summary", summary)
    event.add("class", "PRIVATE")  # a calendar shared with colleagues shows "busy", not the event
    if description:
        event.add("description", description)
    if url:
        event.add("url", url)
    return event


def _calendar(events: Iterable[icalendar.Event], *, method: str | None = None, feed: bool = False) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if feed:
        calendar.add("x-wr-calname", FEED_NAME)
        calendar.add("refresh-interval", FEED_REFRESH, parameters={"VALUE": "DURATION"})  # RFC 7986
        # The same for clients that predate RFC 7986 (an X- property: its type must be given).
        calendar.add("x-published-ttl", icalendar.vDuration(FEED_REFRESH))
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()


def staff_event(
    appointment: Appointment, citizen: Citizen, settings: Settings, now: dt.datetime, link: Link
) -> icalendar.Event:
    """The event as staff see it: the kind and the citizen's preferred name, linking to the appointment page."""
    return _event(appointment, settings, now, f"{_kind(appointment)} – {citizen.preferred_name}", url=link(appointment))


def citizen_event(
    appointment: Appointment, worker: Staff, settings: Settings, now: dt.datetime, link: Link
) -> icalendar.Event:
    """The event as the citizen sees it: in plain words, with the note to them, linking to their page."""
    first_name = worker.name.split()[0] if worker.name.split() else worker.name
    summary = (
        i18n.gettext(N_("Video session with %(worker)s"), worker=first_name)
        if appointment.kind == AppointmentKind.VIDEO
        else i18n.gettext(N_("Home visit from %(worker)s"), worker=first_name)
    )
    return _event(appointment, settings, now, summary, description=appointment.note_to_citizen, url=link(appointment))


@contextlib.contextmanager
def _speaking(locale: str) -> Iterator[None]:
    token = i18n.set_locale(locale)
    try:
        yield
    finally:
        i18n.reset_locale(token)


def invitation(
    appointment: Appointment,
    settings: Settings,
    method: str = "REQUEST",
    *,
    now: dt.datetime | None = None,
    call_url: str | None = None,
) -> bytes:
    """The interpreter's calendar invitation (METHOD:REQUEST) or its cancellation (METHOD:CANCEL), as
    bytes to attach to the e-mail (``text/calendar; method=…; charset=utf-8``).

    It says when, what kind of session and which language; never who the citizen is. ORGANIZER is
    ``settings.mail_from``; the interpreter is the ATTENDEE when they have an e-mail address. ``call_url``,
    the interpreter's guest link to a video session, is the event's URL and LOCATION (where calendar apps
    show a meeting's link); a cancellation never carries it.
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    now = now or dt.datetime.now(UTC)
    cancelled = (
        method == "CANCEL" or appointment.cancelled_at is not None or appointment.interpreter_released_at is not None
    )
    with _speaking(settings.default_locale):
        summary = i18n.gettext(
            N_("Interpreting (%(language)s): %(kind)s"),
            language=appointment.interpreter_language or "",
            kind=_kind(appointment),
        )
        event = _event(appointment, settings, now, summary, cancelled=cancelled, url=None if cancelled else call_url)
    if call_url and not cancelled:
        event.add("location", call_url)
    sender_name, sender_address = parseaddr(settings.mail_from)
    organizer = icalendar.vCalAddress(f"mailto:{sender_address or 'noreply@localhost'}")
    if sender_name:
        organizer.params["CN"] = sender_name
    event.add("organizer", organizer)
    if appointment.interpreter_email:
        attendee = icalendar.vCalAddress(f"mailto:{appointment.interpreter_email}")
        attendee.params.update(
            {
                "CN": appointment.interpreter_name or "",
                "ROLE": "REQ-PARTICIPANT",
                "PARTSTAT": "NEEDS-ACTION",
                "RSVP": "FALSE",
            }
        )  # replies are not read
        event.add("attendee", attendee)
    return _calendar([event], method=method)


# --- Downloads ----------------------------------------------------------------------------------


async def for_staff(
    db: AsyncSession, actor: Actor, appointment_id: int, settings: Settings, now: dt.datetime, link: Link
) -> bytes:
    """One appointment as an .ics file, for staff who may see its citizen (the read is audit-logged)."""
    access.require_role(actor, StaffRole.WORKER, StaffRole.SUPERVISOR)
    appointment = await booking.appointment_for(db, actor, appointment_id, "appointment.calendar")
    citizen = await db.get(Citizen, appointment.citizen_id)  # authorised and logged just above
    if citizen is None:
        raise NotFound()
    return _calendar([staff_event(appointment, citizen, settings, now, link)])


async def for_citizen(
    db: AsyncSession, actor: Actor, appointment_id: int, settings: Settings, now: dt.datetime, link: Link
) -> bytes:
    """The citizen's own appointment as an .ics file (the read is audit-logged)."""
    if not actor.is_citizen:
        raise NotFound()
    appointment = await booking.appointment_for(db, actor, appointment_id, "appointment.calendar")
    worker = await db.get(Staff, appointment.worker_id)
    if worker is None:
        raise NotFound()
    return _calendar([citizen_event(appointment, worker, settings, now, link)])


# --- A worker's private feed ------------------------------------------------------------------


async def active_feed(db: AsyncSession, staff_id: int) -> CalendarFeed | None:
    stmt = select(CalendarFeed).where(CalendarFeed.staff_id == staff_id, CalendarFeed.revoked_at.is_(None))
    return (await db.execute(stmt)).scalars().first()


async def revoke_feed(db: AsyncSession, actor: Actor, now: dt.datetime) -> bool:
    """Stop the worker's feed address: calendars that use it get 404 from now on. True if there was one."""
    access.require_role(actor, StaffRole.WORKER)
    feed = await active_feed(db, actor.known_id)
    if feed is None:
        return False
    feed.revoked_at = now
    await audit.record(
        db,
        actor,
        audit.AuditEvent("calendar_feed.revoke", audit.Purpose.SUPPORT, object_type="calendar_feed", object_id=feed.id),
    )
    return True


async def create_feed(db: AsyncSession, actor: Actor, now: dt.datetime) -> str:
    """A new feed address for the worker (revoking any earlier one). Returns the token: shown once, never stored."""
    access.require_role(actor, StaffRole.WORKER)
    await revoke_feed(db, actor, now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    feed = CalendarFeed(staff_id=actor.id, token_hash=sessions.token_hash(token), created_at=now)
    db.add(feed)
    await db.flush()
    await audit.record(
        db,
        actor,
        audit.AuditEvent("calendar_feed.create", audit.Purpose.SUPPORT, object_type="calendar_feed", object_id=feed.id),
    )
    return token


async def _feed_owner(db: AsyncSession, token: str) -> tuple[CalendarFeed, Staff]:
    """The live feed for ``token`` and its worker; anything else is not found."""
    if not (20 <= len(token) <= 100):
        raise NotFound()
    stmt = select(CalendarFeed).where(
        CalendarFeed.token_hash == sessions.token_hash(token), CalendarFeed.revoked_at.is_(None)
    )
    feed = (await db.execute(stmt)).scalar_one_or_none()
    staff = await db.get(Staff, feed.staff_id) if feed is not None else None
    if feed is None or staff is None or not staff.active or staff.role != StaffRole.WORKER:
        raise NotFound()
    return feed, staff


async def feed(db: AsyncSession, token: str, settings: Settings, now: dt.datetime, link: Link) -> bytes:
    """The worker's appointments from 30 days back to 180 days ahead (cancelled ones included, so phones
    remove them), for a calendar app that cannot log in: the token is the key. Each fetch is audit-logged."""
    found, staff = await _feed_owner(db, token)
    actor = Actor(
        kind="staff", id=staff.id, municipality_id=staff.municipality_id, role=staff.role.value, name=staff.name
    )
    citizens = access.visible_citizens(actor).subquery()
    stmt = (
        select(Appointment, Citizen)
        .join(Citizen, Citizen.id == Appointment.citizen_id)
        .where(
            Appointment.worker_id == staff.id,
            Appointment.municipality_id == staff.municipality_id,
            Appointment.citizen_id.in_(select(citizens.c.id)),
            Appointment.starts_at >= now - dt.timedelta(days=FEED_DAYS_BACK),
            Appointment.starts_at < now + dt.timedelta(days=FEED_DAYS_AHEAD),
        )
        .order_by(Appointment.starts_at)
    )
    rows = (await db.execute(stmt)).all()
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "appointment.calendar_feed", audit.Purpose.SUPPORT, object_type="calendar_feed", object_id=found.id
        ),
    )
    return _calendar(
        (staff_event(appointment, citizen, settings, now, link) for appointment, citizen in rows), feed=True
    )
