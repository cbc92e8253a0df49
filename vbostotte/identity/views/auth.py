"""Signing in and out: staff password + TOTP (with enrolment), citizens' personal links, language."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vbostotte import i18n
from vbostotte.calls import calls
from vbostotte.errors import DomainError, Throttled
from vbostotte.identity import links, oidc, sessions
from vbostotte.identity import login as login_service
from vbostotte.models import StaffRole
from vbostotte.web import base, security
from vbostotte.web.keys import ACTOR, OIDC_CACHE, SESSION_TOKEN, WEB_SESSION
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


async def login_context(request: web.Request, **extra: Any) -> dict[str, Any]:
    """What the login page shows: the form, and a button per municipality whose staff sign in with its own login."""
    sso = await oidc.sign_in_options(base.db(request))
    return {"email": "", "done": "", "sso_options": sso, **extra}


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
        return base.render(request, "auth/login.html", await login_context(request, done=request.query.get("done", "")))
    form = Form(await base.form(request))
    email = form.text("email", max_len=254, required=False) or ""
    password = form.password("password", min_len=1) or ""  # exactly as typed, as the account form stored it
    context = await login_context(request, email=email if not form.errors else "")
    try:
        step = await login_service.password_step(
            base.db(request),
            "" if form.errors else email,
            password,
            client_ip(request),
            request.get(SESSION_TOKEN),
            base.settings(request),
            base.now(request),
        )
    except (login_service.InvalidCredentials, Throttled, login_service.PasswordLoginOff) as exc:
        return await _refused(request, exc, "auth/login.html", context)
    raise go_on(request, step)


def go_on(request: web.Request, step: login_service.Step) -> web.HTTPSeeOther:
    """The redirect after a login step, carrying the step's new session."""
    redirect = base.redirect(request, NEXT_PAGE[step.next])
    _set_session_cookie(redirect, request, step.token)
    return redirect


NEXT_PAGE = {
    login_service.Next.CODE: "login_code",
    login_service.Next.ENROL: "login_enrol",
    login_service.Next.IN: "index",
}


async def login_code(request: web.Request) -> web.Response:
    """Second step: the six-digit code from the authenticator app."""
    db, session = base.db(request), request.get(WEB_SESSION)
    if (await login_service.pending_staff(db, session)).totp_secret is None:
        raise base.redirect(request, "login_enrol")
    if request.method != "POST":
        return base.render(request, "auth/code.html", {})
    return await _second_factor(request, login_service.code_step, "auth/code.html", {})


async def login_enrol(request: web.Request) -> web.Response:
    """First login: set up the authenticator app from a QR code, confirmed with one code."""
    db, session = base.db(request), request.get(WEB_SESSION)
    enrolling = await login_service.enrolment(db, session)
    if enrolling is None:
        raise base.redirect(request, "login_code")
    context = {"qr_svg": enrolling.qr_svg, "secret": enrolling.secret}
    if request.method != "POST":
        return base.render(request, "auth/enrol.html", context)
    return await _second_factor(request, login_service.enrol_step, "auth/enrol.html", context)


async def _second_factor(
    request: web.Request, step: login_service.CodeStep, template: str, context: dict[str, Any]
) -> web.Response:
    """A posted six-digit code, for ``step`` (giving the code, or confirming a new app): on, or the page again."""
    code = Form(await base.form(request)).text("code", max_len=20, required=False) or ""
    try:
        done = await step(
            base.db(request),
            request.get(WEB_SESSION),
            request.get(SESSION_TOKEN),
            code,
            client_ip(request),
            base.settings(request),
            base.now(request),
        )
    except (login_service.InvalidCredentials, Throttled) as exc:
        return await _refused(request, exc, template, context)
    raise go_on(request, done)


async def logout(request: web.Request) -> web.Response:
    """End the server-side session (not only the cookie); signed in through the municipality's provider, the
    browser goes on to the provider to end its session there too (RP-initiated logout), then back to the login."""
    settings = base.settings(request)
    after = settings.base_url.rstrip("/") + base.url(request, "sso_logged_out")
    at_provider = await oidc.logout_url(
        base.db(request), request.app[OIDC_CACHE], request.get(WEB_SESSION), settings, after
    )
    await login_service.logout(base.db(request), request[ACTOR], request.get(SESSION_TOKEN))
    if at_provider:  # a page that moves on at once: the pages' CSP (form-action 'self') stops a form's redirect there
        response = base.render(request, "auth/logout_provider.html", {"provider_url": at_provider})
        response.del_cookie(sessions.COOKIE, path="/")
        return response
    redirect = base.redirect(request, "login", query={"done": "logged_out"})
    redirect.del_cookie(sessions.COOKIE, path="/")
    raise redirect


async def set_language(request: web.Request) -> web.Response:
    form = Form(await base.form(request))
    locale = form.choice("locale", i18n.LOCALES)
    form.check()
    redirect = web.HTTPSeeOther(security.safe_redirect_path(form.data.get("next")))  # back to the page, if ours
    redirect.set_cookie(
        LANG_COOKIE,
        form.checked(locale),
        max_age=365 * 24 * 3600,
        samesite="Lax",
        path="/",
        secure=base.settings(request).https,
    )
    raise redirect


async def open_link(request: web.Request) -> web.Response:
    """A citizen opens their personal link: sign this device in and move to a URL without the token — straight to
    the call when one of hers is open now (one tap, Join, from the link to the waiting room), else her start page."""
    settings, db, now = base.settings(request), base.db(request), base.now(request)
    signed_in = await links.sign_in(db, request.match_info["token"], request.get(SESSION_TOKEN), settings, now)
    if signed_in is None:
        return base.render(request, "auth/link_invalid.html", {}, status=404)
    call = await calls.open_call_of(db, signed_in.citizen_id, settings, now)
    redirect = base.redirect(request, "call", id=call) if call else base.redirect(request, "citizen_home")
    _set_session_cookie(redirect, request, signed_in.session, max_age=settings.citizen_session_days * 24 * 3600)
    raise redirect
