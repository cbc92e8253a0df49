"""Citizens and caseloads: registering a citizen, the caseload list, assigning workers."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.access import Rule, require_role, visibility, visible_citizens_by_rule
from vbostotte.actors import Actor
from vbostotte.errors import InvalidInput, NotFound
from vbostotte.i18n import N_
from vbostotte.models import Caseload, Citizen, Staff, StaffRole, Team, TeamMember


@dataclass(frozen=True)
class NewCitizen:
    name: str
    preferred_name: str
    phone: str | None = None
    email: str | None = None
    locale: str = "da"


async def register(
    db: AsyncSession,
    actor: Actor,
    data: NewCitizen,
    now: dt.datetime,
    *,
    team_id: int | None = None,
    worker_id: int | None = None,
) -> Citizen:
    """Register a citizen in one of the actor's teams; a worker puts them on their own caseload."""
    if actor.kind != "system":
        require_role(actor, StaffRole.WORKER, StaffRole.SUPERVISOR)
        own_teams = list(
            (await db.execute(select(TeamMember.team_id).where(TeamMember.staff_id == actor.id))).scalars()
        )
        if team_id is None and len(own_teams) == 1:
            team_id = own_teams[0]
        if team_id not in own_teams:
            raise InvalidInput({"team_id": N_("Choose one of the options.")})
        if actor.has_role(StaffRole.WORKER):
            worker_id = actor.id
    citizen = Citizen(
        municipality_id=actor.municipality_id,
        team_id=team_id,
        name=data.name,
        preferred_name=data.preferred_name,
        phone=data.phone,
        email=data.email,
        locale=data.locale,
        created_at=now,
    )
    db.add(citizen)
    await db.flush()
    if worker_id is not None:
        await _assign(db, actor, citizen, worker_id)
    await audit.record(db, actor, audit.AuditEvent("citizen.create", audit.Purpose.SUPPORT, citizen_id=citizen.id))
    return citizen


async def _assign(db: AsyncSession, actor: Actor, citizen: Citizen, worker_id: int) -> None:
    worker = await db.get(Staff, worker_id)
    in_team = worker is not None and await db.get(TeamMember, (citizen.team_id, worker_id)) is not None
    if (
        worker is None
        or not in_team
        or worker.role != StaffRole.WORKER
        or worker.municipality_id != citizen.municipality_id
    ):
        raise InvalidInput({"worker_id": N_("Choose one of the options.")})
    if await db.get(Caseload, (worker_id, citizen.id)) is None:
        db.add(Caseload(staff_id=worker_id, citizen_id=citizen.id))
        await db.flush()


async def assign_worker(db: AsyncSession, actor: Actor, citizen: Citizen, worker_id: int) -> None:
    """A supervisor puts a citizen (already authorised via ``access.citizen_for``) on a worker's caseload."""
    require_role(actor, StaffRole.SUPERVISOR)
    await _assign(db, actor, citizen, worker_id)
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "caseload.assign",
            audit.Purpose.SUPERVISION,
            citizen_id=citizen.id,
            object_type="staff",
            object_id=worker_id,
        ),
    )


@functools.cache
def _visible_by_name(rule: Rule) -> Select[Citizen]:
    """Built once per form of the rule (``access.visibility``): the caseload is on every page of a worker's week."""
    return visible_citizens_by_rule(rule).order_by(Citizen.name)


async def list_visible(db: AsyncSession, actor: Actor) -> list[Citizen]:
    """The citizens the actor may see (a worker's caseload, a supervisor's teams), audit-logged as one read."""
    require_role(actor, StaffRole.WORKER, StaffRole.SUPERVISOR)
    rule, values = visibility(actor)
    citizens = list((await db.execute(_visible_by_name(rule), values)).scalars())
    purpose = audit.Purpose.CASELOAD_OVERVIEW if actor.has_role(StaffRole.WORKER) else audit.Purpose.SUPERVISION
    await audit.record(db, actor, audit.AuditEvent("citizen.list", purpose))
    return citizens


@functools.cache
def _workers_of_statement() -> Select[Staff]:
    """Built once: the citizen's start page names their workers on every view."""
    return (
        select(Staff)
        .join(Caseload, Caseload.staff_id == Staff.id)
        .where(Caseload.citizen_id == bindparam("citizen_id"))
        .order_by(Staff.name)
    )


async def workers_of(db: AsyncSession, citizen: Citizen) -> list[Staff]:
    return list((await db.execute(_workers_of_statement(), {"citizen_id": citizen.id})).scalars())


async def team_workers(db: AsyncSession, team_id: int) -> list[Staff]:
    stmt = (
        select(Staff)
        .join(TeamMember, TeamMember.staff_id == Staff.id)
        .where(TeamMember.team_id == team_id, Staff.role == StaffRole.WORKER, Staff.active.is_(True))
    )
    return list((await db.execute(stmt.order_by(Staff.name))).scalars())


async def set_force_relay(db: AsyncSession, actor: Actor, citizen: Citizen, on: bool) -> None:
    """Route the citizen's calls through the TURN relay only (authorised by the caller via ``access.citizen_for``)."""
    citizen.force_relay = on
    await db.flush()
    await audit.record(
        db, actor, audit.AuditEvent("citizen.call_privacy", audit.Purpose.SUPPORT, citizen_id=citizen.id)
    )


async def by_id(db: AsyncSession, citizen_id: int) -> Citizen:
    """A citizen the caller may already see (their own page, or the citizen of an appointment, note or goal whose
    read was authorised); NotFound if there is none."""
    citizen = await db.get(Citizen, citizen_id)
    if citizen is None:
        raise NotFound()
    return citizen


async def team_to_call(db: AsyncSession, citizen_id: int) -> Team | None:
    """The citizen's team, if it has a phone number the citizen can call (set by the administrator)."""
    citizen = await by_id(db, citizen_id)
    team = await db.get(Team, citizen.team_id) if citizen.team_id else None
    return team if team is not None and team.phone else None
