"""The citizen's own data: everything held about one citizen, for the citizen (their right of access) or for
a support worker downloading it on their behalf — as one plain structure, served as JSON and as a printable page.

What is in it: the citizen's details, appointments, consents (the current state with its text, and every
consent event with the text version and hash it was given on), shared notes (signed, shared versions only),
goals with steps, check-ins, day plans and grades, and the access log to their data from the audit log
(dates, what, purpose and the role of who — never staff names or ids).

Every query is filtered by the one citizen id *and* their municipality, so nothing of anyone else can enter.
A worker's download leaves out check-ins and day plans unless the citizen consents that the worker sees them
(the export must not become a way round that consent); the export says so. Each download is audit-logged.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import and_, func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.access import require_role
from vbostotte.actors import Actor
from vbostotte.care import checkins, goals
from vbostotte.errors import NotFound
from vbostotte.i18n import N_
from vbostotte.models import (
    Appointment,
    AuditEntry,
    CallRequest,
    CheckIn,
    Citizen,
    ConsentEvent,
    ConsentVersion,
    DayGrade,
    DayTask,
    Note,
    NoteStatus,
    NoteVersion,
    Staff,
    StaffRole,
)
from vbostotte.privacy import consent

FORMAT_VERSION = 1
# What the printable page says for the audit log's closed vocabularies (the JSON keeps the codes).
PURPOSE_LABELS = {
    audit.Purpose.SUPPORT: N_("Support work"),
    audit.Purpose.CASELOAD_OVERVIEW: N_("Overview of the support worker's citizens"),
    audit.Purpose.SUPERVISION: N_("Supervision"),
    audit.Purpose.SELF_SERVICE: N_("You, on your own page"),
    audit.Purpose.ADMINISTRATION: N_("Administration"),
    audit.Purpose.AUTHENTICATION: N_("Signing in"),
    audit.Purpose.WELLBEING_FOLLOW_UP: N_("Following how you are doing"),
    audit.Purpose.DATA_ACCESS: N_("A copy of your data"),
    audit.Purpose.CASEWORKER_SHARING: N_("A summary for your caseworker"),
}
AREA_LABELS = {
    "appointment": N_("Appointments"),
    "call": N_("Video calls"),
    "call_request": N_("Your requests for a call"),
    "checkin": N_("How you are doing"),
    "day_task": N_("Day plan"),
    "day_plan": N_("Day plan"),
    "day_grade": N_("Day plan"),
    "note": N_("Notes"),
    "goal": N_("Goals"),
    "consent": N_("Consents"),
    "citizen": N_("Your details"),
    "link": N_("Your personal link"),
    "data_export": N_("A copy of your data"),
    "caseload": N_("Your support workers"),
    "caseworker_export": N_("A summary for your caseworker"),
}
BY_LABELS = {
    "you": N_("You"),
    "worker": N_("A support worker"),
    "supervisor": N_("A supervisor"),
    "admin": N_("An administrator"),
    "system": N_("The system"),
}


def area_of(action: str) -> str:
    """The page's words for an audit action's area ("checkin.view" → "How you are doing")."""
    return AREA_LABELS.get(action.split(".", 1)[0], N_("Other"))


def _first_name(name: str | None) -> str | None:
    return name.split()[0] if name and name.strip() else None


async def appointments_of(db: AsyncSession, citizen: Citizen) -> list[dict[str, Any]]:
    rows = (
        await db.execute(
            select(Appointment, Staff.name)
            .join(Staff, Staff.id == Appointment.worker_id)
            .where(Appointment.citizen_id == citizen.id, Appointment.municipality_id == citizen.municipality_id)
            .order_by(Appointment.starts_at, Appointment.id)
        )
    ).all()
    return [
        {
            "id": a.id,
            "kind": a.kind.value,
            "starts_at": a.starts_at,
            "ends_at": a.ends_at,
            "worker": _first_name(name),
            "note_to_citizen": a.note_to_citizen,
            "response": a.response,
            "responded_at": a.responded_at,
            "cancelled_at": a.cancelled_at,
            "cancelled_by": a.cancelled_by,
            "cancel_reason": a.cancel_reason,
            "attendance": a.attendance,
            "interpreter_language": a.interpreter_language if a.has_interpreter else None,
            "unscheduled": a.unscheduled,  # started at once by the worker ("call now")
        }
        for a, name in rows
    ]


async def _call_requests(db: AsyncSession, citizen: Citizen) -> list[dict[str, Any]]:
    """The citizen's "I'd like to talk to you" requests and how each was answered (calls/call_requests.py)."""
    rows = await db.scalars(
        select(CallRequest)
        .where(CallRequest.citizen_id == citizen.id, CallRequest.municipality_id == citizen.municipality_id)
        .order_by(CallRequest.created_at, CallRequest.id)
    )
    return [
        {"asked_at": r.created_at, "answered_at": r.answered_at, "answer": r.answer, "appointment_id": r.appointment_id}
        for r in rows
    ]


