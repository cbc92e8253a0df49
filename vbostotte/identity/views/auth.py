"""Signing in and out: staff password + TOTP (with enrolment), citizens' personal links, language."""

from __future__ import annotations

from aiohttp import web

from vbostotte import audit, i18n
from vbostotte.actors import Actor
from vbostotte.errors import DomainError, NotAuthenticated, Throttled
from vbostotte.identity import links, sessions
from vbostotte.identity import login as login_service
from vbostotte.models import Citizen, Staff, StaffRole
from vbostotte.web import base, security
from vbostotte.web.keys import ACTOR, SESSION_TOKEN, WEB_SESSION
from vbostotte.web.middlewares import LANG_COOKIE, keep_after_rollback
from vbostotte.web.validation import Form

HOME_BY_ROLE = {
    StaffRole.WORKER.value: "worker_home",
    StaffRole.SUPERVISOR.value: "supervisor_home",
    StaffRole.ADMIN.value: "admin_home",
    "citizen": "citizen_home",
}


def client_ip(request: web.Request) -> str:
    """The client address; behind a trusted proxy the last X-Forwarded-For hop (the one it added)."""
    forwarded = request.headers.get("X-Forwarded-For")
    if base.settings(request).trust_forwarded_for and forwarded:
        return forwarded.split(",")[-1].strip()[:64]
    return request.remote or "unknown"


def _set_session_cookie(
    response: web.StreamResponse, request: web.Request, token: str, max_age: int | None = None
) -> None:
    response.set_cookie(
        sessions.COOKIE,
        token,
        httponly=True,
        samesite="Lax",
        path="/",
        max_age=max_age,
        secure=base.settings(request).https,
    )


async def _refused(request: web.Request, exc: DomainError, template: str, context: dict) -> web.Response:
    """Show a login step again with one generic message; the failure is still counted for throttling."""
    keep_after_rollback(request, exc)
    status = 429 if isinstance(exc, Throttled) else 401
    return base.render(request, template, {**context, "error": i18n.gettext(exc.message)}, status=status)


async def index(request: web.Request) -> web.Response:
    who = request[ACTOR]
    if who.kind in ("staff", "citizen"):
        raise base.redirect(request, HOME_BY_ROLE[who.role])
    raise base.redirect(request, "login")


async def login(request: web.Request) -> web.Response:
    if request[ACTOR].is_staff:
        raise base.redirect(request, "index")
    if request.method != "POST":
        return base.render(request, "auth/login.html", {"email": "", "done": request.query.get("done", "")})
    form = Form(await base.form(request))
    email = form.text("email", max_len=254, required=False) or ""
    password = form.password("password", min_len=1) or ""  # exactly as typed, as the account form stored it
    db, now, settings = base.db(request), base.now(request), base.settings(request)
    context = {"email": email if not form.errors else "", "done": ""}
    try:
        if form.errors or not email or not password:
            raise login_service.InvalidCredentials()
        staff = await login_service.check_password(db, email, password, client_ip(request), settings, now)
    except (login_service.InvalidCredentials, Throttled) as exc:
        return await _refused(request, exc, "auth/login.html", context)
    # Session rotation: whatever session this browser had ends; a fresh id is issued at each step.
    await sessions.end(db, request.get(SESSION_TOKEN))
    if login_service.totp_required(staff, settings):
        token = await sessions.start_staff_session(db, staff.id, settings, now, mfa_passed=False)
        redirect = base.redirect(request, "login_code" if staff.totp_secret else "login_enrol")
    else:
        await login_service.login_succeeded(db, staff, now)
        token = await sessions.start_staff_session(db, staff.id, settings, now, mfa_passed=True)
        redirect = base.redirect(request, "index")
    _set_session_cookie(redirect, request, token)
    raise redirect


def _pending_staff_session(request: web.Request):
    session = request.get(WEB_SESSION)
    if session is None or session.staff_id is None or session.mfa_passed:
        raise NotAuthenticated()
    return session


async def _finish_login(request: web.Request, staff: Staff) -> None:
    db, now, settings = base.db(request), base.now(request), base.settings(request)
    await sessions.end(db, request.get(SESSION_TOKEN))
    await login_service.login_succeeded(db, staff, now)
    token = await sessions.start_staff_session(db, staff.id, settings, now, mfa_passed=True)
    redirect = base.redirect(request, "index")
    _set_session_cookie(redirect, request, token)
    raise redirect


