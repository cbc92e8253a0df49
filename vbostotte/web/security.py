"""Security headers, CSP nonces and CSRF tokens: the request-level protections every page shares."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import urlsplit

from aiohttp import web
from yarl import URL

from vbostotte.config import Settings, SettingsError
from vbostotte.web.keys import ALLOWED_ORIGINS, CSP_NONCE, NEW_CSRF_COOKIE, SESSION_TOKEN, SETTINGS

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
CSRF_COOKIE = "vb_csrf"  # binds the token for visitors without a session (the login form)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_REDIRECT_PATH = 300  # our own paths are short; a longer "next" is not one of them
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # C0 controls and DEL: never in a path we make
# A private file (a staff photo): the browser's own cache only, never a shared one, and asked for again every time
# (ETag), so access is checked each time it is shown.
PRIVATE_CACHE = "private, no-cache"


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
    return origin in request.app[ALLOWED_ORIGINS]


def allowed_origins(settings: Settings) -> frozenset[str]:
    """Our own origins: VB_BASE_URL's and VB_EXTRA_ORIGINS. Computed once, at start (``create_app``); never from
    a request's Host header, which a page of another site can name after rebinding its DNS name to our address.
    A mistyped extra origin raises :class:`SettingsError`, so it stops the start rather than refuse every form."""
    origins = {base_origin(settings)}
    origins.update(_origin(value, "VB_EXTRA_ORIGINS") for value in settings.extra_origins.split(",") if value.strip())
    return frozenset(origins)


def base_origin(settings: Settings) -> str:
    """The origin of the public address (VB_BASE_URL), as a browser on our pages sends it."""
    return _origin(settings.base_url, "VB_BASE_URL", path_allowed=True)


def _origin(url: str, setting: str, *, path_allowed: bool = False) -> str:
    """The origin as a browser sends it: lower-case scheme and host, the port only when not the default."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        raise SettingsError(f"{setting}: not an address: {url.strip()!r}") from None
    extra = parts.path.strip("/") or parts.query or parts.fragment
    if (
        parts.scheme not in DEFAULT_PORTS
        or not parts.hostname
        or parts.username is not None
        or parts.password
        or (extra and not path_allowed)
    ):
        raise SettingsError(f"{setting}: expected scheme://host[:port] (http or https), got {url.strip()!r}")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}" + (f":{port}" if port not in (None, DEFAULT_PORTS[parts.scheme]) else "")


def safe_redirect_path(value: object) -> str:
    """``value`` if it is a path on this site, else "/": the one check for every redirect to a target a request
    names (no open redirect).

    Browsers remove tabs and newlines anywhere in a URL, strip control characters and spaces at its ends and
    read a backslash as a slash, so "/\\t/evil.example" is "//evil.example" to them: a scheme-relative address of
    another site. Rather than guess how each browser reads a disguised value, any control character, any
    backslash, and anything not starting with exactly one "/" is refused."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_REDIRECT_PATH:
        return "/"
    if _CONTROL.search(value) or "\\" in value or not value.startswith("/") or value.startswith("//"):
        return "/"
    target = URL(value)  # as aiohttp will write it into the Location header
    if target.is_absolute() or target.scheme or not str(target).startswith("/") or str(target).startswith("//"):
        return "/"
    return value


# The pages that show a call (calls/views): a staff member's or citizen's call, and a guest's link.
CALL_PAGE_PREFIXES = ("/calls/", "/g/")


def set_csrf_cookie(request: web.Request, response: web.StreamResponse) -> None:
    """Send the visitor's new CSRF binding cookie, if this request made one."""
    new_cookie = request.get(NEW_CSRF_COOKIE)
    if new_cookie:
        response.set_cookie(
            CSRF_COOKIE, new_cookie, httponly=True, samesite="Lax", path="/", secure=settings_of(request).https
        )


async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Security headers on every response, error pages and static files included; not on a call socket's upgrade
    (101: no document, and its headers would stay in memory for the whole call)."""
    if response.status == 101:
        return
    headers = response.headers
    nonce = csp_nonce(request)
    # The call pages compile the blurred background's WebAssembly (web/static/vendor/mediapipe): they alone may.
    wasm = " 'wasm-unsafe-eval'" if request.path.startswith(CALL_PAGE_PREFIXES) else ""
    headers["Content-Security-Policy"] = (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'{wasm}; "
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
    if not request.path.startswith("/static/") and headers.get("Cache-Control") != PRIVATE_CACHE:
        # Pages may show personal data: never keep them in a shared or back/forward cache.
        headers["Cache-Control"] = "no-store"
