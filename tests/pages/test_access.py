"""Who may see what: citizens only their own page, workers their caseload, supervisors their teams,
administrators staff and teams but no citizen, and nobody anything of another municipality."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from vbostotte import audit
from vbostotte.app import create_app
from vbostotte.models import AuditEntry, PersonalLink, Staff, TeamMember

from support import read_in_english, reread, row_counts, text_of

NOT_FOUND = "The page was not found."
NO_ACCESS = "You do not have access to this page."


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


def private_data(*municipalities, but=None) -> list[str]:
    """What must never appear on a page that is not about it: names, e-mails and notes of people."""
    found = []
    for municipality in municipalities:
        for citizen in (municipality.citizen, municipality.other_citizen):
            if citizen is not but:
                found += [citizen.name, f"Agenda for {citizen.name}"]
        for staff in (municipality.admin, municipality.supervisor, municipality.worker, municipality.other_worker):
            found += [staff.name, staff.email]
    return found


def leaked(body: str, *municipalities, but=None) -> list[str]:
    return [item for item in private_data(*municipalities, but=but) if item in body]


AUDIT_LOG = ("audit_entries", "audit_head")  # aside when counting rows: denied attempts are meant to be written there


async def denied_entries(db) -> list[tuple]:
    await reread(db)
    rows = (
        await db.execute(select(AuditEntry).where(AuditEntry.outcome == audit.DENIED).order_by(AuditEntry.id))
    ).scalars()
    return [(e.actor_id, e.action, e.object_type, e.object_id) for e in rows]


async def test_a_citizen_reaches_no_staff_page_and_no_other_citizen(web, world, db):
    me = world.a.citizen
    await web.open_link(me.link_token)
    token = await web.csrf_from("/me")
    before = await row_counts(db, without=AUDIT_LOG)
    every_citizen = [c.id for m in (world.a, world.b) for c in (m.citizen, m.other_citizen)] + [99999]
    for path in [
        "/worker",
        "/supervisor",
        "/admin",
        "/citizens/new",
        "/admin/staff/new",
        *[f"/citizens/{citizen_id}" for citizen_id in every_citizen],
    ]:  # their own id included
        response = await web.get(path)
        body = await response.text()
        assert response.status in (403, 404), path
        assert not leaked(body, world.a, world.b, but=me), path
    for path in [
        f"/citizens/{me.id}/link",
        f"/citizens/{me.id}/link/revoke",
        f"/citizens/{world.a.other_citizen.id}/link",
    ]:
        response = await web.client.post(path, data={"csrf_token": token}, allow_redirects=False)
        assert response.status == 403, path
        assert NO_ACCESS in text_of(await response.text())
    assert await row_counts(db, without=AUDIT_LOG) == before
    assert (
        await db.execute(
            select(PersonalLink).where(PersonalLink.citizen_id == me.id, PersonalLink.revoked_at.is_(None))
        )
    ).first()
    assert (await web.get("/me")).status == 200  # still signed in: the link was not touched


async def test_a_worker_sees_only_their_caseload_and_refused_reads_are_audited(web, world, db):
    worker = world.a.worker
    await web.login(worker)
    assert world.a.citizen.name in text_of(await web.page(f"/citizens/{world.a.citizen.id}"))
    for citizen in (world.a.other_citizen, world.b.citizen):
        response = await web.get(f"/citizens/{citizen.id}")
        assert response.status == 404
        body = await response.text()
        assert NOT_FOUND in text_of(body) and citizen.name not in body
    assert await denied_entries(db) == [
        (worker.id, "citizen.view", "citizen", world.a.other_citizen.id),
        (worker.id, "citizen.view", "citizen", world.b.citizen.id),
    ]
    assert (await audit.verify_chain(db)).ok  # written after the rollback, still in the chain


async def test_a_supervisor_sees_the_teams_citizens_but_not_another_municipalitys(web, world, db):
    supervisor = world.a.supervisor
    await web.login(supervisor)
    home = text_of(await web.page("/supervisor"))
    assert world.a.citizen.name in home and world.a.other_citizen.name in home
    assert world.b.citizen.name not in home
    for citizen in (world.a.citizen, world.a.other_citizen):
        assert citizen.name in text_of(await web.page(f"/citizens/{citizen.id}"))
    response = await web.get(f"/citizens/{world.b.citizen.id}")
    assert response.status == 404 and not leaked(await response.text(), world.b)
    assert await denied_entries(db) == [(supervisor.id, "citizen.view", "citizen", world.b.citizen.id)]


async def test_allowed_reads_of_a_citizen_page_are_audited_with_citizen_and_purpose(web, other_web, world, db):
    await web.login(world.a.worker)
    await web.page(f"/citizens/{world.a.citizen.id}")
    await other_web.login(world.a.supervisor)
    await other_web.page(f"/citizens/{world.a.other_citizen.id}")
    await reread(db)
    views = (
        (await db.execute(select(AuditEntry).where(AuditEntry.action == "citizen.view").order_by(AuditEntry.id)))
        .scalars()
        .all()
    )
    assert [(e.actor_id, e.citizen_id, e.purpose, e.outcome) for e in views] == [
        (world.a.worker.id, world.a.citizen.id, audit.Purpose.SUPPORT, audit.ALLOWED),
        (world.a.supervisor.id, world.a.other_citizen.id, audit.Purpose.SUPERVISION, audit.ALLOWED),
    ]


async def test_an_administrator_reads_no_citizen_page(web, world, db):
    admin = world.a.admin
    await web.login(admin)
    for citizen in (world.a.citizen, world.b.citizen):
        response = await web.get(f"/citizens/{citizen.id}")
        assert response.status == 404 and citizen.name not in await response.text()
    assert await denied_entries(db) == [
        (admin.id, "citizen.view", "citizen", world.a.citizen.id),
        (admin.id, "citizen.view", "citizen", world.b.citizen.id),
    ]


async def test_an_administrator_manages_staff_and_teams_of_their_own_municipality_only(web, world, db):
    await web.login(world.a.admin)
    created = await web.post("/admin/teams", {"name": "Team Vest"}, from_page="/admin")
    assert created.status == 303
    admin_page = text_of(await web.page("/admin"))
    assert "Team Vest" in admin_page and world.a.worker.email in admin_page
    assert not leaked(admin_page, world.b)

    before = await row_counts(db, without=AUDIT_LOG)
    foreign_member = await web.post(
        f"/admin/teams/{world.a.team_id}/members", {"staff_id": str(world.b.worker.id)}, from_page="/admin"
    )
    assert foreign_member.status == 422
    assert "Choose one of the options." in text_of(await foreign_member.text())
    foreign_staff = await web.post(f"/admin/staff/{world.b.worker.id}/active", {"active": "0"}, from_page="/admin")
    assert foreign_staff.status == 404
    assert await row_counts(db, without=AUDIT_LOG) == before
    assert (await db.get(Staff, world.b.worker.id)).active
    assert await db.get(TeamMember, (world.a.team_id, world.b.worker.id)) is None

    own = await web.post(
        f"/admin/teams/{world.a.team_id}/members", {"staff_id": str(world.a.supervisor.id)}, from_page="/admin"
    )
    assert own.status == 303  # the same form works for the administrator's own staff


# Every URL with an {id} (see routes.py), the form it sends, and what kind of object the id names.
ID_ROUTES = {
    "citizen_detail": ("GET", "/citizens/{id}", "citizen", {}),
    "link_issue": ("POST", "/citizens/{id}/link", "citizen", {}),
    "link_revoke": ("POST", "/citizens/{id}/link/revoke", "citizen", {}),
    "citizen_assign": ("POST", "/citizens/{id}/assign", "citizen", {"worker_id": "worker"}),
    "citizen_consent_record": (
        "POST",
        "/citizens/{id}/consents",
        "citizen",
        {"kind": "video", "action": "withdraw", "how": "phone"},
    ),
    "admin_consent_kind": ("GET", "/admin/consents/{id}", "consent_kind", {}),
    "citizen_call_privacy": ("POST", "/citizens/{id}/call-privacy", "citizen", {"relay": "1"}),
    "citizen_call_now_start": ("POST", "/citizens/{id}/call-now", "citizen", {}),
    "admin_staff_active": ("POST", "/admin/staff/{id}/active", "staff", {"active": "0"}),
    "admin_team_member": ("POST", "/admin/teams/{id}/members", "team", {"staff_id": "worker"}),
    "admin_team_phone": ("POST", "/admin/teams/{id}/phone", "team", {"phone": "89401234"}),
    "staff_photo": ("GET", "/staff/{id}/photo", "staff", {}),
    "appointment": ("GET", "/appointments/{id}", "appointment", {}),
    "call": ("GET", "/calls/{id}", "appointment", {}),
    "call_ticket": ("POST", "/calls/{id}/ticket", "appointment", {}),
    "guest_link_create": ("POST", "/calls/{id}/guests", "appointment", {"kind": "relative", "name": "Bo"}),
    "guest_link_revoke": ("POST", "/calls/{id}/guests/revoke", "appointment", {"kind": "relative"}),
    "absence_remove": ("POST", "/worker/absences/{id}/remove", "absence", {}),
    "appointment_cancel": ("POST", "/appointments/{id}/cancel", "appointment", {"reason": "Sick"}),
    "appointment_reschedule": (
        "POST",
        "/appointments/{id}/reschedule",
        "appointment",
        {"date": "2026-11-26", "time": "10:00", "duration": "45", "reason": "Moved"},
    ),
    "appointment_attendance": ("POST", "/appointments/{id}/attendance", "appointment", {"attendance": "attended"}),
    "appointment_release": ("POST", "/appointments/{id}/release-interpreter", "appointment", {}),
    "appointment_respond": ("POST", "/me/appointments/{id}/respond", "appointment", {"response": "confirmed"}),
    "appointment_calendar": ("GET", "/appointments/{id}.ics", "appointment", {}),
    "citizen_appointment_calendar": ("GET", "/me/appointments/{id}.ics", "appointment", {}),
    "session_log": ("GET", "/supervisor/appointments/{id}/log", "appointment", {}),
    "team_travel_minutes": ("POST", "/supervisor/teams/{id}/travel", "team", {"minutes": "40"}),
    "account_api_key_revoke": ("POST", "/account/api-keys/{id}/revoke", "api_token", {}),
    "appointment_note": ("GET", "/appointments/{id}/note", "appointment", {}),
    "note_new": ("POST", "/citizens/{id}/notes", "citizen", {}),
    "note": ("GET", "/notes/{id}", "note", {}),
    "note_save": ("POST", "/notes/{id}", "note", {"talked_about": "Vi talte", "shared": "0"}),
    "note_sign": ("POST", "/notes/{id}/sign", "note", {"talked_about": "Vi talte", "shared": "0"}),
    "note_amend": ("POST", "/notes/{id}/amend", "note", {"reason": "Rettelse"}),
    "goal_new": ("POST", "/citizens/{id}/goals", "citizen", {"title": "Handle ind selv"}),
    "goal": ("GET", "/goals/{id}", "goal", {}),
    "goal_edit": ("POST", "/goals/{id}", "goal", {"title": "Handle ind selv", "status": "under_way"}),
    "goal_step_new": ("POST", "/goals/{id}/steps", "goal", {"text": "Skriv en indkøbsliste"}),
    "goal_step_tick": ("POST", "/goals/steps/{id}/tick", "goal_step", {"done": "1"}),
    "citizen_step_tick": ("POST", "/me/steps/{id}/tick", "goal_step", {"done": "1"}),
    "day_task_done": ("POST", "/me/day-plan/{id}/done", "day_task", {"done": "1"}),
    "day_task_remove": ("POST", "/me/day-plan/{id}/remove", "day_task", {}),
    "citizen_day_task_add": ("POST", "/citizens/{id}/day-plan", "citizen", {"title": "Køb ind"}),
    "citizen_checkins_followed_up": ("POST", "/citizens/{id}/checkins/followed-up", "citizen", {}),
    "citizen_data_export": ("GET", "/citizens/{id}/data", "citizen", {}),
    "citizen_data_export_json": ("GET", "/citizens/{id}/data.json", "citizen", {}),
    "caseworker_summary": ("GET", "/citizens/{id}/caseworker-summary", "citizen", {}),
}


def test_the_id_routes_above_are_all_of_them(settings):
    app = create_app(settings)
    # The JSON API's {id} routes are checked the same way, with JSON bodies, in test_api.py.
    with_id = {
        route.name
        for route in app.router.routes()
        if route.name and "{id}" in route.resource.canonical and not route.name.startswith("api_")
    }
    assert with_id == set(ID_ROUTES)


@pytest.mark.parametrize("role", ["worker", "supervisor", "admin"])
async def test_changing_the_id_in_a_url_never_shows_another_municipalitys_data(web, world, db, role):
    """Another municipality's object answers exactly like one that does not exist, and nothing changes."""
    await web.login(getattr(world.a, role))
    foreign = {
        "citizen": world.b.citizen.id,
        "staff": world.b.worker.id,
        "team": world.b.team_id,
        "appointment": world.b.citizen.appointment_id,
        "absence": world.b.absence_id,
        "api_token": world.b.api_token_id,
        "note": world.b.signed_note_id,
        "goal": world.b.goal_id,
        "goal_step": world.b.step_id,
        "day_task": world.b.day_task_id,
        "consent_kind": world.b.consent_kind_id,
    }
    token = await web.csrf_from("/")
    before = await row_counts(db, without=AUDIT_LOG)
    for name, (method, pattern, kind, form) in ID_ROUTES.items():
        data = {key: str(world.a.worker.id) if value == "worker" else value for key, value in form.items()}
        answers = []
        for object_id in (foreign[kind], 99999):
            path = pattern.format(id=object_id)
            if method == "GET":
                response = await web.get(path)
            else:
                response = await web.client.post(path, data={**data, "csrf_token": token}, allow_redirects=False)
            body = await response.text()
            assert response.status in (403, 404, 422), (name, object_id, response.status)
            assert not leaked(body, world.b), (name, object_id)
            answers.append((response.status, text_of(body)))
        assert answers[0] == answers[1], name
    assert await row_counts(db, without=AUDIT_LOG) == before
