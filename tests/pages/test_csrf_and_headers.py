"""Cross-site request forgery is refused on every form, and every response carries the security headers."""

from __future__ import annotations

import re
from html import unescape

import pytest

from vbostotte.app import create_app
from vbostotte.config import load_settings
from vbostotte.identity import sessions

from support import CSRF_RE, PASSWORD, WebClient, read_in_english, row_counts, text_of

EXPIRED = "The form had expired. Please go back, reload the page and try again."
HOME = {
    None: "/login",
    "pending": "/login/code",
    "worker": "/worker",
    "supervisor": "/supervisor",
    "admin": "/admin",
    "citizen": "/me",
}


# Past the CSRF check, a few forms meet a domain rule at the world's time: still proof the token was all it took.
ACCEPTED = {
    "call_ticket": (409,),  # the call opens 15 minutes before the appointment, which is tomorrow
    "guest_ticket": (404,),  # a guest ticket needs a guest link that exists
    "account_photo": (422,),  # a photo is a file (tests/pages/test_staff_photo.py): this plain form has none
    "citizen_talk": (303, 409),  # only inside the worker's message hours (tests/pages/test_between_appointments.py)
    "citizen_call_now_start": (303, 409),  # only inside working hours, with video consent (the same file)
}


def post_forms(world) -> dict[str, tuple[str | None, str, dict]]:
    """Every POST route of routes.py: who sends it, to where, and a form that is accepted with a valid token."""
    a = world.a
    return {
        "login": (None, "/login", {"email": a.worker.email, "password": PASSWORD}),
        "language": (None, "/language", {"locale": "en", "next": "/login"}),
        "login_enrol": ("pending", "/login/enrol", {"code": "{code}"}),  # enrolled already: on to the code
        "login_code": ("pending", "/login/code", {"code": "{code}"}),
        "citizen_new": ("worker", "/citizens/new", {"name": "Nina Holm", "preferred_name": "Nina", "locale": "da"}),
        "link_issue": ("worker", f"/citizens/{a.citizen.id}/link", {}),
        "link_revoke": ("worker", f"/citizens/{a.citizen.id}/link/revoke", {}),
        "citizen_consent_record": (
            "worker",
            f"/citizens/{a.citizen.id}/consents",
            {"kind": "sms_reminders", "action": "withdraw", "how": "phone"},
        ),
        "citizen_consent": ("citizen", "/me/consents", {"kind": "video", "action": "withdraw"}),
        "admin_consents": (
            "admin",
            "/admin/consents",
            {
                "code": "photos",
                "title_da": "Billeder",
                "text_da": "Jeg siger ja til billeder.",
                "title_en": "Photos",
                "text_en": "I agree to photos.",
            },
        ),
        "admin_consent_kind": (
            "admin",
            f"/admin/consents/{a.consent_kind_id}",
            {"title_da": "Video", "text_da": "Ny tekst.", "title_en": "Video", "text_en": "New text."},
        ),
        "citizen_call_privacy": ("worker", f"/citizens/{a.citizen.id}/call-privacy", {"relay": "1"}),
        "working_hours": ("worker", "/worker/hours", {"work_0_start": "08:00", "work_0_end": "16:00"}),
        "calendar_feed_create": ("worker", "/worker/calendar-feed", {}),
        "calendar_feed_revoke": ("worker", "/worker/calendar-feed/revoke", {}),
        "absences": (
            "worker",
            "/worker/absences",
            {"first_day": "2026-12-07", "last_day": "2026-12-08", "reason": "holiday"},
        ),
        "absence_remove": ("worker", f"/worker/absences/{a.absence_id}/remove", {}),
        "appointment_new": (
            "worker",
            "/appointments/new",
            {"citizen_id": str(a.citizen.id), "kind": "video", "date": "2026-11-30", "time": "10:00", "duration": "45"},
        ),
        "appointment_reschedule": (
            "worker",
            f"/appointments/{a.citizen.appointment_id}/reschedule",
            {"date": "2026-11-30", "time": "13:00", "duration": "45", "reason": "Moved"},
        ),
        "appointment_attendance": (
            "worker",
            f"/appointments/{a.citizen.past_appointment_id}/attendance",
            {"attendance": "attended"},
        ),
        "appointment_release": ("worker", f"/appointments/{a.citizen.appointment_id}/release-interpreter", {}),
        # before the cancel below: a cancelled call has no guests
        "guest_link_create": (
            "worker",
            f"/calls/{a.citizen.appointment_id}/guests",
            {"kind": "relative", "name": "Bo Holm"},
        ),
        "guest_link_revoke": ("worker", f"/calls/{a.citizen.appointment_id}/guests/revoke", {"kind": "relative"}),
        "appointment_cancel": ("worker", f"/appointments/{a.citizen.appointment_id}/cancel", {"reason": "Sick"}),
        "call_ticket": ("worker", f"/calls/{a.citizen.appointment_id}/ticket", {}),
        "guest_ticket": (None, "/g/" + "x" * 43 + "/ticket", {"name": "Tina Tolk"}),
        "account_api_keys": ("worker", "/account/api-keys", {"label": "Case system", "days": "90"}),
        "account_api_key_revoke": ("worker", f"/account/api-keys/{a.api_token_id}/revoke", {}),
        "account_photo": ("worker", "/account/photo", {}),
        "account_photo_remove": ("worker", "/account/photo/remove", {}),
        "note_new": ("worker", f"/citizens/{a.citizen.id}/notes", {}),
        "note_save": ("worker", f"/notes/{a.note_id}", {"talked_about": "Vi talte om ugen", "shared": "0"}),
        "note_sign": ("worker", f"/notes/{a.note_id}/sign", {"talked_about": "Vi talte om ugen", "shared": "0"}),
        "note_amend": ("worker", f"/notes/{a.signed_note_id}/amend", {"reason": "Rettelse"}),
        "goal_new": ("worker", f"/citizens/{a.citizen.id}/goals", {"title": "Handle ind selv", "steps": "Liste"}),
        "goal_edit": ("worker", f"/goals/{a.goal_id}", {"title": "Gå en tur", "status": "under_way"}),
        "goal_step_new": ("worker", f"/goals/{a.goal_id}/steps", {"text": "Gå til bageren"}),
        "goal_step_tick": ("worker", f"/goals/steps/{a.step_id}/tick", {"done": "1"}),
        "citizen_step_tick": ("citizen", f"/me/steps/{a.step_id}/tick", {"done": "1"}),
        "appointment_respond": (
            "citizen",
            f"/me/appointments/{a.citizen.appointment_id}/respond",
            {"response": "confirmed"},
        ),
        "checkin_create": ("citizen", "/me/checkins", {"level": "3", "words": "Fint"}),
        "day_task_add": ("citizen", "/me/day-plan", {"title": "Drik vand", "remind_at": "20:00"}),
        "day_task_done": ("citizen", f"/me/day-plan/{a.day_task_id}/done", {"done": "1"}),
        "day_task_remove": ("citizen", f"/me/day-plan/{a.day_task_id}/remove", {}),
        "day_grade": ("citizen", "/me/day-plan/grade", {"grade": "4"}),
        "citizen_day_task_add": ("worker", f"/citizens/{a.citizen.id}/day-plan", {"title": "Køb ind"}),
        "citizen_checkins_followed_up": ("worker", f"/citizens/{a.citizen.id}/checkins/followed-up", {}),
        "citizen_assign": ("supervisor", f"/citizens/{a.citizen.id}/assign", {"worker_id": str(a.other_worker.id)}),
        "team_travel_minutes": ("supervisor", f"/supervisor/teams/{a.team_id}/travel", {"minutes": "40"}),
        "admin_staff_new": (
            "admin",
            "/admin/staff/new",
            {
                "name": "Nils Berg",
                "email": "nils@aarhus.example.dk",
                "role": "worker",
                "password": "a long first password",
            },
        ),
        "admin_staff_active": ("admin", f"/admin/staff/{a.worker.id}/active", {"active": "0"}),
        "admin_team_new": ("admin", "/admin/teams", {"name": "Team Nord"}),
        "admin_settings": (
            "admin",
            "/admin/settings",
            {"offsets": "1440", "cutoff": "3", "crisis_line_text": "Psykiatrisk akutmodtagelse: 7011 2233"},
        ),
        "admin_team_member": ("admin", f"/admin/teams/{a.team_id}/members", {"staff_id": str(a.supervisor.id)}),
        "admin_team_phone": ("admin", f"/admin/teams/{a.team_id}/phone", {"phone": "89401234"}),
        "admin_sso": ("admin", "/admin/sso", {"scopes": "openid email", "password_login": "1"}),
        "citizen_talk": ("citizen", "/me/talk", {}),
        "citizen_call_now_start": ("worker", f"/citizens/{a.citizen.id}/call-now", {}),
        "logout": ("worker", "/logout", {}),  # last: the worker's other forms need the session
    }


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


