"""The access review: the audit log filtered by citizen, staff member, action and period, with the hash
chain's verification status, denied attempts and reads outside the reader's caseload picked out.

A supervisor sees the entries about their teams' citizens and the entries by their teams' members; an
administrator sees the municipality's. Looking is itself audit-logged. Actions and purposes are shown in plain
words (``vbostotte/audit/actions.py``); the CSV export (:func:`export_csv`) keeps the codes beside them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit, i18n
from vbostotte.actors import Actor
from vbostotte.audit import actions as wording
from vbostotte.models import AuditEntry, Caseload, Citizen, Staff, StaffRole, TeamMember
from vbostotte.review import review, spreadsheet

PAGE_SIZE = 200
EXPORT_SIZE = 20_000  # the newest entries in one CSV file; narrow the filter for older ones
action_label = wording.describe
purpose_label = wording.purpose_label


@dataclass(frozen=True)
class Filter:
    citizen_id: int | None = None
    staff_id: int | None = None
    action: str | None = None
    starts: dt.datetime | None = None
    ends: dt.datetime | None = None
    denied_only: bool = False
    before: int | None = None  # the next page: entries older than this id (paged by key, not by offset)


@dataclass(frozen=True)
class Line:
    entry: AuditEntry
    actor_name: str
    outside_caseload: bool  # a support worker read a citizen who is not on their caseload

    @property
    def denied(self) -> bool:
        return self.entry.outcome == audit.DENIED


# A worker's entry about a citizen who is not on their caseload (supervisors read their teams by design).
OUTSIDE_CASELOAD = and_(
    AuditEntry.actor_kind == "staff",
    AuditEntry.actor_role == StaffRole.WORKER.value,
    AuditEntry.citizen_id.is_not(None),
    ~exists().where(Caseload.staff_id == AuditEntry.actor_id, Caseload.citizen_id == AuditEntry.citizen_id),
)


async def _in_scope(db: AsyncSession, actor: Actor) -> list:
    conditions = [AuditEntry.municipality_id == actor.municipality_id]
    if actor.has_role(StaffRole.SUPERVISOR):
        team_ids = [team.id for team in await review.teams_in_scope(db, actor)]
        citizens = select(Citizen.id).where(Citizen.team_id.in_(team_ids))
        members = select(TeamMember.staff_id).where(TeamMember.team_id.in_(team_ids))
        conditions.append(
            or_(
                AuditEntry.citizen_id.in_(citizens),
                and_(AuditEntry.actor_kind == "staff", AuditEntry.actor_id.in_(members)),
            )
        )
    return conditions


async def entries(
    db: AsyncSession, actor: Actor, wanted: Filter, *, limit: int = PAGE_SIZE, action: str = "audit.view"
) -> list[Line]:
    """The newest entries (at most ``limit``) that match, in the reviewer's scope; the look is audit-logged as
    ``action``."""
    review.require_reviewer(actor)
    conditions = await _in_scope(db, actor)
    if wanted.citizen_id is not None:
        conditions.append(AuditEntry.citizen_id == wanted.citizen_id)
    if wanted.staff_id is not None:
        conditions += [AuditEntry.actor_kind == "staff", AuditEntry.actor_id == wanted.staff_id]
    if wanted.action:
        conditions.append(AuditEntry.action == wanted.action)
    if wanted.starts is not None:
        conditions.append(AuditEntry.at >= wanted.starts)
    if wanted.ends is not None:
        conditions.append(AuditEntry.at < wanted.ends)
    if wanted.denied_only:
        conditions.append(AuditEntry.outcome == audit.DENIED)
    if wanted.before is not None:
        conditions.append(AuditEntry.id < wanted.before)
    rows = (
        await db.execute(
            select(AuditEntry, Staff.name, OUTSIDE_CASELOAD)
            .outerjoin(Staff, and_(AuditEntry.actor_kind == "staff", Staff.id == AuditEntry.actor_id))
            .where(*conditions)
            .order_by(AuditEntry.id.desc())
            .limit(limit)
        )
    ).all()
    await audit.record(db, actor, audit.AuditEvent(action, audit.Purpose.SUPERVISION, citizen_id=wanted.citizen_id))
    return [Line(entry, name or "", bool(outside)) for entry, name, outside in rows]


# The distinct actions of a municipality by one index seek each (``ix_audit_entries_municipality_action``), not by
# reading the whole log: the next action after the one found, until there is none.
_ACTIONS = text(
    """
    WITH RECURSIVE found(action) AS (
        SELECT MIN(action) FROM audit_entries WHERE municipality_id = :municipality_id
        UNION ALL
        SELECT (SELECT MIN(action) FROM audit_entries WHERE municipality_id = :municipality_id AND action > found.action)
        FROM found WHERE found.action IS NOT NULL
    )
    SELECT action FROM found WHERE action IS NOT NULL
    """
)


async def actions(db: AsyncSession, actor: Actor) -> list[str]:
    """The actions that occur in the reviewer's municipality, in order (the choices of the action filter: names of
    actions, no one's data)."""
    review.require_reviewer(actor)
    return list((await db.execute(_ACTIONS, {"municipality_id": actor.municipality_id})).scalars())


async def staff_choices(db: AsyncSession, actor: Actor) -> list[Staff]:
    """The staff members the reviewer may filter by: their teams' members, or the municipality's staff."""
    review.require_reviewer(actor)
    stmt = select(Staff).where(Staff.municipality_id == actor.municipality_id).order_by(Staff.name)
    if actor.has_role(StaffRole.SUPERVISOR):
        team_ids = [team.id for team in await review.teams_in_scope(db, actor)]
        stmt = stmt.where(Staff.id.in_(select(TeamMember.staff_id).where(TeamMember.team_id.in_(team_ids))))
    return list((await db.execute(stmt)).scalars())


async def chain_status(db: AsyncSession, verified: audit.Verified | None = None) -> audit.ChainReport:
    """Whether the whole audit log's hash chain holds, entry by entry: with ``verified`` (the server's), the entries
    appended since its last intact report are verified now, and the whole chain is walked again in the background."""
    if verified is None:
        return await audit.verify_chain(db)
    return await verified.check(db)


async def export_csv(db: AsyncSession, actor: Actor, wanted: Filter) -> str:
    """The matching entries (the newest ``EXPORT_SIZE``) as CSV for a Danish spreadsheet: each action and purpose
    in plain words and as its code. The export is audit-logged (``audit.export``)."""
    lines = await entries(db, actor, wanted, limit=EXPORT_SIZE, action="audit.export")
    _ = i18n.gettext
    rows: list[list[spreadsheet.Cell]] = [
        [
            _("When"),
            _("Who"),
            _("Role"),
            _("Action"),
            _("Action code"),
            _("Citizen number"),
            _("Purpose"),
            _("Purpose code"),
            _("Outcome"),
            _("Outside the caseload"),
        ]
    ]
    for line in lines:
        e = line.entry
        rows.append(
            [
                i18n.local(e.at).strftime("%Y-%m-%d %H:%M:%S"),
                line.actor_name,
                i18n.role_label(e.actor_role) if e.actor_role else "",
                action_label(e.action),
                e.action,
                e.citizen_id,
                purpose_label(e.purpose),
                e.purpose,
                _("Denied") if line.denied else _("Allowed"),
                _("Yes") if line.outside_caseload else "",
            ]
        )
    return spreadsheet.write(rows)
