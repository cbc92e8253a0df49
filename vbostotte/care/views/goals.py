"""Goals: creating and editing them (workers), the goal page with its history, and ticking steps done
(the citizen with one tap on their own page, or the worker). Rules live in ``care/goals.py``."""

from __future__ import annotations

import datetime as dt

from aiohttp import web

from vbostotte import access, audit, i18n
from vbostotte.actors import Actor
from vbostotte.care import goals
from vbostotte.care.views.notes import NoteForm
from vbostotte.errors import InvalidInput, PermissionDenied
from vbostotte.i18n import N_
from vbostotte.identity import citizens, organisation
from vbostotte.models import GoalStatus, StaffRole
from vbostotte.web import base

STATUSES = tuple(s.value for s in GoalStatus)


def _steps(form: NoteForm, name: str) -> list[str]:
    """One step per line of a text box; each line is checked like a one-line field."""
    lines = [line.strip() for line in form.paragraphs(name, max_len=goals.MAX_STEPS * 201).split("\n")]
    lines = [line for line in lines if line]
    if name not in form.errors:
        if any(len(line) > 200 for line in lines):
            form.errors[name] = N_("This field is too long.")
        elif "\t" in "".join(lines):
            form.errors[name] = N_("This field contains characters that are not allowed.")
        elif len(lines) > goals.MAX_STEPS:
            form.errors[name] = N_("A goal can have at most 12 steps. Make a new goal instead.")
    return lines


def _goal_fields(form: NoteForm) -> tuple[str, dt.date | None]:
    title = form.text("title", max_len=200) or ""
    target = form.date("target_date", required=False)
    return title, target


async def goal_new(request: web.Request) -> web.Response:
    """A new goal for the citizen, written on the citizen's page with them."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db = base.db(request)
    citizen = await access.citizen_for(db, who, base.object_id(request), "goal.create", audit.Purpose.SUPPORT)
    form = NoteForm(await base.form(request))
    title, target = _goal_fields(form)
    steps = _steps(form, "steps")
    form.check()
    goal = await goals.create(db, who, citizen, title, target, steps, base.now(request))
    raise base.redirect(request, "goal", query={"done": "created"}, id=goal.id)


async def _page(request: web.Request, *, status: int = 200, errors: dict | None = None) -> web.Response:
    who = base.actor(request)
    access.require_staff(who)
    db = base.db(request)
    goal = await goals.goal_for(db, who, base.object_id(request), "goal.view")
    events, touched = await goals.history(db, who, goal)
    steps = (await goals.steps_of(db, [goal.id]))[goal.id]
    staff_ids = {e.actor_id for e in events if e.actor_kind == "staff" and e.actor_id is not None}
    names = await organisation.staff_names(db, staff_ids)
    return base.render(
        request,
        "goals/goal.html",
        {
            "goal": goal,
            "steps": steps,
            "step_text": {s.id: s.text for s in steps},
            "events": events,
            "names": names,
            "touched": touched,
            "citizen": await citizens.by_id(db, goal.citizen_id),
            "statuses": STATUSES,
            "errors": errors or {},
            "done": request.query.get("done", ""),
            "error_summary": i18n.gettext(InvalidInput.message) if errors else "",
        },
        status=status,
    )


async def show(request: web.Request) -> web.Response:
    return await _page(request)


async def _change(request: web.Request, work) -> web.Response:
    """Run one change on the goal; refused input shows the goal page again with the message."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    form = NoteForm(await base.form(request))
    try:
        await work(who, form)
    except InvalidInput as exc:
        return await _page(request, status=422, errors={k: i18n.gettext(v) for k, v in exc.errors.items()})
    raise base.redirect(request, "goal", query={"done": "saved"}, id=base.object_id(request))


async def edit(request: web.Request) -> web.Response:
    async def work(who: Actor, form: NoteForm):
        title, target = _goal_fields(form)
        status = form.choice("status", STATUSES)
        form.check()
        await goals.edit(
            base.db(request), who, base.object_id(request), title, target, GoalStatus(status), base.now(request)
        )

    return await _change(request, work)


async def step_new(request: web.Request) -> web.Response:
    async def work(who: Actor, form: NoteForm):
        text = form.text("text", max_len=200)
        form.check()
        await goals.add_step(base.db(request), who, base.object_id(request), form.checked(text), base.now(request))

    return await _change(request, work)


def _done(form: NoteForm) -> bool:
    done = form.choice("done", ("0", "1"))
    form.check()
    return done == "1"


async def step_tick(request: web.Request) -> web.Response:
    """The worker ticks a step (with the citizen, or as told)."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    done = _done(NoteForm(await base.form(request)))
    result = await goals.tick(base.db(request), who, base.object_id(request), done, base.now(request))
    raise base.redirect(request, "goal", query={"done": "ticked"}, id=result.goal.id)


async def citizen_step_tick(request: web.Request) -> web.Response:
    """The citizen ticks a step of their own goal: one tap. Finishing the goal is celebrated on their page."""
    who = base.actor(request)
    if not who.is_citizen:
        raise PermissionDenied()
    done = _done(NoteForm(await base.form(request)))
    result = await goals.tick(base.db(request), who, base.object_id(request), done, base.now(request))
    outcome = "goal_achieved" if done and result.finished else "step_done" if done else "step_undone"
    location = base.url(request, "citizen_goals") + f"?done={outcome}&goal={result.goal.id}#goal-{result.goal.id}"
    raise web.HTTPSeeOther(location)
