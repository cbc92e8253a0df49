"""Supervisor review: which teams a reviewer sees, and the session log of one appointment.

A supervisor sees the teams they are a member of; an administrator sees the municipality's teams (the
aggregates, the session logs, the consent overview and the access log; still no citizen's page or note
text). Anything else answers "not found", and the attempt is audit-logged as denied.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import access, audit
from vbostotte.actors import Actor
from vbostotte.calls import endings
from vbostotte.errors import InvalidInput, NotFound
from vbostotte.i18n import N_
from vbostotte.models import (
    Appointment,
    AppointmentKind,
    CallEvent,
    CallEventName,
    Citizen,
    ConsentEvent,
    Municipality,
    Note,
    NoteStatus,
    NoteVersion,
    OutboxMessage,
    PrincipalKind,
    Staff,
    StaffRole,
    Team,
    TeamMember,
    parse_participant,
)
from vbostotte.privacy import consent
from vbostotte.review import statistics

MAX_TRAVEL_MINUTES = 600


def require_reviewer(actor: Actor) -> None:
    access.require_role(actor, StaffRole.SUPERVISOR, StaffRole.ADMIN)


async def statistics_for(
    db: AsyncSession, actor: Actor, scope: statistics.Scope, period: statistics.Period, team_id: int | None
) -> statistics.Statistics:
    """The statistics of a reviewer's selection (a team's when ``team_id``); the read is audit-logged."""
    require_reviewer(actor)
    stats = await statistics.compute(db, scope, period)
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "statistics.view", audit.Purpose.SUPERVISION, object_type="team" if team_id else None, object_id=team_id
        ),
    )
    return stats


async def pilot_export_for(
    db: AsyncSession, actor: Actor, scope: statistics.Scope, period: statistics.Period
) -> tuple[statistics.Statistics, str]:
    """The statistics behind the anonymised pilot export, and the municipality's name; the export is audit-logged."""
    require_reviewer(actor)
    municipality = await db.get(Municipality, actor.municipality_id)
    if municipality is None:
        raise NotFound()
    stats = await statistics.compute(db, scope, period)
    await audit.record(db, actor, audit.AuditEvent("statistics.export", audit.Purpose.SUPERVISION))
    return stats, municipality.name


async def teams_in_scope(db: AsyncSession, actor: Actor) -> list[Team]:
    """A supervisor's own teams, or (for an administrator) every team of the municipality."""
    require_reviewer(actor)
    stmt = select(Team).where(Team.municipality_id == actor.municipality_id).order_by(Team.name)
    if actor.has_role(StaffRole.SUPERVISOR):
        stmt = stmt.where(Team.id.in_(select(TeamMember.team_id).where(TeamMember.staff_id == actor.id)))
    return list((await db.execute(stmt)).scalars())


async def team_in_scope(db: AsyncSession, actor: Actor, team_id: int, action: str) -> Team:
    """One team the reviewer sees; any other id is "not found", audit-logged as denied."""
    for team in await teams_in_scope(db, actor):
        if team.id == team_id:
            return team
    event = audit.AuditEvent(action, audit.Purpose.SUPERVISION, audit.DENIED, object_type="team", object_id=team_id)
    raise NotFound().then(lambda fresh: audit.record(fresh, actor, event))


async def workers_in(db: AsyncSession, team_ids: list[int]) -> list[Staff]:
    """The support workers who are members of these teams."""
    stmt = (
        select(Staff)
        .join(TeamMember, TeamMember.staff_id == Staff.id)
        .where(TeamMember.team_id.in_(team_ids), Staff.role == StaffRole.WORKER)
        .distinct()
        .order_by(Staff.name)
    )
    return list((await db.execute(stmt)).scalars())


