"""Wellbeing check-ins and the day plan: the citizen's forms on their own pages, and the worker's section
on the citizen's page (only with the citizen's consent, see ``services.checkins``)."""

from __future__ import annotations

from aiohttp import web

from vbostotte import access, audit
from vbostotte.actors import Actor
from vbostotte.care import checkins, day_plan
from vbostotte.errors import PermissionDenied
from vbostotte.identity import citizens
from vbostotte.models import StaffRole
from vbostotte.web import base
from vbostotte.web.validation import Form

LEVEL_CHOICES = tuple(str(level) for level in checkins.LEVELS)
GRADE_CHOICES = tuple(str(grade) for grade in day_plan.GRADES)


def _citizen(request: web.Request) -> Actor:
    who = base.actor(request)
    if not who.is_citizen:
        raise PermissionDenied()
    return who


def _back(request: web.Request, page: str, done: str, section: str) -> web.HTTPSeeOther:
    """Back to the citizen's page the form is on (``citizen_checkin``, ``citizen_day``), at the section just used,
    with its confirmation."""
    return web.HTTPSeeOther(f"{base.url(request, page)}?done={done}#{section}")


async def check_in(request: web.Request) -> web.Response:
    """The citizen taps a face (one form submit), with a few words if they like."""
    who = _citizen(request)
    form = Form(await base.form(request))
    level = form.choice("level", LEVEL_CHOICES)
    words = form.text("words", max_len=checkins.MAX_WORDS, required=False)
    form.check()
    await checkins.check_in(base.db(request), who, int(form.checked(level)), words, base.now(request))
    raise _back(request, "citizen_checkin", "checkin", "checkin")


async def task_add(request: web.Request) -> web.Response:
    who = _citizen(request)
    db = base.db(request)
    title, minute = _task_form(await base.form(request))
    citizen = await citizens.by_id(db, who.known_id)
    await day_plan.add_task(db, who, citizen, title, minute, base.now(request))
    raise _back(request, "citizen_day", "task_added", "day-plan")


def _task_form(data) -> tuple[str, int | None]:
    form = Form(data)
    title = form.text("title", max_len=day_plan.MAX_TITLE)
    minute = form.clock_time("remind_at", required=False)
    form.check()
    return form.checked(title), minute


async def task_done(request: web.Request) -> web.Response:
    who = _citizen(request)
    form = Form(await base.form(request))
    done = form.choice("done", ("1", "0"))
    form.check()
    await day_plan.set_done(base.db(request), who, base.object_id(request), done == "1", base.now(request))
    raise _back(request, "citizen_day", "task_done" if done == "1" else "task_undone", "day-plan")


async def task_remove(request: web.Request) -> web.Response:
    who = _citizen(request)
    await day_plan.remove_task(base.db(request), who, base.object_id(request), base.now(request))
    raise _back(request, "citizen_day", "task_removed", "day-plan")


async def grade(request: web.Request) -> web.Response:
    who = _citizen(request)
    form = Form(await base.form(request))
    value = form.choice("grade", GRADE_CHOICES)
    form.check()
    await day_plan.grade_day(base.db(request), who, int(form.checked(value)), base.now(request))
    raise _back(request, "citizen_day", "graded", "day-grade")


async def worker_task_add(request: web.Request) -> web.Response:
    """The worker puts a task on the citizen's plan with them (only with the citizen's consent)."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db = base.db(request)
    citizen = await access.citizen_for(
        db, who, base.object_id(request), "day_task.create", audit.Purpose.WELLBEING_FOLLOW_UP
    )
    title, minute = _task_form(await base.form(request))
    await day_plan.add_task(db, who, citizen, title, minute, base.now(request))
    raise web.HTTPSeeOther(f"{base.url(request, 'citizen_detail', id=citizen.id)}?done=task_added#wellbeing")


async def followed_up(request: web.Request) -> web.Response:
    """The worker has followed up the citizen's hard day: the mark on the start page goes."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db = base.db(request)
    citizen = await access.citizen_for(
        db, who, base.object_id(request), "checkin.follow_up", audit.Purpose.WELLBEING_FOLLOW_UP
    )
    await checkins.mark_followed_up(db, who, citizen, base.now(request))
    raise web.HTTPSeeOther(f"{base.url(request, 'citizen_detail', id=citizen.id)}?done=followed_up#wellbeing")