async def sign_in(browser: WebClient, world, who: str | None) -> None:
    if who == "pending":  # the password is given, the code is not yet
        await browser.post("/login", {"email": world.a.worker.email, "password": PASSWORD})
    elif who == "citizen":
        assert (await browser.open_link(world.a.citizen.link_token)).status == 303
    elif who:
        assert (await browser.login(getattr(world.a, who))).status == 303


def test_the_forms_above_are_every_post_route(settings, world):
    app = create_app(settings)
    # The JSON API takes its token in the X-CSRF-Token header: see test_api.py.
    posting = {
        route.name
        for route in app.router.routes()
        if route.method in ("POST", "*") and not route.name.startswith("api_")
    }
    assert posting == set(post_forms(world))


@pytest.mark.parametrize("who", [None, "pending", "worker", "supervisor", "admin", "citizen"])
async def test_a_post_without_a_token_is_refused_and_writes_nothing(web, world, db, who):
    await sign_in(web, world, who)
    forms = {name: form for name, form in post_forms(world).items() if form[0] == who}
    for name, (_, path, data) in forms.items():
        data = {key: value.format(code=world.a.worker.code(web.clock)) for key, value in data.items()}
        before = await row_counts(db)
        refused = await web.client.post(path, data=data, allow_redirects=False)
        assert refused.status == 403, name
        assert EXPIRED in text_of(await refused.text()), name
        assert await row_counts(db) == before, name
        # The same form with the page's token goes through: the token was all that was missing.
        accepted = await web.post(path, data, from_page=HOME[who])
        assert accepted.status in ACCEPTED.get(name, (200, 303)), (name, accepted.status)


