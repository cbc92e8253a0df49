"""Staff login: password (argon2id), then TOTP; throttled per account and per client address.

Every failure gives the same message, whether the e-mail exists or not (no user enumeration), and
an unknown e-mail costs the same argon2 work as a known one.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, cast

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import CursorResult, delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from vbostotte import audit
from vbostotte.actors import ANONYMOUS, Actor
from vbostotte.config import Settings
from vbostotte.errors import DomainError, NotAuthenticated, Throttled
from vbostotte.i18n import N_
from vbostotte.identity import sessions
from vbostotte.models import LoginFailure, OidcProvider, Staff, WebSession

HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
ISSUER = "Virtuel Bostøtte"
CODE_DIGITS = 6
DRIFT_STEPS = 1  # a code of the step before or after the current one is accepted too (phone clocks drift)


class InvalidCredentials(DomainError):
    message = N_("The e-mail, password or code is not correct.")


class PasswordLoginOff(DomainError):
    """The municipality has turned local password login off: its staff sign in with its own login (oidc.py)."""

    message = N_("Your municipality signs in with its own login. Use the button for it below.")


@functools.cache
def dummy_hash() -> str:
    """What an unknown e-mail's password is checked against, so it costs the same argon2 work as a known one. Made
    once per process, by ``create_app`` (so the first unknown e-mail is not slower than the next), not at import."""
    return HASHER.hash("not a real password, only equalises timing")


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _key(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def staff_actor(staff: Staff) -> Actor:
    return Actor(
        kind="staff", id=staff.id, municipality_id=staff.municipality_id, role=staff.role.value, name=staff.name
    )


async def _failures(db: AsyncSession, scope: str, key: str, since: dt.datetime) -> int:
    stmt = (
        select(func.count())
        .select_from(LoginFailure)
        .where(LoginFailure.scope == scope, LoginFailure.key == key, LoginFailure.at > since)
    )
    return (await db.execute(stmt)).scalar_one()


async def check_throttle(db: AsyncSession, email: str, ip: str, settings: Settings, now: dt.datetime) -> None:
    """Raise :class:`Throttled` if this account or this address has failed too often lately."""
    since = now - dt.timedelta(minutes=settings.login_window_minutes)
    if await _failures(db, "account", _key(normalise_email(email)), since) >= settings.login_max_failures_account:
        raise Throttled()
    if await _failures(db, "ip", _key(ip), since) >= settings.login_max_failures_ip:
        raise Throttled()


async def record_failure(db: AsyncSession, email: str, ip: str, now: dt.datetime) -> None:
    db.add_all(
        [
            LoginFailure(scope="account", key=_key(normalise_email(email)), at=now),
            LoginFailure(scope="ip", key=_key(ip), at=now),
        ]
    )
    await audit.record(
        db, ANONYMOUS, audit.AuditEvent("auth.login", audit.Purpose.AUTHENTICATION, audit.DENIED), clock=lambda: now
    )


async def check_password(
    db: AsyncSession, email: str, password: str, ip: str, settings: Settings, now: dt.datetime
) -> Staff:
    """First step. Returns the staff member, or raises InvalidCredentials/Throttled (the failure is
    then counted after the request's transaction is rolled back)."""
    await check_throttle(db, email, ip, settings, now)
    staff = (await db.execute(select(Staff).where(Staff.email == normalise_email(email)))).scalar_one_or_none()
    ok = False
    try:
        ok = HASHER.verify(staff.password_hash if staff else dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or staff is None or not staff.active:
        raise InvalidCredentials().then(lambda fresh: record_failure(fresh, email, ip, now))
    if HASHER.check_needs_rehash(staff.password_hash):
        staff.password_hash = HASHER.hash(password)
    return staff


def totp_required(staff: Staff, settings: Settings) -> bool:
    """Whether the second step is needed: always when enrolled; otherwise when MFA is required."""
    return staff.totp_secret is not None or settings.staff_mfa == "required"


def new_totp_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The enrolment QR code as inline SVG markup (no external service sees the secret)."""
    return segno.make(uri, error="m").svg_inline(scale=5, dark="#000", light="#fff", title="QR")


def matching_step(secret: str, code: str, now: dt.datetime) -> int | None:
    """The time step (of the current one and one either side, for clock drift) whose code is ``code``, or None."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == CODE_DIGITS):
        return None
    totp = pyotp.TOTP(secret)
    current = totp.timecode(now)
    matches = [
        step
        for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1)
        if hmac.compare_digest(totp.generate_otp(step), code)
    ]  # every step compared: no timing hint
    return max(matches) if matches else None


async def _use_step(db: AsyncSession, staff: Staff, step: int) -> bool:
    """Record ``step`` as the staff member's last accepted one, unless it (or a later one) already is.

    One conditional UPDATE, so two logins racing with the same code cannot both win: the database lets one
    through and the other sees no row to change (SQLite serialises writers; PostgreSQL re-checks the WHERE
    on the row the first one committed)."""
    result = cast(  # an UPDATE's result is a CursorResult, which has the rowcount
        CursorResult[Any],
        await db.execute(
            update(Staff)
            .where(Staff.id == staff.id, or_(Staff.totp_last_step.is_(None), Staff.totp_last_step < step))
            .values(totp_last_step=step)
            .execution_options(synchronize_session=False)
        ),
    )
    if result.rowcount != 1:
        return False
    set_committed_value(staff, "totp_last_step", step)
    return True


async def check_totp(
    db: AsyncSession, staff: Staff, secret: str, code: str, ip: str, settings: Settings, now: dt.datetime
) -> None:
    """Second step (and the code confirming a new secret): raise InvalidCredentials/Throttled unless ``code`` is
    valid for ``secret`` now and of a later time step than the last code accepted (RFC 6238 §5.2: each code
    logs in once). A replayed code gets the same message as a wrong one and counts as a failure."""
    await check_throttle(db, staff.email, ip, settings, now)
    step = matching_step(secret, code, now)
    if step is None or not await _use_step(db, staff, step):
        email = staff.email
        raise InvalidCredentials().then(lambda fresh: record_failure(fresh, email, ip, now))


async def login_succeeded(db: AsyncSession, staff: Staff, now: dt.datetime) -> None:
    """Clear the account's failure count, tidy away expired sessions, and leave a trace."""
    await sessions.purge_expired(db, now)
    await db.execute(delete(LoginFailure).where(LoginFailure.scope == "account", LoginFailure.key == _key(staff.email)))
    await audit.record(
        db, staff_actor(staff), audit.AuditEvent("auth.login", audit.Purpose.AUTHENTICATION), clock=lambda: now
    )


# --- The login flow: password, then the second factor (or its enrolment); each step a fresh session --------------


class Next(StrEnum):
    """Where a browser goes after a login step."""

    CODE = "code"  # give the six-digit code
    ENROL = "enrol"  # set up the authenticator app first
    IN = "in"  # signed in


@dataclass(frozen=True)
class Step:
    """A login step done: the new session's cookie token (the browser's earlier session has ended) and what next."""

    token: str
    next: Next


CodeStep = Callable[
    [AsyncSession, WebSession | None, str | None, str, str, Settings, dt.datetime], Awaitable["Step"]
]  # a second-factor step: code_step or enrol_step


async def password_step(
    db: AsyncSession, email: str, password: str, ip: str, previous: str | None, settings: Settings, now: dt.datetime
) -> Step:
    """First step. Raises InvalidCredentials/Throttled. Session rotation: whatever session the browser had ends, and
    a new one starts, pending the second factor when one is required."""
    if not email or not password:
        raise InvalidCredentials()
    staff = await check_password(db, email, password, ip, settings, now)
    provider = await db.get(OidcProvider, staff.municipality_id)
    if provider is not None and provider.enabled and not provider.password_login:
        raise PasswordLoginOff()  # said only after the right password: no hint about who has an account
    await sessions.end(db, previous)
    if totp_required(staff, settings):
        token = await sessions.start_staff_session(db, staff.id, settings, now, mfa_passed=False)
        return Step(token, Next.CODE if staff.totp_secret else Next.ENROL)
    return Step(await _signed_in(db, staff, previous, settings, now), Next.IN)


async def pending_staff(db: AsyncSession, session: WebSession | None) -> Staff:
    """The staff member of a session waiting for its second factor; NotAuthenticated for any other session."""
    if session is None or session.staff_id is None or session.mfa_passed:
        raise NotAuthenticated()
    staff = await db.get(Staff, session.staff_id)
    if staff is None or not staff.active:
        raise NotAuthenticated()
    return staff


async def code_step(
    db: AsyncSession,
    session: WebSession | None,
    previous: str | None,
    code: str,
    ip: str,
    settings: Settings,
    now: dt.datetime,
) -> Step:
    """Second step: the six-digit code. Raises InvalidCredentials/Throttled; Next.ENROL if no app is set up yet."""
    staff = await pending_staff(db, session)
    if staff.totp_secret is None:
        return Step(previous or "", Next.ENROL)
    await check_totp(db, staff, staff.totp_secret, code, ip, settings, now)
    return Step(await _signed_in(db, staff, previous, settings, now), Next.IN)


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the new secret, as a QR code and as text."""

    secret: str
    qr_svg: str


async def enrolment(db: AsyncSession, session: WebSession | None) -> Enrolment | None:
    """The secret being set up for a pending session (made once, kept on the session); None if the staff member
    already has an app set up (they give a code instead)."""
    staff = await pending_staff(db, session)
    secret = _secret_being_set_up(staff, session)
    return Enrolment(secret, qr_svg(provisioning_uri(secret, staff.email))) if secret else None


def _secret_being_set_up(staff: Staff, session: WebSession | None) -> str | None:
    """The new secret of a pending session (made once, kept on the session); None if an app is set up already."""
    if staff.totp_secret is not None or session is None:
        return None
    if session.pending_totp_secret is None:
        session.pending_totp_secret = new_totp_secret()
    return session.pending_totp_secret


async def enrol_step(
    db: AsyncSession,
    session: WebSession | None,
    previous: str | None,
    code: str,
    ip: str,
    settings: Settings,
    now: dt.datetime,
) -> Step:
    """The first code from the newly set-up app confirms it. Raises InvalidCredentials/Throttled."""
    staff = await pending_staff(db, session)
    secret = _secret_being_set_up(staff, session)  # (not the QR code: that is only for the page)
    if secret is None:
        return Step(previous or "", Next.CODE)
    await check_totp(db, staff, secret, code, ip, settings, now)
    staff.totp_secret = secret
    await audit.record(db, staff_actor(staff), audit.AuditEvent("auth.mfa_enrol", audit.Purpose.AUTHENTICATION))
    return Step(await _signed_in(db, staff, previous, settings, now), Next.IN)


async def _signed_in(db: AsyncSession, staff: Staff, previous: str | None, settings: Settings, now: dt.datetime) -> str:
    await sessions.end(db, previous)
    await login_succeeded(db, staff, now)
    return await sessions.start_staff_session(db, staff.id, settings, now, mfa_passed=True)


async def logout(db: AsyncSession, actor: Actor, token: str | None) -> None:
    """End the server-side session (not only the cookie), with a trace for a signed-in person."""
    await sessions.end(db, token)
    if actor.kind in ("staff", "citizen"):
        await audit.record(db, actor, audit.AuditEvent("auth.logout", audit.Purpose.AUTHENTICATION))
