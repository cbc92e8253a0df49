"""Session notes ("notater"): drafts that autosave, signing, amendments, and who may read them.

A note belongs to one citizen, and to an appointment or none. Its text lives in numbered versions: the
open draft is edited (by its author only) until it is signed; a signed version is final (the database
refuses to change it too), and an amendment starts a new draft version that keeps the old one visible.

Who may read a note: its author; the citizen's other workers (on the caseload) who are members of the
note's team; that team's supervisors. Nobody else — a worker of the same team who does not support the
citizen, other teams, administrators and other municipalities get "not found", audit-logged as denied.
Every read writes exactly one audit entry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.access import require_role
from vbostotte.actors import Actor
from vbostotte.errors import Conflict, InvalidInput, NotFound, PermissionDenied
from vbostotte.i18n import N_
from vbostotte.models import (
    Appointment,
    Caseload,
    Citizen,
    Goal,
    Note,
    NoteStatus,
    NoteVersion,
    NoteVersionGoal,
    Staff,
    StaffRole,
    TeamMember,
)

MAX_TEXT = 8000
SIGNED_IS_FINAL = N_("This note is signed and can no longer be changed. Write an amendment instead.")


@dataclass(frozen=True)
class NoteText:
    """The structured fields of one version."""

    talked_about: str = ""
    agreements: str = ""
    assessment: str = ""


def readable_notes(actor: Actor):
    """A condition on ``Note`` for the notes ``actor`` may read: the one rule every note read is filtered by."""
    if not actor.is_staff or actor.role not in (StaffRole.WORKER.value, StaffRole.SUPERVISOR.value):
        return False  # administrators administer accounts; citizens read only shared notes, on their own page
    in_team = exists().where(TeamMember.team_id == Note.team_id, TeamMember.staff_id == actor.id)
    same_tenant = Note.municipality_id == actor.municipality_id
    if actor.role == StaffRole.SUPERVISOR.value:
        return and_(same_tenant, in_team)
    on_caseload = exists().where(Caseload.citizen_id == Note.citizen_id, Caseload.staff_id == actor.id)
    return and_(same_tenant, or_(Note.author_id == actor.id, and_(in_team, on_caseload)))


def _purpose(actor: Actor) -> str:
    return audit.Purpose.SUPERVISION if actor.has_role(StaffRole.SUPERVISOR) else audit.Purpose.SUPPORT


async def note_for(db: AsyncSession, actor: Actor, note_id: int, action: str) -> Note:
    """The note if ``actor`` may read it, with exactly one audit entry (allowed, or denied and then 404)."""
    condition = readable_notes(actor)
    note = None
    if condition is not False:
        note = (await db.execute(select(Note).where(Note.id == note_id, condition))).scalar_one_or_none()
    if note is None:
        event = audit.AuditEvent(action, _purpose(actor), audit.DENIED, object_type="note", object_id=note_id)
        raise NotFound().then(lambda fresh: audit.record(fresh, actor, event))
    await audit.record(
        db,
        actor,
        audit.AuditEvent(action, _purpose(actor), citizen_id=note.citizen_id, object_type="note", object_id=note.id),
    )
    return note


async def versions(db: AsyncSession, note: Note) -> list[NoteVersion]:
    """The note's versions, oldest first."""
    return list(
        (
            await db.execute(select(NoteVersion).where(NoteVersion.note_id == note.id).order_by(NoteVersion.number))
        ).scalars()
    )


async def goals_of(db: AsyncSession, version_ids: list[int]) -> dict[int, list[Goal]]:
    """The goals each version touched."""
    out: dict[int, list[Goal]] = {v: [] for v in version_ids}
    rows = await db.execute(
        select(NoteVersionGoal.version_id, Goal)
        .join(Goal, Goal.id == NoteVersionGoal.goal_id)
        .where(NoteVersionGoal.version_id.in_(version_ids))
        .order_by(Goal.id)
    )
    for version_id, goal in rows:
        out[version_id].append(goal)
    return out


