"""Request pipeline: language → errors → database unit of work → authentication → CSRF.

Errors are mapped to HTTP in one place (here); handlers and services only raise domain errors.
The language is chosen first, so error pages speak the visitor's language too.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

import redis.exceptions
from aiohttp import web
from sqlalchemy import exc as sa_exc

from vbostotte import audit, i18n
from vbostotte import db as db_module
from vbostotte.actors import ANONYMOUS, Actor
from vbostotte.errors import (
    Conflict,
    DomainError,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    PermissionDenied,
    Throttled,
)
from vbostotte.i18n import N_
from vbostotte.identity import api_tokens, sessions
from vbostotte.models import Citizen, Staff
from vbostotte.operations import logging_setup, metrics
from vbostotte.web import rendering, reports, security
from vbostotte.web.keys import (
    ACTOR,
    AFTERWARDS,
    AUDIT_GROUP_COMMIT,
    BEARER,
    CLOCK,
    DB,
    METRICS,
    READ_SESSIONMAKER,
    REPORTS,
    REQUEST_ID,
    SESSION_TOKEN,
    SESSIONMAKER,
    SETTINGS,
    SQLITE_LOCK,
    WEB_SESSION,
)
from vbostotte.web.validation import read_form

log = logging.getLogger("vbostotte.request")

LANG_COOKIE = "vb_lang"
STATUS = {NotFound: 404, PermissionDenied: 403, NotAuthenticated: 401, Throttled: 429, Conflict: 409, InvalidInput: 422}
HTTP_MESSAGES = {
    400: N_("The request could not be understood."),
    403: N_("You do not have access to this page."),
    404: N_("The page was not found."),
    405: N_("This action is not possible here."),
    413: N_("What you sent is too large."),
    500: N_("Something went wrong on our side. Please try again."),
    503: N_("The service is not available just now. Please try again in a few minutes."),
}
NO_DATABASE = (
    "/static/",
    "/healthz",
    "/readyz",
    "/metrics",
    "/ws/",
)  # a WebSocket lives long: it opens its own short transactions
# Requests a page makes by itself every few seconds: they do not count as the person's activity, so an open page
# does not keep an idle staff session alive past VB_SESSION_IDLE_MINUTES.
PASSIVE = ("/worker/waiting", "/me/call")  # the worker's waiting notice; the citizen's start page (call now)
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def wants_json(request: web.Request) -> bool:
    return request.path.startswith("/api/") or request.headers.get("Accept", "").startswith("application/json")


def error_response(
    request: web.Request, status: int, message: str, fields: dict[str, str] | None = None
) -> web.Response:
    """The one place an error becomes a response: JSON for API clients, the site's error page otherwise."""
    fields = {name: i18n.gettext(msg) for name, msg in (fields or {}).items()}
    if wants_json(request):
        return web.json_response({"error": status, "message": message, "fields": fields}, status=status)
    response = rendering.render(
        request, "errors/error.html", {"status": status, "message": message, "fields": fields}, status=status
    )
    security.set_csrf_cookie(request, response)  # the page's forms (language) need their binding cookie too
    return response


QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement ended by statement_timeout


def _sqlstate(exc: sa_exc.DBAPIError) -> str | None:
    for cause in (exc.orig, getattr(exc.orig, "__cause__", None)):
        if (state := getattr(cause, "sqlstate", None)) is not None:
            return str(state)
    return None


def dependency_unavailable(exc: BaseException) -> bool:
    """Is ``exc`` the database or Redis being unreachable or too slow (a 503, not a bug)?"""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.DBAPIError) and _sqlstate(exc) == QUERY_CANCELED:
        return True  # PostgreSQL's statement_timeout (db.create_engine's query_timeout): too slow just now
    if isinstance(exc, (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)):
        return False  # our own files: a bug or a broken installation, not a dependency
    return isinstance(
        exc,
        (
            OSError,
            asyncio.TimeoutError,
            sa_exc.OperationalError,
            sa_exc.InterfaceError,
            sa_exc.TimeoutError,
            redis.exceptions.ConnectionError,
            redis.exceptions.TimeoutError,
        ),
    )


Opener = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SOCKET = "vbostotte_socket"  # the attribute :func:`socket` sets on a handler: its opener
_SOCKET_REQUEST = web.RequestKey("socket_request", bool)  # the request is a socket's (its metrics: add_request_id)