async def _consents(db: AsyncSession, citizen: Citizen) -> dict[str, Any]:
    states = await consent.current(db, citizen.id)
    events = (
        await db.execute(
            select(ConsentEvent, ConsentVersion)
            .join(ConsentVersion, ConsentVersion.id == ConsentEvent.version_id)
            .where(ConsentEvent.citizen_id == citizen.id, ConsentEvent.municipality_id == citizen.municipality_id)
            .order_by(ConsentEvent.seq)
        )
    ).all()
    return {
        "current": [
            {
                "kind": s.kind,
                "title_da": s.current.title_da,
                "title_en": s.current.title_en,
                "state": s.state,
                "given_on_version": s.version,
                "current_version": s.current.version,
                "at": s.at,
                "how": s.how,
            }
            for s in states
        ],
        "events": [
            {
                "at": e.at,
                "kind": e.kind_code,
                "action": e.action,
                "how": e.how,
                "recorded_by": e.recorded_by_kind,
                "version": e.version,
                "text_sha256": e.text_sha256,
                "title_da": v.title_da,
                "text_da": v.text_da,
                "title_en": v.title_en,
                "text_en": v.text_en,
            }
            for e, v in events
        ],
    }


async def signed_notes(db: AsyncSession, citizen: Citizen, *, shared_only: bool = True) -> list[dict[str, Any]]:
    """The latest signed version of each of the citizen's notes (only those shared with them, by default)."""
    latest_signed = (
        select(func.max(NoteVersion.number))
        .where(NoteVersion.note_id == Note.id, NoteVersion.status == NoteStatus.SIGNED)
        .correlate(Note)
        .scalar_subquery()
    )
    rows = (
        await db.execute(
            select(Note, NoteVersion)
            .join(NoteVersion, and_(NoteVersion.note_id == Note.id, NoteVersion.number == latest_signed))
            .where(
                Note.citizen_id == citizen.id,
                Note.municipality_id == citizen.municipality_id,
                Note.shared_with_citizen.is_(True) if shared_only else true(),
            )
            .order_by(NoteVersion.signed_at, Note.id)
        )
    ).all()
    return [
        {
            "id": n.id,
            "appointment_id": n.appointment_id,
            "version": v.number,
            "signed_at": v.signed_at,
            "talked_about": v.talked_about,
            "agreements": v.agreements,
        }
        for n, v in rows
    ]


async def goals_of(db: AsyncSession, citizen: Citizen) -> list[dict[str, Any]]:
    return [
        {
            "id": g.goal.id,
            "title": g.goal.title,
            "status": g.goal.status.value,
            "target_date": g.goal.target_date,
            "created_at": g.goal.created_at,
            "steps": [{"text": s.text, "done_at": s.done_at} for s in g.steps],
        }
        for g in await goals.for_citizen(db, citizen.id)
        if g.goal.municipality_id == citizen.municipality_id
    ]


async def _checkins(db: AsyncSession, citizen: Citizen) -> list[dict[str, Any]]:
    rows = await db.execute(
        select(CheckIn.at, CheckIn.day, CheckIn.level, CheckIn.words, CheckIn.followed_up_at)
        .where(CheckIn.citizen_id == citizen.id, CheckIn.municipality_id == citizen.municipality_id)
        .order_by(CheckIn.at, CheckIn.id)
    )
    return [row._asdict() for row in rows]


