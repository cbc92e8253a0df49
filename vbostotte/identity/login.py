"""Staff login: password (argon2id), then TOTP; throttled per account and per client address.

Every failure gives the same message, whether the e-mail exists or not (no user enumeration), and
an unknown e-mail costs the same argon2 work as a known one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

import pyotp
import segno
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from vbostotte import audit
from vbostotte.actors import ANONYMOUS, Actor
from vbostotte.config import Settings
from vbostotte.errors import DomainError, Throttled
from vbostotte.i18n import N_
from vbostotte.identity import sessions
from vbostotte.models import LoginFailure, Staff

HASHER = PasswordHasher()  # argon2id with the library's current recommended parameters
_DUMMY_HASH = HASHER.hash("not a real password, only equalises timing")
ISSUER = "Virtuel Bostøtte"
CODE_DIGITS = 6
DRIFT_STEPS = 1  # a code of the step before or after the current one is accepted too (phone clocks drift)


class InvalidCredentials(DomainError):
    message = N_("The e-mail, password or code is not correct.")


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
        ok = HASHER.verify(staff.password_hash if staff else _DUMMY_HASH, password)
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
    result = await db.execute(
        update(Staff)
        .where(Staff.id == staff.id, or_(Staff.totp_last_step.is_(None), Staff.totp_last_step < step))
        .values(totp_last_step=step)
        .execution_options(synchronize_session=False)
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
