"""Administrators' pages: staff accounts and teams of their municipality."""

from __future__ import annotations

from aiohttp import web

from vbostotte import access, i18n
from vbostotte.errors import InvalidInput
from vbostotte.models import StaffRole
from vbostotte.services import organisation
from vbostotte.validation import Form
from vbostotte.views import base

ROLES = tuple(role.value for role in StaffRole)


async def home(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.ADMIN)
    db = base.db(request)
    context = {
        "staff": await organisation.list_staff(db, who),
        "teams": await organisation.teams_with_members(db, who),
        "done": request.query.get("done", ""),
    }
    return base.render(request, "admin/home.html", context)


async def staff_new(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.ADMIN)
    context = {"role_options": [(role, i18n.role_label(role), None) for role in ROLES], "values": {}, "errors": {}}
    if request.method != "POST":
        return base.render(request, "admin/staff_new.html", context)
    data = await base.form(request)
    context["values"] = {k: v for k, v in data.items() if k in ("name", "email", "role") and isinstance(v, str)}
    form = Form(data)
    name = form.text("name", max_len=100)
    email = form.email("email")
    role = form.choice("role", ROLES)
    password = form.password("password")
    try:
        form.check()
        await organisation.create_staff(base.db(request), who, who.municipality_id, email=email, name=name,
                                        role=StaffRole(role), password=password, now=base.now(request))
    except InvalidInput as exc:
        return base.render_invalid(request, "admin/staff_new.html", context, exc)
    raise base.redirect(request, "admin_home", query={"done": "staff_created"})


async def staff_active(request: web.Request) -> web.Response:
    who = base.actor(request)
    form = Form(await base.form(request))
    active = form.choice("active", ("1", "0"))
    form.check()
    await organisation.set_active(base.db(request), who, base.object_id(request), active == "1")
    raise base.redirect(request, "admin_home", query={"done": "staff_updated"})


async def team_new(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.ADMIN)
    form = Form(await base.form(request))
    name = form.text("name", max_len=100)
    form.check()
    await organisation.create_team(base.db(request), who, name)
    raise base.redirect(request, "admin_home", query={"done": "team_created"})


async def team_member(request: web.Request) -> web.Response:
    who = base.actor(request)
    form = Form(await base.form(request))
    staff_id = form.integer("staff_id")
    form.check()
    await organisation.add_member(base.db(request), who, base.object_id(request), staff_id)
    raise base.redirect(request, "admin_home", query={"done": "member_added"})
