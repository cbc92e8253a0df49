"""Object-level authorisation, in one place: who may see which citizen.

Every handler that touches a citizen's data goes through :func:`citizen_for`. A citizen the actor
may not see is reported as *not found* (404), never as forbidden, so ids reveal nothing; the
attempt is audit-logged as denied. Nothing ever crosses municipalities.
"""

from __future__ import annotations

import enum
import functools
from collections.abc import Callable

from sqlalchemy import BindParameter, Select, bindparam, exists, false, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.actors import Actor
from vbostotte.errors import NotFound, PermissionDenied
from vbostotte.models import Caseload, Citizen, StaffRole, TeamMember


def require_role(actor: Actor, *roles: StaffRole) -> None:
    """Refuse (403) an actor that is not staff with one of ``roles``."""
    if not actor.has_role(*roles):
        raise PermissionDenied()


def require_staff(actor: Actor) -> None:
    """Refuse (403) anyone who is not staff: a citizen has their own pages, never the staff view of one."""
    if not actor.is_staff:
        raise PermissionDenied()


class Rule(enum.StrEnum):
    """The forms of the visibility rule: whom an actor sees depends on what they are."""

    CITIZEN = "citizen"  # only herself
    WORKER = "worker"  # the caseload
    SUPERVISOR = "supervisor"  # the citizens of the supervisor's teams
    NONE = "none"  # an administrator: nobody


def visibility(actor: Actor) -> tuple[Rule, dict[str, int | None]]:
    """Which form of the rule applies to ``actor``, and its values: :func:`visible_citizens_by_rule`'s statement,
    run with these parameters, selects :func:`visible_citizens`."""
    if actor.is_citizen:
        rule = Rule.CITIZEN
    elif actor.has_role(StaffRole.WORKER):
        rule = Rule.WORKER
    elif actor.has_role(StaffRole.SUPERVISOR):
        rule = Rule.SUPERVISOR
    else:
        rule = Rule.NONE
    return rule, {"visible_municipality_id": actor.municipality_id, "visible_actor_id": actor.id}


def _visible(rule: Rule, municipality_id: object, actor_id: object) -> Select[Citizen]:
    """The single rule every citizen read is filtered by, in the form :func:`visibility` names, for the values (or
    bound parameters) given."""
    stmt = select(Citizen).where(Citizen.municipality_id == municipality_id)
    if rule is Rule.CITIZEN:
        return stmt.where(Citizen.id == actor_id)
    if rule is Rule.WORKER:
        return stmt.where(exists().where(Caseload.citizen_id == Citizen.id, Caseload.staff_id == actor_id))
    if rule is Rule.SUPERVISOR:
        return stmt.where(exists().where(TeamMember.team_id == Citizen.team_id, TeamMember.staff_id == actor_id))
    # Administrators set up the municipality; they do not read citizens' data.
    return stmt.where(false())


def visible_citizens(actor: Actor) -> Select[Citizen]:
    """A query of the citizens ``actor`` may see: the single rule every citizen read is filtered by."""
    rule, _ = visibility(actor)
    return _visible(rule, actor.municipality_id, actor.id)


def visible_citizen_ids(actor: Actor) -> Select[int]:
    """The ids of :func:`visible_citizens`, to filter by (``.in_(…)``): the same rule, and no subquery whose
    column collection (every column of a citizen) is built on each request."""
    return visible_citizens(actor).with_only_columns(Citizen.id)


@functools.cache
def visible_citizens_by_rule(rule: Rule) -> Select[Citizen]:
    """:func:`visible_citizens` in one of its forms, with the actor's values as parameters
    (``visible_municipality_id``, ``visible_actor_id``): built once per form, so the statements of the pages opened
    most can be built once too, and run with ``visibility(actor)[1]``."""
    municipality_id: BindParameter[int] = bindparam("visible_municipality_id")
    actor_id: BindParameter[int] = bindparam("visible_actor_id")
    return _visible(rule, municipality_id, actor_id)


@functools.cache
def visible_citizen_ids_by_rule(rule: Rule) -> Select[int]:
    """The ids of :func:`visible_citizens_by_rule`, to filter by (``.in_(…)``), with the same parameters."""
    return visible_citizens_by_rule(rule).with_only_columns(Citizen.id)


def reviewable_citizens(actor: Actor) -> Select[Citizen]:
    """The citizens whose session logs and consent gaps ``actor`` may review: a supervisor's teams' citizens, an
    administrator's whole municipality. Only the review pages use it; the citizen's own page keeps
    :func:`visible_citizens` (an administrator opens no citizen's page, notes or check-ins)."""
    stmt = select(Citizen).where(Citizen.municipality_id == actor.municipality_id)
    if actor.has_role(StaffRole.ADMIN):
        return stmt
    if actor.has_role(StaffRole.SUPERVISOR):
        return stmt.where(exists().where(TeamMember.team_id == Citizen.team_id, TeamMember.staff_id == actor.id))
    return stmt.where(false())


async def citizen_for(
    db: AsyncSession,
    actor: Actor,
    citizen_id: int,
    action: str,
    purpose: str,
    *,
    among: Callable[[Actor], Select[Citizen]] = visible_citizens,
) -> Citizen:
    """The citizen, if ``actor`` may see them (by the rule ``among``); the read (or the refused attempt) is
    audit-logged."""
    citizen = (await db.execute(among(actor).where(Citizen.id == citizen_id))).scalar_one_or_none()
    if citizen is None:
        event = audit.AuditEvent(action, purpose, audit.DENIED, object_type="citizen", object_id=citizen_id)
        raise NotFound().then(lambda fresh: audit.record(fresh, actor, event))
    await audit.record(db, actor, audit.AuditEvent(action, purpose, citizen_id=citizen.id))
    return citizen
