"""Goals, below the pages: statuses follow the steps, every change is in the history, and access follows the
citizen."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from vbostotte.actors import Actor
from vbostotte.care import goals
from vbostotte.errors import Conflict, NotFound, PermissionDenied
from vbostotte.models import Citizen, GoalEvent, GoalStatus


def citizen_actor(info) -> Actor:
    return Actor(kind="citizen", id=info.id, municipality_id=info.municipality_id, role="citizen")


async def test_a_goal_is_started_by_its_first_step_and_achieved_by_its_last(world, db, clock):
    a = world.a
    citizen = await db.get(Citizen, a.citizen.id)
    goal = await goals.create(
        db, a.worker.actor, citizen, "Sove bedre", None, ["Sluk skærmen", "Gå i seng kl. 23"], clock()
    )
    steps = (await goals.steps_of(db, [goal.id]))[goal.id]
    result = await goals.tick(db, a.worker.actor, steps[0].id, True, clock())
    assert (goal.status, result.finished) == (GoalStatus.UNDER_WAY, False)
    result = await goals.tick(db, citizen_actor(a.citizen), steps[1].id, True, clock())
    assert (goal.status, result.finished, result.done) == (GoalStatus.ACHIEVED, True, 2)
    again = await goals.tick(db, citizen_actor(a.citizen), steps[1].id, True, clock())  # a double tap
    assert again.finished
    history = (
        await db.execute(
            select(GoalEvent.actor_kind, GoalEvent.event, GoalEvent.status)
            .where(GoalEvent.goal_id == goal.id)
            .order_by(GoalEvent.id)
        )
    ).all()
    assert history == [
        ("staff", "created", "not_started"),
        ("staff", "step_added", None),
        ("staff", "step_added", None),
        ("staff", "step_done", None),
        ("staff", "status", "under_way"),
        ("citizen", "step_done", None),
        ("citizen", "status", "achieved"),
    ]


async def test_who_may_change_goals(world, db, clock):
    a = world.a
    citizen = await db.get(Citizen, a.citizen.id)
    with pytest.raises(PermissionDenied):  # supervisors oversee; the worker agrees goals with the citizen
        await goals.create(db, a.supervisor.actor, citizen, "x", None, [], clock())
    for actor in (a.other_worker.actor, world.b.worker.actor, citizen_actor(a.other_citizen)):
        with pytest.raises(NotFound):
            await goals.tick(db, actor, a.step_id, True, clock())
    with pytest.raises(NotFound):
        await goals.edit(db, world.b.worker.actor, a.goal_id, "x", None, GoalStatus.DROPPED, clock())


async def test_a_goal_has_at_most_twelve_steps(world, db, clock):
    a = world.a
    for n in range(10):
        await goals.add_step(db, a.worker.actor, a.goal_id, f"Skridt {n}", clock())
    with pytest.raises(Conflict):
        await goals.add_step(db, a.worker.actor, a.goal_id, "Et skridt for meget", clock())


async def test_the_demo_citizen_has_goals_and_a_signed_shared_note(db, settings, clock):
    from vbostotte import demo
    from vbostotte.models import Note, NoteStatus, NoteVersion

    await demo.seed(db, settings.with_secret(), clock())
    mette = (await db.execute(select(Citizen).where(Citizen.name == "Mette Hansen"))).scalar_one()
    assert [g.goal.title for g in await goals.for_citizen(db, mette.id)] == ["Gå en tur hver dag", "Handle ind selv"]
    shared = (
        await db.execute(
            select(NoteVersion.status)
            .join(Note, Note.id == NoteVersion.note_id)
            .where(Note.citizen_id == mette.id, Note.shared_with_citizen.is_(True))
        )
    ).scalars()
    assert list(shared) == [NoteStatus.SIGNED]
