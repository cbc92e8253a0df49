"""Security headers, CSP nonces and CSRF tokens: the request-level protections every page shares."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from aiohttp import web

from vbostotte.config import Settings
from vbostotte.keys import CSP_NONCE, NEW_CSRF_COOKIE, SESSION_TOKEN, SETTINGS

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_COOKIE = "vb_csrf"  # binds the token for visitors without a session (the login form)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def settings_of(request: web.Request) -> Settings:
    return request.app[SETTINGS]


def csp_nonce(request: web.Request) -> str:
    nonce = request.get(CSP_NONCE)
    if nonce is None:
        nonce = request[CSP_NONCE] = secrets.token_urlsafe(16)
    return nonce


def _binding(request: web.Request) -> str:
    """What a CSRF token is tied to: the session token, or a random cookie for visitors without one."""
    token = request.get(SESSION_TOKEN)
    if token:
        return "s:" + token
    anon = request.get(NEW_CSRF_COOKIE) or request.cookies.get(CSRF_COOKIE, "")
    if not (20 <= len(anon) <= 64):
        anon = request[NEW_CSRF_COOKIE] = secrets.token_urlsafe(24)
    return "a:" + anon


def csrf_token(request: web.Request) -> str:
    secret = settings_of(request).secret_key.encode()
    return hmac.new(secret, _binding(request).encode(), hashlib.sha256).hexdigest()


def csrf_valid(request: web.Request, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(csrf_token(request), str(submitted))


def origin_allowed(request: web.Request) -> bool:
    """A state-changing request must come from our own pages: Origin (or Referer) must be ours."""
    origin = request.headers.get("Origin")
    if origin is None:
        referer = request.headers.get("Referer")
        if referer is None:
            return True  # non-browser clients; the CSRF token still has to match
        origin = "/".join(referer.split("/", 3)[:3])
    return origin in allowed_origins(request)


def allowed_origins(request: web.Request) -> set[str]:
    """Our own origins: the configured public address, and the address this request came in on."""
    return {settings_of(request).base_url.rstrip("/"), f"{request.scheme}://{request.host}"}


def set_csrf_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Send the visitor's new CSRF binding cookie, if this request made one."""
    new_cookie = request.get(NEW_CSRF_COOKIE)
    if new_cookie:
        response.set_cookie(CSRF_COOKIE, new_cookie, httponly=True, samesite="Lax", path="/",
                            secure=settings_of(request).https)


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Security headers on every response, error pages and static files included."""
    headers = response.headers
    nonce = csp_nonce(request)
    headers["Content-Security-Policy"] = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; img-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
    headers["X-Content-Type-Options"] = "nosniff"
    # same-origin, not no-referrer: with no-referrer browsers send "Origin: null" on our own form posts,
    # which the Origin check must refuse. Other sites still get no Referer (personal links stay private).
    headers["Referrer-Policy"] = "same-origin"
    headers["X-Frame-Options"] = "DENY"
    headers["Permissions-Policy"] = "camera=(self), microphone=(self), geolocation=()"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    settings = settings_of(request)
    if settings.https:
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    if not request.path.startswith("/static/"):
        # Pages may show personal data: never keep them in a shared or back/forward cache.
        headers["Cache-Control"] = "no-store"