async def login_code(request: web.Request) -> web.Response:
    """Second step: the six-digit code from the authenticator app."""
    session = _pending_staff_session(request)
    staff = await base.db(request).get(Staff, session.staff_id)
    if staff.totp_secret is None:
        raise base.redirect(request, "login_enrol")
    if request.method != "POST":
        return base.render(request, "auth/code.html", {})
    code = Form(await base.form(request)).text("code", max_len=20, required=False) or ""
    try:
        await login_service.check_totp(
            base.db(request),
            staff,
            staff.totp_secret,
            code,
            client_ip(request),
            base.settings(request),
            base.now(request),
        )
    except (login_service.InvalidCredentials, Throttled) as exc:
        return await _refused(request, exc, "auth/code.html", {})
    await _finish_login(request, staff)


async def login_enrol(request: web.Request) -> web.Response:
    """First login: set up the authenticator app from a QR code, confirmed with one code."""
    session = _pending_staff_session(request)
    db = base.db(request)
    staff = await db.get(Staff, session.staff_id)
    if staff.totp_secret is not None:
        raise base.redirect(request, "login_code")
    if session.pending_totp_secret is None:
        session.pending_totp_secret = login_service.new_totp_secret()
    secret = session.pending_totp_secret
    uri = login_service.provisioning_uri(secret, staff.email)
    context = {"qr_svg": login_service.qr_svg(uri), "secret": secret}
    if request.method != "POST":
        return base.render(request, "auth/enrol.html", context)
    code = Form(await base.form(request)).text("code", max_len=20, required=False) or ""
    try:
        await login_service.check_totp(
            db, staff, secret, code, client_ip(request), base.settings(request), base.now(request)
        )
    except (login_service.InvalidCredentials, Throttled) as exc:
        return await _refused(request, exc, "auth/enrol.html", context)
    staff.totp_secret = secret
    await audit.record(
        db, login_service.staff_actor(staff), audit.AuditEvent("auth.mfa_enrol", audit.Purpose.AUTHENTICATION)
    )
    await _finish_login(request, staff)


async def logout(request: web.Request) -> web.Response:
    """End the server-side session (not only the cookie)."""
    who = request[ACTOR]
    await sessions.end(base.db(request), request.get(SESSION_TOKEN))
    if who.kind in ("staff", "citizen"):
        await audit.record(base.db(request), who, audit.AuditEvent("auth.logout", audit.Purpose.AUTHENTICATION))
    redirect = base.redirect(request, "login", query={"done": "logged_out"})
    redirect.del_cookie(sessions.COOKIE, path="/")
    raise redirect


async def set_language(request: web.Request) -> web.Response:
    form = Form(await base.form(request))
    locale = form.choice("locale", i18n.LOCALES)
    form.check()
    redirect = web.HTTPSeeOther(security.safe_redirect_path(form.data.get("next")))  # back to the page, if ours
    redirect.set_cookie(
        LANG_COOKIE, locale, max_age=365 * 24 * 3600, samesite="Lax", path="/", secure=base.settings(request).https
    )
    raise redirect


async def open_link(request: web.Request) -> web.Response:
    """A citizen opens their personal link: sign this device in and move to a URL without the token."""
    db, now, settings = base.db(request), base.now(request), base.settings(request)
    link = await links.redeem(db, request.match_info["token"], now)
    if link is None:
        return base.render(request, "auth/link_invalid.html", {}, status=404)
    await sessions.end(db, request.get(SESSION_TOKEN))
    token = await sessions.start_citizen_session(db, link.citizen_id, link.id, settings, now)
    citizen = await db.get(Citizen, link.citizen_id)
    actor = Actor(kind="citizen", id=citizen.id, municipality_id=citizen.municipality_id, role="citizen")
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "link.open",
            audit.Purpose.AUTHENTICATION,
            citizen_id=citizen.id,
            object_type="personal_link",
            object_id=link.id,
        ),
    )
    redirect = base.redirect(request, "citizen_home")
    _set_session_cookie(redirect, request, token, max_age=settings.citizen_session_days * 24 * 3600)
    raise redirect