async def test_a_token_from_another_browser_is_refused(web, other_web, world, db):
    await web.login(world.a.worker)
    await other_web.login(world.a.other_worker)
    form = {"name": "Nina Holm", "preferred_name": "Nina", "locale": "da"}
    tokens = (await other_web.csrf_from("/worker"), await other_web.csrf_from("/login"), "0" * 64)
    before = await row_counts(db)
    for token in tokens:
        response = await web.client.post("/citizens/new", data={**form, "csrf_token": token}, allow_redirects=False)
        assert response.status == 403
    assert await row_counts(db) == before
    # A token from before the login does not survive it: the session was rotated.
    await other_web.post("/logout", from_page="/worker")
    old_token = await other_web.csrf_from("/login")
    await other_web.login(world.a.other_worker)
    before = await row_counts(db)
    response = await other_web.client.post(
        "/citizens/new", data={**form, "csrf_token": old_token}, allow_redirects=False
    )
    assert response.status == 403
    assert await row_counts(db) == before


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://127.0.0.1.evil.example"},
        {"Referer": "https://evil.example/page"},
    ],
    ids=["origin", "null-origin", "lookalike-origin", "referer"],
)
async def test_a_post_from_another_site_is_refused_even_with_a_valid_token(web, world, db, headers):
    await web.login(world.a.worker)
    revoke = f"/citizens/{world.a.citizen.id}/link/revoke"
    token = await web.csrf_from("/worker")
    before = await row_counts(db)
    response = await web.client.post(revoke, data={"csrf_token": token}, headers=headers, allow_redirects=False)
    assert response.status == 403
    assert "You do not have access to this page." in text_of(await response.text())
    assert await row_counts(db) == before
    same_site = await web.client.post(
        revoke, data={"csrf_token": token}, headers={"Origin": web.origin}, allow_redirects=False
    )
    assert same_site.status == 303


