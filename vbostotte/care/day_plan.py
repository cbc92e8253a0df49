"""The citizen's day plan ("dagsstruktur"): today's few tasks ("stå op kl. 8", "køb ind", "drik vand"), each
with an optional reminder time (Copenhagen) sent through the durable outbox on the channels the citizen agreed
to; ticking a task done; and at the end of the day a grade of how far they got (1–5).

The citizen keeps their own plan. Their support worker may put tasks on it with them, and sees the plan and
the grades over time, only with the citizen's consent "the worker sees my check-ins" (as for check-ins). A
reminder is checked again when it is due (``services.sender``): not sent for a task that is done or removed,
or once the consent to the channel is withdrawn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.access import require_role
from vbostotte.actors import Actor
from vbostotte.booking import availability
from vbostotte.care import checkins
from vbostotte.errors import InvalidInput, NotFound, PermissionDenied
from vbostotte.i18n import N_
from vbostotte.models import Citizen, DayGrade, DayTask, StaffRole
from vbostotte.reminders import outbox

MAX_TASKS = 10
MAX_TITLE = 100
GRADES = (1, 2, 3, 4, 5)
GRADE_LABELS = {
    1: N_("Hardly anything"),
    2: N_("A little"),
    3: N_("About half"),
    4: N_("Most of it"),
    5: N_("All of it"),
}


@dataclass(frozen=True)
class DayPlan:
    day: dt.date
    tasks: list[DayTask]
    grade: int | None

    @property
    def all_done(self) -> bool:
        return bool(self.tasks) and all(t.done_at is not None for t in self.tasks)


async def _plan(db: AsyncSession, citizen_id: int, day: dt.date) -> DayPlan:
    tasks = list(
        (
            await db.execute(
                select(DayTask)
                .where(DayTask.citizen_id == citizen_id, DayTask.day == day)
                .order_by(DayTask.remind_at.is_(None), DayTask.remind_at, DayTask.id)
            )
        ).scalars()
    )
    grade = await db.get(DayGrade, (citizen_id, day))
    return DayPlan(day, tasks, grade.grade if grade else None)


async def own_plan(db: AsyncSession, actor: Actor, now: dt.datetime) -> DayPlan:
    """The citizen's plan for today, for their start page."""
    if not actor.is_citizen:
        raise PermissionDenied()
    return await _plan(db, actor.known_id, checkins.local_day(now))


async def plan_for_worker(db: AsyncSession, actor: Actor, citizen: Citizen, now: dt.datetime) -> DayPlan | None:
    """Today's plan on the worker's page (``citizen`` already authorised); None without the consent."""
    require_role(actor, StaffRole.WORKER)
    if not await checkins.worker_may_see(db, citizen.id):
        return None
    plan = await _plan(db, citizen.id, checkins.local_day(now))
    await audit.record(
        db,
        actor,
        audit.AuditEvent("day_plan.view", audit.Purpose.WELLBEING_FOLLOW_UP, citizen_id=citizen.id),
        clock=lambda: now,
    )
    return plan


async def add_task(
    db: AsyncSession, actor: Actor, citizen: Citizen, title: str, remind_minute: int | None, now: dt.datetime
) -> DayTask:
    """Put a task on the citizen's plan for today: by the citizen, or by their worker with the consent."""
    if actor.is_citizen:
        if actor.id != citizen.id:
            raise NotFound()
        created_by, purpose = "citizen", audit.Purpose.SELF_SERVICE
    else:
        require_role(actor, StaffRole.WORKER)
        if not await checkins.worker_may_see(db, citizen.id):
            raise PermissionDenied()
        created_by, purpose = "staff", audit.Purpose.WELLBEING_FOLLOW_UP
    if not title or len(title) > MAX_TITLE:
        raise InvalidInput({"title": N_("This field is required.") if not title else N_("This field is too long.")})
    day = checkins.local_day(now)
    count = (
        await db.execute(
            select(func.count()).select_from(DayTask).where(DayTask.citizen_id == citizen.id, DayTask.day == day)
        )
    ).scalar_one()
    if count >= MAX_TASKS:
        raise InvalidInput({"title": N_("The day plan is full. Remove a task first.")})
    remind_at = None
    if remind_minute is not None:
        remind_at = availability.to_utc(day, remind_minute, field="remind_at")
        if remind_at <= now:
            raise InvalidInput({"remind_at": N_("Choose a time later today.")})
    task = DayTask(
        municipality_id=citizen.municipality_id,
        citizen_id=citizen.id,
        day=day,
        title=title,
        remind_at=remind_at,
        created_by=created_by,
        created_at=now,
    )
    db.add(task)
    await db.flush()
    await outbox.plan_for_day_task(db, task, now)
    await audit.record(
        db,
        actor,
        audit.AuditEvent("day_task.create", purpose, citizen_id=citizen.id, object_type="day_task", object_id=task.id),
        clock=lambda: now,
    )
    return task


async def _own_task(db: AsyncSession, actor: Actor, task_id: int, action: str) -> DayTask:
    """One of the citizen's own tasks; anyone else's is not found (and the attempt is audit-logged)."""
    if not actor.is_citizen:
        raise PermissionDenied()
    task = (
        await db.execute(
            select(DayTask).where(
                DayTask.id == task_id, DayTask.citizen_id == actor.id, DayTask.municipality_id == actor.municipality_id
            )
        )
    ).scalar_one_or_none()
    if task is None:
        event = audit.AuditEvent(
            action, audit.Purpose.SELF_SERVICE, audit.DENIED, object_type="day_task", object_id=task_id
        )
        raise NotFound().then(lambda fresh: audit.record(fresh, actor, event))
    return task


async def set_done(db: AsyncSession, actor: Actor, task_id: int, done: bool, now: dt.datetime) -> DayTask:
    """The citizen ticks a task done (or takes the tick back). A done task's reminder is not sent."""
    task = await _own_task(db, actor, task_id, "day_task.done")
    task.done_at = now if done else None
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "day_task.done" if done else "day_task.undone",
            audit.Purpose.SELF_SERVICE,
            citizen_id=actor.id,
            object_type="day_task",
            object_id=task.id,
        ),
        clock=lambda: now,
    )
    return task


async def remove_task(db: AsyncSession, actor: Actor, task_id: int, now: dt.datetime) -> None:
    """The citizen takes a task off the plan; its unsent reminders are dropped."""
    task = await _own_task(db, actor, task_id, "day_task.remove")
    await outbox.drop_day_task(db, task.id, reason="task removed")
    await db.delete(task)
    await db.flush()
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "day_task.remove",
            audit.Purpose.SELF_SERVICE,
            citizen_id=actor.id,
            object_type="day_task",
            object_id=task_id,
        ),
        clock=lambda: now,
    )


async def grade_day(db: AsyncSession, actor: Actor, grade: int, now: dt.datetime) -> DayGrade:
    """The citizen grades how far they got today (one tap; a new answer replaces the day's grade)."""
    if not actor.is_citizen:
        raise PermissionDenied()
    if grade not in GRADES:
        raise InvalidInput({"grade": N_("Choose one of the options.")})
    day = checkins.local_day(now)
    row = await db.get(DayGrade, (actor.id, day))
    if row is None:
        row = DayGrade(citizen_id=actor.id, day=day, municipality_id=actor.municipality_id, grade=grade, at=now)
        db.add(row)
    else:
        row.grade, row.at = grade, now
    await db.flush()
    await audit.record(
        db, actor, audit.AuditEvent("day_grade.set", audit.Purpose.SELF_SERVICE, citizen_id=actor.id), clock=lambda: now
    )
    return row