def socket(opener: Opener) -> Opener:
    """The handler of a long-lived socket (the call's signalling), from ``opener``, which gives the coroutine that
    serves the socket. ``observe`` hands that coroutine to aiohttp as the request's own, past the middlewares and
    the view: none of them stays suspended, holding memory, for the whole call (docs/signaling.md, "Performance").
    Its join ticket authenticates, the signalling server checks Origin, and refusals before the upgrade are
    aiohttp's plain text answers."""

    async def handler(request: web.Request) -> web.StreamResponse:  # for aiohttp's router; observe uses the opener
        return await opener(request)

    functools.update_wrapper(handler, opener)
    setattr(handler, _SOCKET, opener)
    return handler


@web.middleware
def observe(request: web.Request, handler: Opener) -> Awaitable[web.StreamResponse]:
    """The request id (the proxy's X-Request-Id if well-formed), for logs and the response; request metrics.

    Not a coroutine itself: a socket's request (:func:`socket`) is its opener's coroutine, returned as it is, with
    the request id set in its task's context for as long as it lasts and its metrics noted when its answer goes out
    (:func:`add_request_id`); every other request is :func:`_observed`."""
    request[REQUEST_ID] = logging_setup.request_id_from(request.headers.get("X-Request-Id"))
    opener = getattr(request.match_info.handler, _SOCKET, None)
    if opener is None:
        return _observed(request, handler)
    logging_setup.REQUEST_ID.set(request[REQUEST_ID])  # the task is the socket's alone (no keep-alive after it)
    request[_SOCKET_REQUEST] = True
    return opener(request)