def check_common_headers(response, what: str) -> str:
    """The headers every response has; returns the CSP nonce."""
    csp = response.headers["Content-Security-Policy"]
    nonce = re.search(r"script-src 'self' 'nonce-([A-Za-z0-9_-]{16,})'", csp)
    assert nonce, what
    assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp, what
    assert response.headers["X-Content-Type-Options"] == "nosniff", what
    assert response.headers["Referrer-Policy"] == "same-origin", what
    return nonce.group(1)


async def responses_of_every_kind(browser: WebClient) -> dict:
    return {
        "page": await browser.get("/login"),
        "error page": await browser.get("/no/such/page"),
        "redirect": await browser.get("/"),
        "static file": await browser.get("/static/css/app.css"),
        "health": await browser.get("/healthz"),
        "refused post": await browser.client.post("/logout", allow_redirects=False),
        "wrong method": await browser.get("/logout"),
    }


async def test_every_response_has_the_security_headers_and_no_hsts_over_http(web, world):
    responses = await responses_of_every_kind(web)
    assert [r.status for r in responses.values()] == [200, 404, 303, 200, 200, 403, 405]
    nonces = {check_common_headers(response, what) for what, response in responses.items()}
    assert len(nonces) == len(responses)  # a fresh nonce for every response
    assert all("Strict-Transport-Security" not in r.headers for r in responses.values())
    assert "no-store" not in responses["static file"].headers.get("Cache-Control", "")


async def test_signed_in_pages_are_never_cached(web, other_web, world):
    await web.login(world.a.worker)
    await other_web.open_link(world.a.citizen.link_token)
    for browser, path in ((web, "/worker"), (web, f"/citizens/{world.a.citizen.id}"), (other_web, "/me")):
        response = await browser.get(path)
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-store", path


async def test_over_https_every_response_has_hsts_and_cookies_are_secure(
    aiohttp_client, database_url, tmp_path, world, clock
):
    settings = load_settings(
        {}, data_dir=tmp_path, database_url=database_url, secret_key="x" * 40, base_url="https://bostotte.example.dk"
    )
    browser = WebClient(await aiohttp_client(create_app(settings, clock=clock)), clock)
    for what, response in (await responses_of_every_kind(browser)).items():
        check_common_headers(response, what)
        assert response.headers["Strict-Transport-Security"].startswith("max-age="), what
    login_page = await browser.get("/login")
    assert login_page.cookies["vb_csrf"]["secure"] is True
    link = await browser.open_link(world.a.citizen.link_token)
    assert link.cookies[sessions.COOKIE]["secure"] is True


async def test_the_language_switch_works_from_an_error_page(web, world):
    """An error page carries forms too (the language switch); their token must come with its cookie."""
    page = await web.get("/no/such/page")
    token = unescape(CSRF_RE.search(await page.text()).group(1))
    response = await web.client.post(
        "/language", data={"csrf_token": token, "locale": "da", "next": "/login"}, allow_redirects=False
    )
    assert response.status == 303
