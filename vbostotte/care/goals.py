"""Goals and action plans ("delmål", "handleplan"): small goals agreed with the citizen, made of steps.

Workers create and edit goals; the citizen (on their own page) and the worker tick steps done. Every change
is kept in the append-only ``goal_events`` history. Ticking the last step achieves the goal. Who may see a
goal follows who may see its citizen (``access.citizen_for``), and every read or change is audit-logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import access, audit
from vbostotte.actors import Actor
from vbostotte.care import notes
from vbostotte.errors import Conflict, NotFound
from vbostotte.i18n import N_
from vbostotte.models import (
    Citizen,
    Goal,
    GoalEvent,
    GoalStatus,
    GoalStep,
    Note,
    NoteStatus,
    NoteVersion,
    NoteVersionGoal,
    StaffRole,
)

MAX_STEPS = 12


def _purpose(actor: Actor) -> str:
    if actor.is_citizen:
        return audit.Purpose.SELF_SERVICE
    return audit.Purpose.SUPERVISION if actor.has_role(StaffRole.SUPERVISOR) else audit.Purpose.SUPPORT


def _event(
    goal: Goal, actor: Actor, now: dt.datetime, event: str, *, status: str | None = None, step_id: int | None = None
) -> GoalEvent:
    return GoalEvent(
        goal_id=goal.id, at=now, actor_kind=actor.kind, actor_id=actor.id, event=event, status=status, step_id=step_id
    )


async def goal_for(db: AsyncSession, actor: Actor, goal_id: int, action: str) -> Goal:
    """The goal if ``actor`` may see its citizen; one audit entry either way (a refusal is a 404)."""
    goal = await db.get(Goal, goal_id)
    if goal is None or goal.municipality_id != actor.municipality_id:
        event = audit.AuditEvent(action, _purpose(actor), audit.DENIED, object_type="goal", object_id=goal_id)
        raise NotFound().then(lambda fresh: audit.record(fresh, actor, event))
    await access.citizen_for(db, actor, goal.citizen_id, action, _purpose(actor))
    return goal


async def steps_of(db: AsyncSession, goal_ids: list[int]) -> dict[int, list[GoalStep]]:
    out: dict[int, list[GoalStep]] = {g: [] for g in goal_ids}
    rows = await db.execute(
        select(GoalStep).where(GoalStep.goal_id.in_(goal_ids)).order_by(GoalStep.position, GoalStep.id)
    )
    for step in rows.scalars():
        out[step.goal_id].append(step)
    return out


@dataclass(frozen=True)
class GoalWithSteps:
    goal: Goal
    steps: list[GoalStep]

    @property
    def done(self) -> int:
        return sum(1 for s in self.steps if s.done_at)

    @property
    def finished(self) -> bool:
        """Achieved, or every step done."""
        return self.goal.status == GoalStatus.ACHIEVED or (bool(self.steps) and self.done == len(self.steps))


async def for_citizen(db: AsyncSession, citizen_id: int, *, include_dropped: bool = True) -> list[GoalWithSteps]:
    """A citizen's goals with their steps (the caller has checked access), open ones first."""
    stmt = select(Goal).where(Goal.citizen_id == citizen_id)
    if not include_dropped:
        stmt = stmt.where(Goal.status != GoalStatus.DROPPED)
    goals = list((await db.execute(stmt.order_by(Goal.created_at, Goal.id))).scalars())
    steps = await steps_of(db, [g.id for g in goals])
    order = {GoalStatus.UNDER_WAY: 0, GoalStatus.NOT_STARTED: 1, GoalStatus.ACHIEVED: 2, GoalStatus.DROPPED: 3}
    return sorted((GoalWithSteps(g, steps[g.id]) for g in goals), key=lambda x: order[x.goal.status])


async def create(
    db: AsyncSession,
    actor: Actor,
    citizen: Citizen,
    title: str,
    target_date: dt.date | None,
    steps: list[str],
    now: dt.datetime,
) -> Goal:
    """A new goal for the citizen (seen through ``access.citizen_for`` by the caller), with its first steps."""
    access.require_role(actor, StaffRole.WORKER)
    goal = Goal(
        municipality_id=citizen.municipality_id,
        citizen_id=citizen.id,
        title=title,
        status=GoalStatus.NOT_STARTED,
        target_date=target_date,
        created_by_id=actor.id,
        created_at=now,
    )
    db.add(goal)
    await db.flush()
    db.add(_event(goal, actor, now, "created", status=goal.status.value))
    for text in steps[:MAX_STEPS]:
        await _new_step(db, actor, goal, text, now)
    await db.flush()
    return goal


