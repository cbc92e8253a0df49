"""Municipalities, staff accounts and teams: what an administrator sets up."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.access import require_role
from vbostotte.actors import Actor
from vbostotte.errors import InvalidInput, NotFound
from vbostotte.i18n import N_
from vbostotte.identity import sessions
from vbostotte.identity.login import hash_password, normalise_email
from vbostotte.models import Municipality, MunicipalitySettings, Staff, StaffRole, Team, TeamMember
from vbostotte.privacy import consent


async def get_or_create_municipality(db: AsyncSession, name: str, now: dt.datetime) -> Municipality:
    found = (await db.execute(select(Municipality).where(Municipality.name == name))).scalar_one_or_none()
    if found:
        return found
    municipality = Municipality(name=name, created_at=now)
    db.add(municipality)
    await db.flush()
    await consent.ensure_defaults(db, municipality.id, now)  # the built-in consent kinds and their texts
    return municipality


async def create_staff(
    db: AsyncSession,
    actor: Actor,
    municipality_id: int,
    *,
    email: str,
    name: str,
    role: StaffRole,
    password: str,
    now: dt.datetime,
) -> Staff:
    """Create a staff account. E-mail addresses are unique across the whole service."""
    if actor.kind != "system":
        require_role(actor, StaffRole.ADMIN)
        municipality_id = actor.known_municipality_id  # an administrator creates staff in their own municipality only
    email = normalise_email(email)
    if (await db.execute(select(Staff.id).where(Staff.email == email))).first():
        raise InvalidInput({"email": N_("An account with this e-mail already exists.")})
    staff = Staff(
        municipality_id=municipality_id,
        email=email,
        name=name,
        role=role,
        password_hash=hash_password(password),
        active=True,
        created_at=now,
    )
    db.add(staff)
    await db.flush()
    await audit.record(
        db,
        actor,
        audit.AuditEvent("staff.create", audit.Purpose.ADMINISTRATION, object_type="staff", object_id=staff.id),
    )
    return staff


async def set_active(db: AsyncSession, actor: Actor, staff_id: int, active: bool) -> Staff:
    """Deactivate (ending every session) or reactivate a staff account of the administrator's municipality."""
    require_role(actor, StaffRole.ADMIN)
    staff = await db.get(Staff, staff_id)
    if staff is None or staff.municipality_id != actor.municipality_id or staff.id == actor.id:
        raise NotFound()
    staff.active = active
    if not active:
        await sessions.end_for_staff(db, staff.id)
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "staff.activate" if active else "staff.deactivate",
            audit.Purpose.ADMINISTRATION,
            object_type="staff",
            object_id=staff.id,
        ),
    )
    return staff


async def list_staff(db: AsyncSession, actor: Actor) -> list[Staff]:
    require_role(actor, StaffRole.ADMIN, StaffRole.SUPERVISOR)
    stmt = select(Staff).where(Staff.municipality_id == actor.municipality_id).order_by(Staff.role, Staff.name)
    return list((await db.execute(stmt)).scalars())


async def create_team(db: AsyncSession, actor: Actor, name: str) -> Team:
    require_role(actor, StaffRole.ADMIN)
    exists_ = await db.execute(select(Team.id).where(Team.municipality_id == actor.municipality_id, Team.name == name))
    if exists_.first():
        raise InvalidInput({"name": N_("A team with this name already exists.")})
    team = Team(municipality_id=actor.municipality_id, name=name)
    db.add(team)
    await db.flush()
    await audit.record(
        db, actor, audit.AuditEvent("team.create", audit.Purpose.ADMINISTRATION, object_type="team", object_id=team.id)
    )
    return team


async def set_team_phone(db: AsyncSession, actor: Actor, team_id: int, phone: str | None) -> Team:
    """Set (or, with None, remove) the number the team's citizens call to reach it (administrator)."""
    require_role(actor, StaffRole.ADMIN)
    team = await db.get(Team, team_id)
    if team is None or team.municipality_id != actor.municipality_id:
        raise NotFound()
    team.phone = phone
    await audit.record(
        db, actor, audit.AuditEvent("team.phone", audit.Purpose.ADMINISTRATION, object_type="team", object_id=team.id)
    )
    await db.flush()
    return team


async def add_member(db: AsyncSession, actor: Actor, team_id: int, staff_id: int) -> None:
    """Put a worker or supervisor in a team of the same municipality."""
    require_role(actor, StaffRole.ADMIN)
    team, staff = await db.get(Team, team_id), await db.get(Staff, staff_id)
    if team is None or team.municipality_id != actor.municipality_id:
        raise InvalidInput({"team_id": N_("Choose one of the options.")})
    if staff is None or staff.municipality_id != actor.municipality_id or staff.role == StaffRole.ADMIN:
        raise InvalidInput({"staff_id": N_("Choose one of the options.")})
    if await db.get(TeamMember, (team_id, staff_id)) is None:
        db.add(TeamMember(team_id=team_id, staff_id=staff_id))
        await audit.record(
            db,
            actor,
            audit.AuditEvent("team.add_member", audit.Purpose.ADMINISTRATION, object_type="team", object_id=team_id),
        )
    await db.flush()


async def teams_with_members(db: AsyncSession, actor: Actor) -> list[tuple[Team, list[Staff]]]:
    """The municipality's teams with their members (for administrators), or the supervisor's own teams."""
    require_role(actor, StaffRole.ADMIN, StaffRole.SUPERVISOR)
    stmt = select(Team).where(Team.municipality_id == actor.municipality_id).order_by(Team.name)
    if actor.has_role(StaffRole.SUPERVISOR):
        stmt = stmt.where(Team.id.in_(select(TeamMember.team_id).where(TeamMember.staff_id == actor.id)))
    teams = list((await db.execute(stmt)).scalars())
    result = []
    for team in teams:
        members = (
            await db.execute(
                select(Staff)
                .join(TeamMember, TeamMember.staff_id == Staff.id)
                .where(TeamMember.team_id == team.id)
                .order_by(Staff.name)
            )
        ).scalars()
        result.append((team, list(members)))
    return result


async def update_booking_settings(
    db: AsyncSession,
    actor: Actor,
    *,
    reminder_offsets_minutes: list[int],
    confirm_cutoff_minutes: int,
    crisis_line_text: str,
) -> MunicipalitySettings:
    """The administrator sets the municipality's reminder schedule, confirmation cut-off and crisis-line text."""
    require_role(actor, StaffRole.ADMIN)
    settings = await db.get(MunicipalitySettings, actor.municipality_id)
    if settings is None:
        settings = MunicipalitySettings(municipality_id=actor.municipality_id)
        db.add(settings)
    settings.reminder_offsets_minutes = ",".join(str(m) for m in sorted(set(reminder_offsets_minutes), reverse=True))
    settings.confirm_cutoff_minutes = confirm_cutoff_minutes
    settings.crisis_line_text = crisis_line_text
    await db.flush()
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "municipality.settings",
            audit.Purpose.ADMINISTRATION,
            object_type="municipality",
            object_id=actor.municipality_id,
        ),
    )
    return settings


async def staff_names(db: AsyncSession, staff_ids: set[int]) -> dict[int, str]:
    """Staff members' names by id (for showing who wrote or changed something)."""
    if not staff_ids:
        return {}
    rows = await db.execute(select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids)))
    return {staff_id: name for staff_id, name in rows}