async def set_travel_minutes(db: AsyncSession, actor: Actor, team_id: int, minutes: int) -> Team:
    """Set how many minutes of driving one home visit costs the team (administrator, or the team's supervisor)."""
    team = await team_in_scope(db, actor, team_id, "team.travel_minutes")
    if not 0 <= minutes <= MAX_TRAVEL_MINUTES:
        raise InvalidInput({"minutes": N_("Enter a number of minutes from 0 to 600.")})
    team.travel_minutes = minutes
    await audit.record(
        db,
        actor,
        audit.AuditEvent("team.travel_minutes", audit.Purpose.ADMINISTRATION, object_type="team", object_id=team.id),
    )
    await db.flush()
    return team


# --- The session log ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of the timeline. ``what`` is a code the template words; ``details`` holds ids, codes and numbers."""

    at: dt.datetime | None
    what: str
    details: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CallSummary:
    joined: bool  # the citizen was in the call
    duration_minutes: float | None
    waited_seconds: float | None
    connection: str | None  # direct | relayed (the last reported)
    reconnects: int
    ended_how: str | None  # an endings.Ending (the rule in vbostotte/calls/endings.py), or None


@dataclass(frozen=True)
class SessionLog:
    appointment: Appointment
    citizen: Citizen
    worker_name: str
    entries: list[Entry]
    call: CallSummary | None


async def appointment_for_review(db: AsyncSession, actor: Actor, appointment_id: int) -> tuple[Appointment, Citizen]:
    """The appointment, if its citizen is in the reviewer's teams (an administrator: the municipality); the read
    is audit-logged."""
    require_reviewer(actor)
    appointment = await db.get(Appointment, appointment_id)
    if appointment is None or appointment.municipality_id != actor.municipality_id:
        event = audit.AuditEvent(
            "appointment.session_log",
            audit.Purpose.SUPERVISION,
            audit.DENIED,
            object_type="appointment",
            object_id=appointment_id,
        )
        raise NotFound().then(lambda fresh: audit.record(fresh, actor, event))
    citizen = await access.citizen_for(
        db,
        actor,
        appointment.citizen_id,
        "appointment.session_log",
        audit.Purpose.SUPERVISION,
        among=access.reviewable_citizens,
    )
    return appointment, citizen


async def session_log(db: AsyncSession, actor: Actor, appointment_id: int) -> SessionLog:
    """Everything that happened to one appointment, in time order (never the note's text)."""
    appointment, citizen = await appointment_for_review(db, actor, appointment_id)
    events = list(
        (
            await db.execute(
                select(CallEvent).where(CallEvent.appointment_id == appointment.id).order_by(CallEvent.at, CallEvent.id)
            )
        ).scalars()
    )
    messages = list(
        (
            await db.execute(
                select(OutboxMessage)
                .where(OutboxMessage.appointment_id == appointment.id)
                .order_by(OutboxMessage.due_at, OutboxMessage.id)
            )
        ).scalars()
    )
    signed = (
        await db.execute(
            select(NoteVersion.signed_at, NoteVersion.signed_by_id, NoteVersion.number)
            .join(Note, Note.id == NoteVersion.note_id)
            .where(Note.appointment_id == appointment.id, NoteVersion.status == NoteStatus.SIGNED)
            .order_by(NoteVersion.signed_at)
        )
    ).all()
    staff_ids = {appointment.worker_id, appointment.created_by_id, *(by for _, by, _ in signed)}
    staff_ids |= {_staff_id(e.details.get("by")) for e in events}
    staff_ids |= {e.participant_ref for e in events if e.participant_kind == PrincipalKind.STAFF}
    # names by staff id; an entry by nobody (None) looks up no name
    names: dict[int | None, str] = dict(
        (await db.execute(select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids - {None})))).all()
    )
    entries = _booking_entries(appointment, names) + [_message_entry(m) for m in messages]
    entries += [_call_entry(e, names) for e in events]
    entries += [Entry(at, "note_signed", {"by": names.get(by, ""), "version": number}) for at, by, number in signed]
    entries.sort(key=lambda e: (e.at is None, e.at or dt.datetime.min.replace(tzinfo=dt.UTC)))
    return SessionLog(
        appointment, citizen, names.get(appointment.worker_id, ""), entries, summarise_call(events) if events else None
    )


