"""The access review: the audit log filtered by citizen, staff member, action and period, with the hash
chain's verification status, denied attempts and reads outside the reader's caseload picked out.

A supervisor sees the entries about their teams' citizens and the entries by their teams' members; an
administrator sees the municipality's. Looking is itself audit-logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.actors import Actor
from vbostotte.models import AuditEntry, Caseload, Citizen, Staff, StaffRole, TeamMember
from vbostotte.review import review

PAGE_SIZE = 200


@dataclass(frozen=True)
class Filter:
    citizen_id: int | None = None
    staff_id: int | None = None
    action: str | None = None
    starts: dt.datetime | None = None
    ends: dt.datetime | None = None
    denied_only: bool = False


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


async def entries(db: AsyncSession, actor: Actor, wanted: Filter) -> list[Line]:
    """The newest entries (at most one page) that match, in the reviewer's scope; the look is audit-logged."""
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
    rows = (
        await db.execute(
            select(AuditEntry, Staff.name, OUTSIDE_CASELOAD)
            .outerjoin(Staff, and_(AuditEntry.actor_kind == "staff", Staff.id == AuditEntry.actor_id))
            .where(*conditions)
            .order_by(AuditEntry.id.desc())
            .limit(PAGE_SIZE)
        )
    ).all()
    await audit.record(
        db, actor, audit.AuditEvent("audit.view", audit.Purpose.SUPERVISION, citizen_id=wanted.citizen_id)
    )
    return [Line(entry, name or "", bool(outside)) for entry, name, outside in rows]


async def actions(db: AsyncSession, actor: Actor) -> list[str]:
    """The actions that occur in the reviewer's scope (the choices of the action filter)."""
    review.require_reviewer(actor)
    stmt = select(AuditEntry.action).where(*await _in_scope(db, actor)).distinct().order_by(AuditEntry.action)
    return list((await db.execute(stmt)).scalars())


async def staff_choices(db: AsyncSession, actor: Actor) -> list[Staff]:
    """The staff members the reviewer may filter by: their teams' members, or the municipality's staff."""
    review.require_reviewer(actor)
    stmt = select(Staff).where(Staff.municipality_id == actor.municipality_id).order_by(Staff.name)
    if actor.has_role(StaffRole.SUPERVISOR):
        team_ids = [team.id for team in await review.teams_in_scope(db, actor)]
        stmt = stmt.where(Staff.id.in_(select(TeamMember.staff_id).where(TeamMember.team_id.in_(team_ids))))
    return list((await db.execute(stmt)).scalars())


async def chain_status(db: AsyncSession) -> audit.ChainReport:
    """Whether the whole audit log's hash chain holds (verified now, entry by entry)."""
    return await audit.verify_chain(db)
