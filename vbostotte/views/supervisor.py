"""Supervisors' pages: their teams, workers and citizens, and assigning caseloads."""

from __future__ import annotations

from aiohttp import web

from vbostotte import access, audit
from vbostotte.models import StaffRole
from vbostotte.services import citizens, organisation
from vbostotte.validation import Form
from vbostotte.views import base


async def home(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.SUPERVISOR)
    db = base.db(request)
    teams = await organisation.teams_with_members(db, who)
    visible = await citizens.list_visible(db, who)
    return base.render(request, "supervisor/home.html", {"teams": teams, "citizens": visible})


async def assign(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.SUPERVISOR)
    db = base.db(request)
    citizen = await access.citizen_for(db, who, base.object_id(request), "caseload.assign", audit.Purpose.SUPERVISION)
    form = Form(await base.form(request))
    worker_id = form.integer("worker_id")
    form.check()
    await citizens.assign_worker(db, who, citizen, worker_id)
    raise base.redirect(request, "citizen_detail", query={"done": "assigned"}, id=citizen.id)