def _staff_id(participant: object) -> int | None:
    """The staff member's id in a participant id named in an event's details (who let someone in), else None."""
    kind, ref = parse_participant(participant) or (None, None)
    return ref if kind == PrincipalKind.STAFF else None


def _booking_entries(a: Appointment, names: dict[int | None, str]) -> list[Entry]:
    entries = [
        Entry(
            a.created_at,
            "booked",
            {"by": names.get(a.created_by_id, ""), "kind": a.kind.value, "interpreter": a.has_interpreter},
        )
    ]
    if a.sequence and a.cancelled_at is None:
        entries.append(Entry(None, "changed", {"times": a.sequence}))
    if a.responded_at is not None:
        entries.append(Entry(a.responded_at, f"response_{a.response}"))
    if a.cancelled_at is not None:
        entries.append(Entry(a.cancelled_at, "cancelled", {"by": a.cancelled_by or ""}))
    if a.interpreter_released_at is not None:
        entries.append(Entry(a.interpreter_released_at, "interpreter_released"))
    if a.attendance is not None:
        entries.append(Entry(None, "attendance", {"attendance": a.attendance}))
    return entries


def _message_entry(m: OutboxMessage) -> Entry:
    return Entry(
        m.sent_at or m.due_at,
        "message",
        {
            "purpose": m.purpose,
            "channel": m.channel,
            "recipient": m.recipient_kind,
            "status": m.status,
            "attempts": m.attempts,
        },
    )


# anyone else: "guest"
WHO_BY_KIND: dict[str | None, str] = {PrincipalKind.STAFF: "worker", PrincipalKind.CITIZEN: "citizen"}


def _is_citizen(e: CallEvent) -> bool:
    return e.participant_kind == PrincipalKind.CITIZEN


def _call_entry(e: CallEvent, names: dict[int | None, str]) -> Entry:
    details: dict[str, Any] = {"who": WHO_BY_KIND.get(e.participant_kind, "guest")}
    if e.event == CallEventName.ADMITTED:
        details["by"] = names.get(_staff_id(e.details.get("by")), "")
        details["waited_seconds"] = round(float(e.details.get("waited_seconds") or 0))
    elif e.event == CallEventName.LEFT:
        details["reason"] = str(e.details.get("reason", ""))
    elif e.event == CallEventName.CONNECTION_TYPE:
        details["type"] = str(e.details.get("type", ""))
    elif e.event == CallEventName.ENDED:
        details["participants"] = e.details.get("participants")
    return Entry(e.at, f"call_{e.event}", details)


def summarise_call(events: list[CallEvent]) -> CallSummary:
    """Duration (from the citizen being let in to the end), waiting time, connection, reconnects, how it ended."""
    citizen_in = [e.at for e in events if _is_citizen(e) and e.event in (CallEventName.JOINED, CallEventName.ADMITTED)]
    over = [e.at for e in events if e.event in (CallEventName.LEFT, CallEventName.ENDED)]
    duration = None
    if citizen_in and over and max(over) > min(citizen_in):
        duration = (max(over) - min(citizen_in)).total_seconds() / 60
    waits = [
        float(e.details.get("waited_seconds") or 0)
        for e in events
        if e.event == CallEventName.ADMITTED and _is_citizen(e)
    ]
    types = [str(e.details.get("type")) for e in events if e.event == CallEventName.CONNECTION_TYPE]
    return CallSummary(
        joined=bool(citizen_in),
        duration_minutes=duration,
        waited_seconds=waits[0] if waits else None,
        connection=types[-1] if types else None,
        reconnects=sum(1 for e in events if e.event == CallEventName.RECONNECTED),
        ended_how=endings.ending(events),
    )


# --- Lists for the supervisor: appointments to open a log from, and consents that affect appointments ---------