async def _latest(db: AsyncSession, note: Note) -> NoteVersion:
    return (
        await db.execute(
            select(NoteVersion).where(NoteVersion.note_id == note.id).order_by(NoteVersion.number.desc()).limit(1)
        )
    ).scalar_one()


async def _new_note(
    db: AsyncSession, actor: Actor, citizen: Citizen, appointment_id: int | None, now: dt.datetime
) -> Note:
    note = Note(
        municipality_id=citizen.municipality_id,
        citizen_id=citizen.id,
        appointment_id=appointment_id,
        author_id=actor.id,
        team_id=citizen.team_id,
        created_at=now,
    )
    db.add(note)
    await db.flush()
    db.add(NoteVersion(note_id=note.id, number=1, status=NoteStatus.DRAFT, created_at=now, updated_at=now))
    await db.flush()
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "note.create", audit.Purpose.SUPPORT, citizen_id=citizen.id, object_type="note", object_id=note.id
        ),
    )
    return note


async def start(db: AsyncSession, actor: Actor, citizen: Citizen, now: dt.datetime) -> Note:
    """A new note on its own (not after an appointment), as a draft by ``actor`` (a worker on the caseload)."""
    require_role(actor, StaffRole.WORKER)
    return await _new_note(db, actor, citizen, None, now)