async def _observed(request: web.Request, handler: Opener) -> web.StreamResponse:
    token = logging_setup.REQUEST_ID.set(request[REQUEST_ID])
    started, status = time.monotonic(), 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        logging_setup.REQUEST_ID.reset(token)
        if (recorder := request.app.get(METRICS)) is not None:
            recorder.observe(metrics.route_name(request), request.method, status, time.monotonic() - started)


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer names its request id (also redirects and static files); a socket's request
    is counted in the metrics here, as it is answered (the upgrade or a refusal), without a duration."""
    if REQUEST_ID in request:
        response.headers["X-Request-Id"] = request[REQUEST_ID]
    if request.get(_SOCKET_REQUEST) and (recorder := request.app.get(METRICS)) is not None:
        recorder.observe(metrics.route_name(request), request.method, response.status, None)


@web.middleware
async def errors(request: web.Request, handler):
    if REQUEST_ID not in request:
        request[REQUEST_ID] = secrets.token_hex(8)
    try:
        return await handler(request)
    except NotAuthenticated:
        if request.method == "GET" and not wants_json(request):
            raise web.HTTPSeeOther(str(request.app.router["login"].url_for())) from None
        return error_response(request, 401, i18n.gettext(NotAuthenticated.message))
    except DomainError as exc:
        status = next((code for cls, code in STATUS.items() if isinstance(exc, cls)), 400)
        return error_response(request, status, i18n.gettext(exc.message, **exc.params), getattr(exc, "errors", None))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        message = HTTP_MESSAGES.get(exc.status, HTTP_MESSAGES[400])
        response = error_response(request, exc.status, i18n.gettext(message))
        if "Allow" in exc.headers:  # a 405 names the methods the resource has (RFC 9110)
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except Exception as exc:
        if isinstance(exc, sa_exc.IntegrityError):
            # The services check first; a uniqueness the database still refuses is a concurrent request that won
            # the race (two posts of one form at once): the loser is told to reload, not shown a server error.
            log.warning("integrity conflict request_id=%s route=%s", request[REQUEST_ID], metrics.route_name(request))
            return error_response(request, 409, i18n.gettext(Conflict.message))
        if dependency_unavailable(exc):
            log.warning(
                "dependency unavailable request_id=%s route=%s: %s",
                request[REQUEST_ID],
                metrics.route_name(request),
                type(exc).__name__,
            )
            response = error_response(request, 503, i18n.gettext(HTTP_MESSAGES[503]))
            response.headers["Retry-After"] = "10"
            return response
        # Log the failure with the request id and route only: never query strings, forms or personal data.
        route = request.match_info.route.resource.canonical if request.match_info.route.resource else "?"
        log.exception("unhandled error request_id=%s method=%s route=%s", request[REQUEST_ID], request.method, route)
        return error_response(request, 500, i18n.gettext(HTTP_MESSAGES[500]))


@web.middleware
async def language(request: web.Request, handler):
    chosen = request.cookies.get(LANG_COOKIE)
    token = i18n.set_locale(chosen if chosen in i18n.LOCALES else request.app[SETTINGS].default_locale)
    try:
        return await handler(request)
    finally:
        i18n.reset_locale(token)


@web.middleware
async def database(request: web.Request, handler):
    """One transaction per request: committed on success or redirect, rolled back on any error.

    A GET (or HEAD) runs read-only first: on its own connection, without the SQLite lock, so it never waits for a
    writer nor a writer for it (SQLite's WAL lets readers read beside the one writer). Its audit entries are
    appended after its reads in a group commit with other requests' entries, and its answer waits for that commit.
    A GET that turns out to write (a session noted active, a link opening a session) is rolled back at its first
    writing statement and run again as a writer: every other request, under the lock on SQLite, as before.
    A report (``reports.report``) reads on the report engine, doing its reads, computing and rendering on the report
    thread (web/reports.py); its audit entries are appended here, on the event loop."""
    if request.path.startswith(NO_DATABASE):
        return await handler(request)
    readers, group = request.app.get(READ_SESSIONMAKER), request.app.get(AUDIT_GROUP_COMMIT)
    if request.method in READ_METHODS and readers is not None and group is not None:
        report_runner = request.app.get(REPORTS) if reports.is_report(request) else None
        try:
            return await _read_only_unit_of_work(request, handler, readers, group, report_runner)
        except db_module.WriteInReadOnly:
            pass  # nothing was written or shown: run it again as a writer
    lock = request.app.get(SQLITE_LOCK)
    if lock is None:
        return await _unit_of_work(request, handler)
    async with lock:
        return await _unit_of_work(request, handler)


READ_METHODS = ("GET", "HEAD")


def _wrote(exc: BaseException) -> bool:
    """Did ``exc`` come from a write refused in a read-only unit of work (directly, or wrapped by SQLAlchemy)?"""
    while exc is not None:
        if isinstance(exc, db_module.WriteInReadOnly):
            return True
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return False


async def _read_only_unit_of_work(request: web.Request, handler, readers, group, report_runner=None):
    """The handler on a read-only session (a report's where reports run); its audit entries appended (group
    commit) before its answer."""
    request[AFTERWARDS] = []
    deferred: list = []
    try:
        if report_runner is None:
            response = await _read_only(request, handler, readers, deferred)
        else:
            response = await report_runner.run(_read_only(request, handler, report_runner.sessions, deferred))
    except web.HTTPException as exc:
        if exc.status >= 400:
            await _afterwards(request)
        else:
            await group.append(deferred)
        raise
    except DomainError as exc:
        request[AFTERWARDS].extend(exc.afterwards)
        await _afterwards(request)
        raise
    if response.status < 400:
        await group.append(deferred)
    else:
        await _afterwards(request)
    return response


async def _read_only(request: web.Request, handler, readers, deferred: list):
    """The handler's reads on a read-only session, rolled back; a write (now or at the flush) raises
    ``WriteInReadOnly``, so the request runs again as a writer."""
    async with readers(info={**readers.kw.get("info", {}), audit.DEFERRED: deferred}) as db:
        request[DB] = db
        try:
            response = await handler(request)
            # A change the handler made to a loaded object is written only when the session flushes: flush now, so
            # that it, too, is refused here and the request runs again as a writer instead of losing the change.
            await db.flush()
        except web.HTTPException as exc:
            if exc.status < 400:  # a redirect keeps what the handler changed: the same flush as above
                try:
                    await db.flush()
                except BaseException as flushed:
                    await db.rollback()
                    if _wrote(flushed):
                        raise db_module.WriteInReadOnly() from flushed
                    raise
            await db.rollback()
            raise
        except BaseException as exc:
            await db.rollback()
            if _wrote(exc):
                raise db_module.WriteInReadOnly() from exc
            raise
        await db.rollback()  # it only read: end its snapshot before waiting for the commit
    return response


async def _afterwards(request: web.Request) -> None:
    """A read-only request's ``afterwards`` work (a refusal's audit entry): a writer's transaction of its own."""
    if not request[AFTERWARDS]:
        return
    lock = request.app.get(SQLITE_LOCK)
    async with lock if lock is not None else contextlib.nullcontext():
        async with request.app[SESSIONMAKER]() as fresh, fresh.begin():
            for work in request[AFTERWARDS]:
                await work(fresh)


async def _unit_of_work(request: web.Request, handler):
    """Commit when the handler succeeds or redirects; roll back on any error or error response, then keep
    what must survive the failure (``DomainError.then`` work, and ``keep_after_rollback``) in a fresh one."""
    maker = request.app[SESSIONMAKER]
    request[AFTERWARDS] = []
    async with maker() as db:
        request[DB] = db
        try:
            response = await handler(request)
        except web.HTTPException as exc:
            await _finish(request, db, ok=exc.status < 400)
            raise
        except DomainError as exc:
            request[AFTERWARDS].extend(exc.afterwards)
            await _finish(request, db, ok=False)
            raise
        except BaseException:
            await db.rollback()
            raise
        await _finish(request, db, ok=response.status < 400)
        return response


