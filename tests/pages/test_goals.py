"""Goals through the pages: the worker makes and changes them, the citizen ticks steps with one tap and sees a
celebration, the history keeps every change and the notes that touched the goal (for those who may read them)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from vbostotte.models import Caseload, Goal, GoalEvent, GoalStatus, GoalStep, StaffRole, Team

from support import add_staff, read_in_english, reread, text_of


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


async def goal_state(db, goal_id: int) -> tuple:
    await reread(db)
    goal = await db.get(Goal, goal_id)
    steps = (
        await db.execute(select(GoalStep).where(GoalStep.goal_id == goal_id).order_by(GoalStep.position))
    ).scalars()
    return goal.status, [(s.text, s.done_at is not None, s.done_by_kind) for s in steps]


async def events(db, goal_id: int) -> list[tuple]:
    await reread(db)
    rows = (await db.execute(select(GoalEvent).where(GoalEvent.goal_id == goal_id).order_by(GoalEvent.id))).scalars()
    return [(e.actor_kind, e.event, e.status) for e in rows]


async def test_a_worker_makes_a_goal_with_steps_and_changes_it(web, world, db):
    a = world.a
    await web.login(a.worker)
    citizen_page = await web.page(f"/citizens/{a.citizen.id}")
    assert "Gå en tur hver dag" in citizen_page and f'action="/citizens/{a.citizen.id}/goals"' in citizen_page
    created = await web.post(
        f"/citizens/{a.citizen.id}/goals",
        {"title": "Handle ind selv", "target_date": "2026-12-24", "steps": "Skriv en liste\n\n  Gå i Netto  \n"},
        from_page=f"/citizens/{a.citizen.id}",
    )
    assert created.status == 303
    goal_id = int(created.headers["Location"].split("/")[2].split("?")[0])
    assert await goal_state(db, goal_id) == (
        GoalStatus.NOT_STARTED,
        [("Skriv en liste", False, None), ("Gå i Netto", False, None)],
    )
    await web.post(f"/goals/{goal_id}/steps", {"text": "Bær varerne hjem"}, from_page=f"/goals/{goal_id}")
    await web.post(
        f"/goals/{goal_id}",
        {"title": "Handle ind selv hver uge", "target_date": "", "status": "under_way"},
        from_page=f"/goals/{goal_id}",
    )
    page = text_of(await web.page(f"/goals/{goal_id}"))
    assert "Handle ind selv hver uge" in page and "Under way" in page and "Bær varerne hjem" in page
    assert "created the goal" in page and "status: Under way" in page and "changed the words" in page
    assert await events(db, goal_id) == [
        ("staff", "created", "not_started"),
        ("staff", "step_added", None),
        ("staff", "step_added", None),
        ("staff", "step_added", None),
        ("staff", "edited", None),
        ("staff", "status", "under_way"),
    ]
    assert (await db.get(Goal, goal_id)).target_date is None


async def test_the_citizen_ticks_steps_with_one_tap_and_a_reached_goal_is_celebrated(web, world, db):
    a = world.a
    await web.open_link(a.citizen.link_token)
    assert 'href="/me/goals"' in await web.page("/me")  # the start page's menu leads to them
    home = await web.page("/me/goals")
    assert "Your goals" in text_of(home) and "Gå til postkassen" in home
    first = await web.post(f"/me/steps/{a.step_id}/tick", {"done": "1"}, from_page="/me/goals")
    assert first.status == 303 and "done=step_done" in first.headers["Location"]
    assert first.headers["Location"].startswith("/me/goals?")  # back on the page the tap was made on
    assert "Well done! The step is ticked off." in text_of(await web.page(first.headers["Location"]))
    assert await goal_state(db, a.goal_id) == (
        GoalStatus.UNDER_WAY,
        [("Gå til postkassen", True, "citizen"), ("Gå rundt om søen", False, None)],
    )
    second_step = (
        await db.execute(select(GoalStep.id).where(GoalStep.goal_id == a.goal_id, GoalStep.position == 2))
    ).scalar_one()
    last = await web.post(f"/me/steps/{second_step}/tick", {"done": "1"}, from_page="/me/goals")
    assert last.headers["Location"] == f"/me/goals?done=goal_achieved&goal={a.goal_id}#goal-{a.goal_id}"
    page = await web.page(last.headers["Location"])
    assert 'class="celebration" role="status"' in page
    assert "You have reached your goal: Gå en tur hver dag" in text_of(page)
    assert (await goal_state(db, a.goal_id))[0] == GoalStatus.ACHIEVED
    # Undo is possible, and the goal is under way again; the history has it all, by the citizen.
    await web.post(f"/me/steps/{second_step}/tick", {"done": "0"}, from_page="/me/goals")
    assert (await goal_state(db, a.goal_id))[0] == GoalStatus.UNDER_WAY
    assert await events(db, a.goal_id) == [
        ("citizen", "step_done", None),
        ("citizen", "status", "under_way"),
        ("citizen", "step_done", None),
        ("citizen", "status", "achieved"),
        ("citizen", "step_undone", None),
        ("citizen", "status", "under_way"),
    ]


async def test_a_citizen_ticks_only_their_own_steps(web, world, db):
    a = world.a
    await web.open_link(a.other_citizen.link_token)
    before = await goal_state(db, a.goal_id)
    for step_id in (a.step_id, world.b.step_id, 99999):
        response = await web.post(f"/me/steps/{step_id}/tick", {"done": "1"}, from_page="/me/goals")
        assert response.status == 404, step_id
    assert await goal_state(db, a.goal_id) == before
    assert "Gå en tur hver dag" not in await web.page("/me/goals")


async def test_a_dropped_goal_is_not_shown_to_the_citizen_and_cannot_be_ticked(web, other_web, world, db):
    a = world.a
    await web.login(a.worker)
    await web.post(
        f"/goals/{a.goal_id}", {"title": "Gå en tur hver dag", "status": "dropped"}, from_page=f"/goals/{a.goal_id}"
    )
    await other_web.open_link(a.citizen.link_token)
    assert "Gå en tur hver dag" not in await other_web.page("/me/goals")
    refused = await other_web.post(f"/me/steps/{a.step_id}/tick", {"done": "1"}, from_page="/me/goals")
    assert refused.status == 409


async def test_the_goal_history_lists_the_notes_that_touched_it_only_for_those_who_may_read_them(
    web, other_web, world, db, clock
):
    a = world.a
    await web.login(a.worker)
    await web.post(
        f"/notes/{a.note_id}/sign",
        {"talked_about": "Vi gik en tur", "shared": "0", "goal_ids": str(a.goal_id)},
        from_page=f"/notes/{a.note_id}",
    )
    history = await web.page(f"/goals/{a.goal_id}")
    assert f'href="/notes/{a.note_id}"' in history and "Note signed" in text_of(history)
    # A worker of another team, put on the citizen's caseload, sees the goal but may not read the team's notes.
    west = Team(municipality_id=a.id, name="Team Vest")
    db.add(west)
    await db.flush()
    outsider = await add_staff(db, world, "west-worker", StaffRole.WORKER, west.id, clock())
    db.add(Caseload(staff_id=outsider.id, citizen_id=a.citizen.id))
    await db.commit()
    await other_web.login(outsider)
    page = await other_web.page(f"/goals/{a.goal_id}")
    assert "Gå en tur hver dag" in page
    assert f'/notes/{a.note_id}"' not in page and "Note signed" not in text_of(page)