async def _new_step(db: AsyncSession, actor: Actor, goal: Goal, text: str, now: dt.datetime) -> GoalStep:
    count = len((await steps_of(db, [goal.id]))[goal.id])
    if count >= MAX_STEPS:
        raise Conflict(N_("A goal can have at most 12 steps. Make a new goal instead."))
    step = GoalStep(goal_id=goal.id, position=count + 1, text=text)
    db.add(step)
    await db.flush()
    db.add(_event(goal, actor, now, "step_added", step_id=step.id))
    return step


async def edit(
    db: AsyncSession,
    actor: Actor,
    goal_id: int,
    title: str,
    target_date: dt.date | None,
    status: GoalStatus,
    now: dt.datetime,
) -> Goal:
    """Change a goal's words, target date or status; each change goes into the history."""
    access.require_role(actor, StaffRole.WORKER)
    goal = await goal_for(db, actor, goal_id, "goal.edit")
    if (goal.title, goal.target_date) != (title, target_date):
        goal.title, goal.target_date = title, target_date
        db.add(_event(goal, actor, now, "edited"))
    if goal.status != status:
        goal.status = status
        db.add(_event(goal, actor, now, "status", status=status.value))
    await db.flush()
    return goal


async def add_step(db: AsyncSession, actor: Actor, goal_id: int, text: str, now: dt.datetime) -> GoalStep:
    access.require_role(actor, StaffRole.WORKER)
    goal = await goal_for(db, actor, goal_id, "goal.step_add")
    step = await _new_step(db, actor, goal, text, now)
    await db.flush()
    return step


async def tick(db: AsyncSession, actor: Actor, step_id: int, done: bool, now: dt.datetime) -> GoalWithSteps:
    """Tick a step done (or not done after all), by the citizen themself or their worker. The last step done
    achieves the goal; the first one starts it."""
    if not actor.is_citizen:
        access.require_role(actor, StaffRole.WORKER)
    step = await db.get(GoalStep, step_id)
    try:
        if step is None:
            raise NotFound()
        goal = await goal_for(db, actor, step.goal_id, "goal.step_tick")
    except NotFound as exc:  # report the step id asked for, not the goal it might belong to
        event = audit.AuditEvent(
            "goal.step_tick", _purpose(actor), audit.DENIED, object_type="goal_step", object_id=step_id
        )
        raise NotFound().then(lambda fresh: audit.record(fresh, actor, event)) from exc
    if goal.status == GoalStatus.DROPPED:
        raise Conflict(N_("This goal was dropped, so its steps cannot be ticked."))
    if bool(step.done_at) != done:
        step.done_at, step.done_by_kind, step.done_by_id = (now, actor.kind, actor.id) if done else (None, None, None)
        db.add(_event(goal, actor, now, "step_done" if done else "step_undone", step_id=step.id))
    steps = (await steps_of(db, [goal.id]))[goal.id]
    all_done = all(s.done_at for s in steps)
    new_status = goal.status
    if done and all_done:
        new_status = GoalStatus.ACHIEVED
    elif done and goal.status == GoalStatus.NOT_STARTED:
        new_status = GoalStatus.UNDER_WAY
    elif not done and goal.status == GoalStatus.ACHIEVED:
        new_status = GoalStatus.UNDER_WAY
    if new_status != goal.status:
        goal.status = new_status
        db.add(_event(goal, actor, now, "status", status=new_status.value))
    await db.flush()
    return GoalWithSteps(goal, steps)


@dataclass(frozen=True)
class TouchedBy:
    """A signed note version that touched the goal, and whether the viewer may open the note."""

    note_id: int
    signed_at: dt.datetime
    readable: bool


async def history(db: AsyncSession, actor: Actor, goal: Goal) -> tuple[list[GoalEvent], list[TouchedBy]]:
    """The goal's events (oldest first), and the signed notes that touched it; the dates and links of notes
    the viewer may not read are not given."""
    events = list(
        (
            await db.execute(select(GoalEvent).where(GoalEvent.goal_id == goal.id).order_by(GoalEvent.at, GoalEvent.id))
        ).scalars()
    )
    condition = notes.readable_notes(actor)
    readable = set()
    if condition is not False:
        readable = set(
            (await db.execute(select(Note.id).where(Note.citizen_id == goal.citizen_id, condition))).scalars()
        )
    rows = await db.execute(
        select(NoteVersion.note_id, NoteVersion.signed_at)
        .join(NoteVersionGoal, NoteVersionGoal.version_id == NoteVersion.id)
        .where(NoteVersionGoal.goal_id == goal.id, NoteVersion.status == NoteStatus.SIGNED)
        .order_by(NoteVersion.signed_at)
    )
    touched = [
        TouchedBy(note_id, signed_at, note_id in readable)
        for note_id, signed_at in rows
        if signed_at is not None  # a signed version has its time
    ]
    return events, touched
