"""The day plan through the pages: the citizen adds, ticks and removes tasks and grades the day; the worker adds a
task with them (with consent) and sees the grade; another citizen's task is not found."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from vbostotte.models import DayGrade, DayTask, OutboxMessage

from support import read_in_english, reread, text_of


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


async def test_the_citizen_plans_ticks_and_grades_the_day(web, world, db):
    await web.open_link(world.a.citizen.link_token)
    assert 'href="/me/day"' in await web.page("/me")  # the start page's menu leads to it
    added = await web.post("/me/day-plan", {"title": "Drik vand", "remind_at": "14:30"}, from_page="/me/day")
    assert added.status == 303 and added.headers["Location"] == "/me/day?done=task_added#day-plan"
    page = text_of(await web.page("/me/day?done=task_added"))
    assert "The task is on your plan." in page and "Drik vand (reminder at 14:30)" in page
    await reread(db)
    task = (await db.execute(select(DayTask).where(DayTask.title == "Drik vand"))).scalar_one()
    planned = (await db.execute(select(OutboxMessage.channel).where(OutboxMessage.day_task_id == task.id))).scalars()
    assert sorted(planned) == ["email", "sms"]  # the world's citizen agreed to both

    done = await web.post(f"/me/day-plan/{task.id}/done", {"done": "1"}, from_page="/me/day")
    assert done.status == 303 and done.headers["Location"] == "/me/day?done=task_done#day-plan"
    assert "Done: Drik vand" in text_of(await web.page("/me/day"))
    removed = await web.post(f"/me/day-plan/{world.a.day_task_id}/remove", from_page="/me/day")
    assert removed.status == 303 and removed.headers["Location"] == "/me/day?done=task_removed#day-plan"
    assert "Køb ind" not in text_of(await web.page("/me/day"))

    graded = await web.post("/me/day-plan/grade", {"grade": "4"}, from_page="/me/day")
    assert graded.headers["Location"] == "/me/day?done=graded#day-grade"
    assert "You answered: Most of it." in text_of(await web.page("/me/day?done=graded"))


async def test_a_reminder_time_already_past_is_refused_with_a_message(web, world, db):
    await web.open_link(world.a.citizen.link_token)
    await reread(db)
    before = (await db.execute(select(func.count()).select_from(DayTask))).scalar_one()
    refused = await web.post("/me/day-plan", {"title": "Stå op", "remind_at": "07:00"}, from_page="/me/day")
    assert refused.status == 422 and "Choose a time later today." in text_of(await refused.text())
    await reread(db)
    assert (await db.execute(select(func.count()).select_from(DayTask))).scalar_one() == before


async def test_the_worker_adds_a_task_with_the_citizen_and_sees_the_grade(web, other_web, world, db):
    await other_web.login(world.a.worker)
    path = f"/citizens/{world.a.citizen.id}"
    added = await other_web.post(f"{path}/day-plan", {"title": "Ring til tandlægen"}, from_page=path)
    assert added.status == 303
    assert "Ring til tandlægen" in text_of(await other_web.page(path))
    await web.open_link(world.a.citizen.link_token)
    assert "Ring til tandlægen" in text_of(await web.page("/me/day"))
    await web.post("/me/day-plan/grade", {"grade": "2"}, from_page="/me/day")
    assert "2 – A little" in text_of(await other_web.page(path))


async def test_without_consent_the_worker_cannot_add_to_the_plan(web, world, db):
    await web.login(world.a.other_worker)
    path = f"/citizens/{world.a.other_citizen.id}"
    assert "Add a task with the citizen" not in text_of(await web.page(path))
    refused = await web.post(f"{path}/day-plan", {"title": "Støvsug"}, from_page=path)
    assert refused.status == 403
    await reread(db)
    assert (await db.execute(select(DayTask).where(DayTask.citizen_id == world.a.other_citizen.id))).first() is None


async def test_another_citizens_task_is_not_found_and_nothing_changes(web, world, db):
    await web.open_link(world.a.other_citizen.link_token)
    for task_id in (world.a.day_task_id, world.b.day_task_id):  # a neighbour's, another municipality's
        for path, form in ((f"/me/day-plan/{task_id}/done", {"done": "1"}), (f"/me/day-plan/{task_id}/remove", {})):
            response = await web.post(path, form, from_page="/me/day")
            assert response.status == 404, path
            assert "Køb ind" not in await response.text()
    await reread(db)
    tasks = (await db.execute(select(DayTask.id, DayTask.done_at))).all()
    assert sorted(tuple(t) for t in tasks) == sorted([(world.a.day_task_id, None), (world.b.day_task_id, None)])
    assert (await db.execute(select(DayGrade))).first() is None
