"""Staff sign-in through the municipality's own OpenID provider (identity/oidc.py): start, callback, after the
provider's logout, and the administrator's provider settings."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vbostotte import access, i18n
from vbostotte.errors import InvalidInput
from vbostotte.identity import oidc
from vbostotte.identity.views import auth
from vbostotte.models import OidcProvider, StaffRole
from vbostotte.web import base
from vbostotte.web.keys import OIDC_CACHE, SESSION_TOKEN
from vbostotte.web.middlewares import keep_after_rollback
from vbostotte.web.validation import Form

FLOW_COOKIE_PATH = "/login/sso"


async def start(request: web.Request) -> web.Response:
    """Send the browser to the municipality's provider, with a cookie tying the sign-in to this browser."""
    try:
        begun = await oidc.start(
            base.db(request),
            request.app[OIDC_CACHE],
            int(request.match_info["municipality"]),  # ASCII digits (the route's pattern)
            base.settings(request),
            base.now(request),
        )
    except oidc.SsoFailed as exc:
        return await _refused(request, exc)
    redirect = web.HTTPSeeOther(begun.url)
    redirect.set_cookie(
        oidc.FLOW_COOKIE,
        begun.browser_token,
        httponly=True,
        samesite="Lax",  # the provider's redirect back is a top-level GET: Lax cookies come with it
        path=FLOW_COOKIE_PATH,
        max_age=oidc.FLOW_MINUTES * 60,
        secure=base.settings(request).https,
    )
    raise redirect


async def callback(request: web.Request) -> web.Response:
    """The provider's redirect back with the code: the staff member signed in (or asked for the TOTP code)."""
    query = request.query
    back = oidc.Callback(
        state=query.get("state", "")[:200],
        code=query.get("code", "")[:2000],
        error=query.get("error", "")[:200],
        browser_token=request.cookies.get(oidc.FLOW_COOKIE, "")[:100],
    )
    try:
        step = await oidc.finish(
            base.db(request),
            request.app[OIDC_CACHE],
            back,
            request.get(SESSION_TOKEN),
            base.settings(request),
            base.now(request),
        )
    except (oidc.SsoFailed, oidc.SsoRefused) as exc:
        return await _refused(request, exc)
    redirect = auth.go_on(request, step)
    redirect.del_cookie(oidc.FLOW_COOKIE, path=FLOW_COOKIE_PATH)
    raise redirect


async def _refused(request: web.Request, exc: oidc.SsoFailed | oidc.SsoRefused) -> web.Response:
    keep_after_rollback(request, exc)  # the refusal's audit entry
    status = 403 if isinstance(exc, oidc.SsoRefused) else 400
    context = await auth.login_context(request, error=i18n.gettext(exc.message))
    response = base.render(request, "auth/login.html", context, status=status)
    response.del_cookie(oidc.FLOW_COOKIE, path=FLOW_COOKIE_PATH)
    return response


async def logged_out(request: web.Request) -> web.Response:
    """Where the provider sends the browser back after ending its own session too."""
    raise base.redirect(request, "login", query={"done": "logged_out"})


# --- The administrator's settings ------------------------------------------------------------------------------

TEXT_FIELDS = (
    ("issuer", 300),
    ("client_id", 200),
    ("scopes", 200),
    ("role_claim", 100),
    ("worker_groups", 300),
    ("supervisor_groups", 300),
    ("admin_groups", 300),
    ("strong_acr", 300),
    ("strong_amr", 300),
)
FLAGS = ("enabled", "match_email", "jit_create", "password_login")


def _values(row: OidcProvider) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(row, name) or "" for name, _ in TEXT_FIELDS}
    values.update({name: bool(getattr(row, name)) for name in FLAGS})
    if row.password_login is None:  # a row not saved yet: the columns' defaults
        values.update(password_login=True, match_email=True, scopes="openid email profile")
    values["has_secret"] = bool(row.client_secret_enc)
    return values


async def admin_settings(request: web.Request) -> web.Response:
    """The municipality's own login for its staff: provider, mapping, role, second factor, password login."""
    who = base.actor(request)
    access.require_role(who, StaffRole.ADMIN)
    db = base.db(request)
    row = await oidc.settings_for_admin(db, who)
    context: dict[str, Any] = {
        "values": _values(row),
        "errors": {},
        "done": request.query.get("done", ""),
        "redirect_uri": oidc.redirect_uri(base.settings(request)),
        "logged_out_uri": base.settings(request).base_url.rstrip("/") + base.url(request, "sso_logged_out"),
    }
    if request.method != "POST":
        return base.render(request, "admin/sso.html", context)
    data = await base.form(request)
    form = Form(data)
    texts = {name: form.text(name, max_len=max_len, required=False) or "" for name, max_len in TEXT_FIELDS}
    secret = form.text("client_secret", max_len=500, required=False) or ""
    flags = {name: data.get(name) == "1" for name in FLAGS}
    submitted = oidc.ProviderForm(
        enabled=flags["enabled"],
        issuer=texts["issuer"],
        client_id=texts["client_id"],
        client_secret=secret,
        scopes=texts["scopes"],
        match_email=flags["match_email"],
        role_claim=texts["role_claim"],
        worker_groups=texts["worker_groups"],
        supervisor_groups=texts["supervisor_groups"],
        admin_groups=texts["admin_groups"],
        strong_acr=texts["strong_acr"],
        strong_amr=texts["strong_amr"],
        jit_create=flags["jit_create"],
        password_login=flags["password_login"],
    )
    try:
        form.check()
        await oidc.save_settings(db, who, submitted, base.settings(request), base.now(request))
    except InvalidInput as exc:
        context["values"] = {**texts, **flags, "has_secret": context["values"]["has_secret"]}  # never the secret
        return base.render_invalid(request, "admin/sso.html", context, exc)
    raise base.redirect(request, "admin_sso", query={"done": "saved"})