async def _finish(request: web.Request, db, *, ok: bool) -> None:
    if ok:
        await db.commit()
        return
    await db.rollback()
    if request[AFTERWARDS]:
        async with request.app[SESSIONMAKER]() as fresh, fresh.begin():
            for work in request[AFTERWARDS]:
                await work(fresh)


def keep_after_rollback(request: web.Request, error: DomainError) -> None:
    """A handler that shows an error itself (e.g. the login form again) still keeps the error's afterwards work."""
    request[AFTERWARDS].extend(error.afterwards)


@web.middleware
async def authentication(request: web.Request, handler):
    """Find the session from the cookie and put the actor on the request."""
    request[ACTOR] = ANONYMOUS
    if DB not in request:
        return await handler(request)
    db, now = request[DB], request.app[CLOCK]()
    authorization = request.headers.get("Authorization")
    if authorization is not None and request.path.startswith(API_TOKEN_PATHS):
        return await _bearer(request, handler, authorization, now)
    token = request.cookies.get(sessions.COOKIE)
    session, person = await sessions.load_with_person(
        db, token, request.app[SETTINGS], now, activity=request.path not in PASSIVE
    )  # the staff member or citizen read with the session, in one statement
    if session is not None and token is not None:  # a session is only found by its token
        request[SESSION_TOKEN], request[WEB_SESSION] = token, session
        if session.staff_id is not None:
            staff = person if isinstance(person, Staff) else None
            if staff is None or not staff.active:
                await db.delete(session)
                request.pop(SESSION_TOKEN)
            elif session.mfa_passed:
                request[ACTOR] = Actor(
                    kind="staff",
                    id=staff.id,
                    municipality_id=staff.municipality_id,
                    role=staff.role.value,
                    name=staff.name,
                )
        else:
            citizen = person if isinstance(person, Citizen) else None
            if citizen is None:
                raise sa_exc.NoResultFound("the session's citizen is gone")
            request[ACTOR] = Actor(
                kind="citizen",
                id=citizen.id,
                municipality_id=citizen.municipality_id,
                role="citizen",
                name=citizen.preferred_name,
            )
            if LANG_COOKIE not in request.cookies:
                i18n.set_locale(citizen.locale)
    return await handler(request)


API_TOKEN_PATHS = "/api/v1/"


async def _bearer(request: web.Request, handler, authorization: str, now):
    """An API call with ``Authorization: Bearer <token>``: the token alone says who calls (cookies ignored)."""
    scheme, _, token = authorization.partition(" ")
    actor = await api_tokens.authenticate(request[DB], token.strip(), now) if scheme.lower() == "bearer" else None
    if actor is None:
        response = error_response(
            request, 401, i18n.gettext(N_("The API key is not valid, has expired or was revoked."))
        )
        response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        return response
    request[ACTOR], request[BEARER] = actor, True
    return await handler(request)


@web.middleware
async def csrf(request: web.Request, handler):
    """Refuse a state-changing request that does not come from our own page with a matching token."""
    if request.method in security.SAFE_METHODS:
        return await _with_csrf_cookie(request, handler)
    if request.get(BEARER):
        return await handler(request)  # no cookie was used, so no request can be forged with one
    if not security.origin_allowed(request):
        raise web.HTTPForbidden()
    json_api = request.path.startswith("/api/") and request.content_type == "application/json"
    if request.body_exists and request.content_type not in FORM_TYPES and not json_api:
        raise web.HTTPUnsupportedMediaType()  # our pages only ever send forms; JSON only to the API
    # Read the form here even when the token came in a header: a body that cannot be read is refused
    # before any handler runs, also by handlers that read no field (aiohttp keeps the parsed form).
    form = await read_form(request) if request.content_type in FORM_TYPES else {}
    submitted = request.headers.get(security.CSRF_HEADER, form.get(security.CSRF_FIELD))
    if not security.csrf_valid(request, submitted if isinstance(submitted, str) else None):
        return error_response(
            request, 403, i18n.gettext(N_("The form had expired. Please go back, reload the page and try again."))
        )
    return await _with_csrf_cookie(request, handler)


async def _with_csrf_cookie(request: web.Request, handler):
    try:
        response = await handler(request)
    except web.HTTPException as exc:
        security.set_csrf_cookie(request, exc)
        raise
    security.set_csrf_cookie(request, response)
    return response


MIDDLEWARES = [observe, language, errors, database, authentication, csrf]