async def appointments_in(
    db: AsyncSession,
    actor: Actor,
    team_ids: list[int],
    worker_id: int | None,
    starts: dt.datetime,
    ends: dt.datetime,
    limit: int = 300,
) -> list[tuple[Appointment, str, str]]:
    """The teams' appointments in a period (newest first) with citizen and worker names; the read is audit-logged.

    ``team_ids`` come from :func:`teams_in_scope` (the caller's selection)."""
    require_reviewer(actor)
    stmt = (
        select(Appointment, Citizen.name, Staff.name)
        .join(Citizen, Citizen.id == Appointment.citizen_id)
        .join(Staff, Staff.id == Appointment.worker_id)
        .where(
            Appointment.municipality_id == actor.municipality_id,
            Citizen.team_id.in_(team_ids),
            Appointment.starts_at >= starts,
            Appointment.starts_at < ends,
        )
        .order_by(Appointment.starts_at.desc())
        .limit(limit)
    )
    if worker_id is not None:
        stmt = stmt.where(Appointment.worker_id == worker_id)
    await audit.record(db, actor, audit.AuditEvent("appointment.list", audit.Purpose.SUPERVISION))
    return [(appointment, citizen, worker) for appointment, citizen, worker in (await db.execute(stmt)).all()]


# Consents whose absence changes what happens around appointments.
AFFECTING = (consent.Kind.VIDEO.value, consent.Kind.SMS_REMINDERS.value, consent.Kind.EMAIL_REMINDERS.value)


@dataclass(frozen=True)
class ConsentGap:
    citizen: Citizen
    missing: list[str]  # kind codes not given now
    withdrawn: list[str]  # … of which withdrawn (the others were never given)
    video_coming: int  # video sessions booked ahead, which need the video consent
    coming: int  # appointments booked ahead

    @property
    def no_video(self) -> bool:
        return consent.Kind.VIDEO.value in self.missing

    @property
    def no_reminders(self) -> bool:
        return all(
            code in self.missing for code in (consent.Kind.SMS_REMINDERS.value, consent.Kind.EMAIL_REMINDERS.value)
        )


async def consent_gaps(db: AsyncSession, actor: Actor, team_ids: list[int], now: dt.datetime) -> list[ConsentGap]:
    """The teams' citizens with a missing or withdrawn consent that affects their appointments."""
    require_reviewer(actor)
    people = list(
        (
            await db.execute(
                access.reviewable_citizens(actor).where(Citizen.team_id.in_(team_ids)).order_by(Citizen.name)
            )
        ).scalars()
    )
    missing = await consent.missing(db, [c.id for c in people])
    ids = [c.id for c in people if any(code in AFFECTING for code in missing.get(c.id, []))]
    latest: dict[tuple[int, str], str] = {}
    for citizen_id, code, action in (
        await db.execute(
            select(ConsentEvent.citizen_id, ConsentEvent.kind_code, ConsentEvent.action)
            .where(ConsentEvent.citizen_id.in_(ids))
            .order_by(ConsentEvent.seq)
        )
    ).all():
        latest[(citizen_id, code)] = action
    coming: dict[int, tuple[int, int]] = {}
    for citizen_id, total, video in (
        await db.execute(
            select(
                Appointment.citizen_id,
                func.count(),
                func.sum(case((Appointment.kind == AppointmentKind.VIDEO, 1), else_=0)),
            )
            .where(Appointment.citizen_id.in_(ids), Appointment.starts_at >= now, Appointment.cancelled_at.is_(None))
            .group_by(Appointment.citizen_id)
        )
    ).all():
        coming[citizen_id] = (int(total), int(video or 0))
    await audit.record(db, actor, audit.AuditEvent("consent.overview", audit.Purpose.SUPERVISION))
    gaps = []
    for citizen in people:
        if citizen.id not in ids:
            continue
        codes = [code for code in missing[citizen.id] if code in AFFECTING]
        total, video = coming.get(citizen.id, (0, 0))
        gaps.append(
            ConsentGap(
                citizen, codes, [c for c in codes if latest.get((citizen.id, c)) == consent.WITHDRAWN], video, total
            )
        )
    return gaps