async def for_appointment(
    db: AsyncSession, actor: Actor, appointment: Appointment, citizen: Citizen, now: dt.datetime
) -> Note:
    """The worker's note for this appointment, created as a draft the first time (where a worker lands after a call)."""
    require_role(actor, StaffRole.WORKER)
    existing = (
        await db.execute(
            select(Note)
            .where(Note.appointment_id == appointment.id, Note.author_id == actor.id)
            .order_by(Note.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    return existing or await _new_note(db, actor, citizen, appointment.id, now)


async def _open_draft(db: AsyncSession, actor: Actor, note_id: int, action: str) -> tuple[Note, NoteVersion]:
    """The note's open draft, for its author. A signed latest version is refused: it is final."""
    require_role(actor, StaffRole.WORKER)
    note = await note_for(db, actor, note_id, action)
    if note.author_id != actor.id:
        raise PermissionDenied(N_("Only the author can change a note."))
    version = await _latest(db, note)
    if version.status != NoteStatus.DRAFT:
        raise Conflict(SIGNED_IS_FINAL)
    return note, version


async def _check_goals(db: AsyncSession, note: Note, goal_ids: list[int]) -> list[int]:
    if not goal_ids:
        return []
    found = set(
        (await db.execute(select(Goal.id).where(Goal.id.in_(goal_ids), Goal.citizen_id == note.citizen_id))).scalars()
    )
    if found != set(goal_ids):
        raise InvalidInput({"goal_ids": N_("Choose one of the options.")})
    return sorted(found)


async def save_draft(
    db: AsyncSession,
    actor: Actor,
    note_id: int,
    text: NoteText,
    now: dt.datetime,
    *,
    goal_ids: list[int] | None = None,
    shared: bool | None = None,
    action: str = "note.save",
) -> NoteVersion:
    """Save the open draft's text (and, from the form, the goals touched and the sharing choice)."""
    note, version = await _open_draft(db, actor, note_id, action)
    version.talked_about, version.agreements, version.assessment = text.talked_about, text.agreements, text.assessment
    version.updated_at = now
    if shared is not None:
        note.shared_with_citizen = shared
    if goal_ids is not None:
        wanted = await _check_goals(db, note, goal_ids)
        current = set(
            (
                await db.execute(select(NoteVersionGoal.goal_id).where(NoteVersionGoal.version_id == version.id))
            ).scalars()
        )
        for goal_id in current - set(wanted):
            await db.delete(await db.get(NoteVersionGoal, (version.id, goal_id)))
        db.add_all(NoteVersionGoal(version_id=version.id, goal_id=g) for g in wanted if g not in current)
    await db.flush()
    return version


async def sign(db: AsyncSession, actor: Actor, note_id: int, now: dt.datetime) -> NoteVersion:
    """Sign the open draft: from now on it is final."""
    _, version = await _open_draft(db, actor, note_id, "note.sign")
    if not version.talked_about.strip():
        raise InvalidInput({"talked_about": N_("Write what you talked about before you sign.")})
    version.status, version.signed_at, version.signed_by_id, version.updated_at = NoteStatus.SIGNED, now, actor.id, now
    await db.flush()
    return version


async def amend(db: AsyncSession, actor: Actor, note_id: int, reason: str, now: dt.datetime) -> NoteVersion:
    """Start an amendment: a new draft version, a copy of the signed one, with the reason; the old one stays."""
    require_role(actor, StaffRole.WORKER)
    note = await note_for(db, actor, note_id, "note.amend")
    if note.author_id != actor.id:
        raise PermissionDenied(N_("Only the author can change a note."))
    signed = await _latest(db, note)
    if signed.status != NoteStatus.SIGNED:
        raise Conflict(N_("This note already has an unsigned draft. Finish and sign it first."))
    version = NoteVersion(
        note_id=note.id,
        number=signed.number + 1,
        talked_about=signed.talked_about,
        agreements=signed.agreements,
        assessment=signed.assessment,
        status=NoteStatus.DRAFT,
        amends_reason=reason,
        created_at=now,
        updated_at=now,
    )
    db.add(version)
    await db.flush()
    touched = (await goals_of(db, [signed.id]))[signed.id]
    db.add_all(NoteVersionGoal(version_id=version.id, goal_id=g.id) for g in touched)
    await db.flush()
    return version


@dataclass(frozen=True)
class NoteSummary:
    """A line in a list of notes: no note text, so listing is not reading."""

    note: Note
    author_name: str
    latest: NoteVersion
    appointment: Appointment | None


async def list_for_citizen(db: AsyncSession, actor: Actor, citizen_id: int) -> list[NoteSummary]:
    """The citizen's notes ``actor`` may read, newest first (dates, authors and status only)."""
    condition = readable_notes(actor)
    if condition is False:
        return []
    latest_number = (
        select(func.max(NoteVersion.number)).where(NoteVersion.note_id == Note.id).correlate(Note).scalar_subquery()
    )
    rows = await db.execute(
        select(Note, Staff.name, NoteVersion, Appointment)
        .join(Staff, Staff.id == Note.author_id)
        .join(NoteVersion, and_(NoteVersion.note_id == Note.id, NoteVersion.number == latest_number))
        .outerjoin(Appointment, Appointment.id == Note.appointment_id)
        .where(Note.citizen_id == citizen_id, condition)
        .order_by(Note.created_at.desc(), Note.id.desc())
    )
    return [NoteSummary(note, name, version, appointment) for note, name, version, appointment in rows]


async def shared_with(db: AsyncSession, actor: Actor) -> list[tuple[Note, NoteVersion]]:
    """For the citizen's own page: their shared notes, the latest signed version of each (one audit entry)."""
    if not actor.is_citizen:
        raise PermissionDenied()
    latest_signed = (
        select(func.max(NoteVersion.number))
        .where(NoteVersion.note_id == Note.id, NoteVersion.status == NoteStatus.SIGNED)
        .correlate(Note)
        .scalar_subquery()
    )
    rows = list(
        (
            await db.execute(
                select(Note, NoteVersion)
                .join(NoteVersion, and_(NoteVersion.note_id == Note.id, NoteVersion.number == latest_signed))
                .where(
                    Note.citizen_id == actor.id,
                    Note.municipality_id == actor.municipality_id,
                    Note.shared_with_citizen.is_(True),
                )
                .order_by(NoteVersion.signed_at.desc())
            )
        ).all()
    )
    if rows:
        await audit.record(
            db, actor, audit.AuditEvent("note.shared_view", audit.Purpose.SELF_SERVICE, citizen_id=actor.id)
        )
    return [(note, version) for note, version in rows]