async def _day_plans(db: AsyncSession, citizen: Citizen) -> dict[str, Any]:
    # Columns, not ORM objects: a year of daily use is a few thousand rows.
    tasks = await db.execute(
        select(DayTask.day, DayTask.title, DayTask.remind_at, DayTask.done_at, DayTask.created_by.label("added_by"))
        .where(DayTask.citizen_id == citizen.id, DayTask.municipality_id == citizen.municipality_id)
        .order_by(DayTask.day, DayTask.id)
    )
    grades = await db.execute(
        select(DayGrade.day, DayGrade.grade)
        .where(DayGrade.citizen_id == citizen.id, DayGrade.municipality_id == citizen.municipality_id)
        .order_by(DayGrade.day)
    )
    return {"tasks": [row._asdict() for row in tasks], "grades": [row._asdict() for row in grades]}


async def _access_log(db: AsyncSession, citizen: Citizen) -> list[dict[str, Any]]:
    rows = (
        await db.execute(
            select(
                AuditEntry.at,
                AuditEntry.action,
                AuditEntry.purpose,
                AuditEntry.actor_kind,
                AuditEntry.actor_role,
                AuditEntry.outcome,
            )
            .where(AuditEntry.citizen_id == citizen.id, AuditEntry.municipality_id == citizen.municipality_id)
            .order_by(AuditEntry.id)
        )
    ).all()
    # The role of who, never their name or id: the citizen's right is to know what was done and why.
    return [
        {
            "at": at,
            "action": action,
            "purpose": purpose,
            "by": "you" if kind == "citizen" else role if kind == "staff" else kind,
            "outcome": outcome,
        }
        for at, action, purpose, kind, role, outcome in rows
    ]


async def gather(db: AsyncSession, actor: Actor, citizen: Citizen, now: dt.datetime, fmt: str) -> dict[str, Any]:
    """Everything held about ``citizen`` (already authorised: the citizen themself, or ``access.citizen_for``).
    The download is audit-logged first, so it is in its own access log."""
    if actor.is_citizen:
        if actor.id != citizen.id or actor.municipality_id != citizen.municipality_id:
            raise NotFound()
    else:
        require_role(actor, StaffRole.WORKER)
        if actor.municipality_id != citizen.municipality_id:
            raise NotFound()
    if fmt not in ("json", "html"):
        raise ValueError(fmt)
    await audit.record(
        db,
        actor,
        audit.AuditEvent(f"data_export.{fmt}", audit.Purpose.DATA_ACCESS, citizen_id=citizen.id),
        clock=lambda: now,
    )
    private = actor.is_citizen or await checkins.worker_may_see(db, citizen.id)
    return {
        "format_version": FORMAT_VERSION,
        "generated_at": now,
        "requested_by": "citizen" if actor.is_citizen else actor.role,
        "citizen": {
            "id": citizen.id,
            "name": citizen.name,
            "preferred_name": citizen.preferred_name,
            "phone": citizen.phone,
            "email": citizen.email,
            "language": citizen.locale,
            "calls_through_relay": citizen.force_relay,
            "registered_at": citizen.created_at,
        },
        "appointments": await appointments_of(db, citizen),
        "call_requests": await _call_requests(db, citizen),
        "consents": await _consents(db, citizen),
        "shared_notes": await signed_notes(db, citizen),
        "goals": await goals_of(db, citizen),
        "checkins": await _checkins(db, citizen) if private else None,
        "day_plans": await _day_plans(db, citizen) if private else None,
        "left_out": [] if private else ["checkins", "day_plans"],
        "access_log": await _access_log(db, citizen),
    }


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def to_json(export: dict[str, Any]) -> str:
    """The export as JSON: times in UTC (ISO 8601, "Z"), dates as YYYY-MM-DD."""
    return json.dumps(export, default=_plain, ensure_ascii=False, indent=2)
