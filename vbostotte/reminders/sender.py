"""Sending the outbox: claim due messages, check each one again, send it, record the outcome.

Every step is its own short transaction, so what the database says is never more than one message
behind what really happened. The claim is committed before anything is sent; a success is committed
right after the channel accepted the message. A sender killed between those two commits leaves one
message 'sending'; when its lease ends another sender sends it again, with the same Message-ID or
Idempotency-Key, so the resend is recognisable. docs/reminders.md has the whole argument.

Nothing here is global: the session factory, settings, clock and channels are passed in.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vbostotte.booking import calendars, lifecycle
from vbostotte.calls import calls, guests
from vbostotte.config import Settings
from vbostotte.db import transaction
from vbostotte.models import Appointment, AppointmentKind, Citizen, DayTask, OutboxMessage, OutboxStatus, Staff
from vbostotte.privacy import consent
from vbostotte.reminders import messages, outbox
from vbostotte.reminders.channels import Attachment, Channel, DeliveryFailed, Outgoing

log = logging.getLogger(__name__)

Clock = Callable[[], dt.datetime]
Sessions = async_sessionmaker[AsyncSession]

BATCH = 20
MAX_ATTEMPTS = 8
BACKOFF_CAP = dt.timedelta(minutes=60)
# What an interpreter may still be told once the appointment is cancelled ("can't come" cancels it).
AFTER_CANCEL = ("interpreter_cancelled", "interpreter_cant_come", "interpreter_released")
# The calendar invitation e-mailed with a notice: the event itself (with the call's link), or its cancellation.
CALENDAR_REQUEST = ("interpreter_invite", "interpreter_moved", outbox.INTERPRETER_NEW_LINK)
CALENDAR_CANCEL = AFTER_CANCEL
# A day task's reminder more than this late (the senders were down) is dropped, not sent.
DAY_TASK_LATE = dt.timedelta(hours=1)


@dataclass(frozen=True, order=True)
class Claim:
    """A claimed message. ``attempt`` is the row's attempt count after the claim: whoever holds the row
    with this count owns it; a sender that took the row over after the lease ended has a higher one."""

    id: int
    attempt: int


@dataclass(frozen=True)
class Verdict:
    """What the check before sending decided for a message that is not to be sent."""

    status: OutboxStatus  # DROPPED or FAILED
    reason: str


def backoff(attempts: int) -> dt.timedelta:
    """1, 2, 4, … minutes after the 1st, 2nd, 3rd … failed attempt, at most an hour."""
    return min(dt.timedelta(minutes=2 ** (attempts - 1)), BACKOFF_CAP)


def _claimable(now: dt.datetime, channels: Iterable[str]):
    return and_(
        OutboxMessage.channel.in_(list(channels)),
        or_(
            and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
            # 'sending' past its lease: the sender that claimed it died or hung mid-send.
            and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
        ),
    )


async def claim_due(
    db: AsyncSession, now: dt.datetime, limit: int, lease: dt.timedelta, channels: Iterable[str] = ("email", "sms")
) -> list[Claim]:
    """Take up to ``limit`` due messages for sending; the caller commits before sending any of them.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so concurrent senders take different rows without waiting.
    SQLite: the engine opens every transaction with ``BEGIN IMMEDIATE`` (see ``db.create_engine``), so
    claims are serialised by the database's write lock.
    """
    channels = list(channels)
    due = (
        select(OutboxMessage.id)
        .where(_claimable(now, channels))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if (await db.connection()).dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True)
    ids = list((await db.execute(due)).scalars())
    if not ids:
        return []
    claimed = await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_(ids), _claimable(now, channels))
        .values(status=OutboxStatus.SENDING, lease_until=now + lease, attempts=OutboxMessage.attempts + 1)
        .returning(OutboxMessage.id, OutboxMessage.attempts)
        .execution_options(synchronize_session=False)
    )
    attempts: dict[int, int] = {row[0]: row[1] for row in claimed}
    return [Claim(id_, attempts[id_]) for id_ in ids if id_ in attempts]


async def deliver(
    sessions: Sessions,
    settings: Settings,
    clock: Clock,
    channels: Mapping[str, Channel],
    claim: Claim,
    *,
    lock: asyncio.Lock | None = None,
) -> str:
    """Check one claimed message again, send it, record what happened; returns the outcome
    (sent, retry, failed, dropped, or lost when another sender has taken the message over)."""
    async with transaction(sessions, lock) as db:
        # Locked (PostgreSQL; SQLite's transaction already is), so a sender taking the row over after its
        # lease ended either waits for this check or makes it see the new attempt count.
        message = await db.get(OutboxMessage, claim.id, with_for_update=True, populate_existing=True)
        if message is None or message.status != OutboxStatus.SENDING or message.attempts != claim.attempt:
            return "lost"
        now = clock()
        decided = await _check(db, message, settings, now)
        if isinstance(decided, Verdict):
            message.status, message.last_error, message.lease_until = decided.status, decided.reason, None
        else:
            # The lease counts from this last check, so a long batch does not eat into a message's time.
            message.lease_until = now + dt.timedelta(seconds=settings.outbox_lease_seconds)
        channel_name = message.channel
    if isinstance(decided, Verdict):
        log.info("outbox %s via %s: %s (%s)", claim.id, channel_name, decided.status, decided.reason)
        return decided.status
    channel = channels.get(channel_name)
    try:
        if channel is None:
            raise DeliveryFailed("channel not configured", permanent=False)
        await channel.send(decided)
    except DeliveryFailed as exc:
        return await _record_failure(sessions, clock, claim, channel_name, exc, lock)
    except Exception as exc:  # noqa: BLE001 - a channel's bug or odd data: retry with back-off, then give up
        failure = DeliveryFailed(f"{channel_name} {type(exc).__name__}", permanent=False)
        return await _record_failure(sessions, clock, claim, channel_name, failure, lock)
    return await _record(
        sessions, claim, channel_name, lock, status=OutboxStatus.SENT, sent_at=clock(), last_error=None
    )


async def _record(sessions: Sessions, claim: Claim, channel: str, lock: asyncio.Lock | None, **values) -> str:
    """Write the outcome, but only if this sender still owns the message."""
    async with transaction(sessions, lock) as db:
        result = cast(  # an UPDATE's result is a CursorResult, which has the rowcount
            CursorResult[Any],
            await db.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.id == claim.id,
                    OutboxMessage.status == OutboxStatus.SENDING,
                    OutboxMessage.attempts == claim.attempt,
                )
                .values(lease_until=None, **values)
                .execution_options(synchronize_session=False)
            ),
        )
    outcome = "retry" if values["status"] == OutboxStatus.PENDING else values["status"]
    if result.rowcount != 1:
        log.warning("outbox %s via %s: %s, but another sender had taken it over", claim.id, channel, outcome)
        return "lost"
    log.info(
        "outbox %s via %s: %s%s",
        claim.id,
        channel,
        outcome,
        f" ({values['last_error']})" if values.get("last_error") else "",
    )
    return outcome


async def _record_failure(
    sessions: Sessions, clock: Clock, claim: Claim, channel: str, exc: DeliveryFailed, lock: asyncio.Lock | None
) -> str:
    if exc.permanent or claim.attempt >= MAX_ATTEMPTS:
        return await _record(sessions, claim, channel, lock, status=OutboxStatus.FAILED, last_error=exc.reason[:200])
    return await _record(
        sessions,
        claim,
        channel,
        lock,
        status=OutboxStatus.PENDING,
        last_error=exc.reason[:200],
        next_attempt_at=clock() + backoff(claim.attempt),
    )


async def _check(db: AsyncSession, message: OutboxMessage, settings: Settings, now: dt.datetime) -> Outgoing | Verdict:
    """Is the message still to be sent, to whom, saying what? Checked at send time, not only when planned."""
    if message.attempts > MAX_ATTEMPTS:  # taken over again and again: each time its sender died
        return Verdict(OutboxStatus.FAILED, "too many attempts")
    if message.purpose == outbox.DAY_TASK_REMINDER:
        return await _check_day_task_reminder(db, message, settings, now)
    appointment = await db.get(Appointment, message.appointment_id) if message.appointment_id else None
    if appointment is None:
        return Verdict(OutboxStatus.DROPPED, "no appointment")
    if message.recipient_kind == "citizen":
        return await _check_reminder(db, message, appointment, settings, now)
    if message.recipient_kind == "interpreter":
        return await _check_interpreter_notice(db, message, appointment, settings, now)
    return Verdict(OutboxStatus.FAILED, "unknown recipient")


def _refused(
    appointment: Appointment, change: lifecycle.Change, settings: Settings, now: dt.datetime
) -> Verdict | None:
    """Dropped if the appointment's state no longer allows the message (cancelled, held, over: booking/lifecycle.py)."""
    state = lifecycle.state_of(appointment, now, settings.call_opens_minutes)
    if lifecycle.permits(state, change):
        return None
    return Verdict(OutboxStatus.DROPPED, "cancelled" if state in lifecycle.CANCELLED else state.value)


async def _check_reminder(
    db: AsyncSession, message: OutboxMessage, appointment: Appointment, settings: Settings, now: dt.datetime
) -> Outgoing | Verdict:
    if message.purpose == outbox.CALL_NOW:
        return await _check_call_now(db, message, appointment, settings, now)
    if message.purpose != "reminder":
        return Verdict(OutboxStatus.FAILED, "unknown purpose")
    if (refused := _refused(appointment, lifecycle.Change.REMIND, settings, now)) is not None:
        return refused
    if not outbox.planned_for_current_start(message, appointment):
        return Verdict(OutboxStatus.DROPPED, "moved")
    if appointment.starts_at <= now:
        return Verdict(OutboxStatus.DROPPED, "too late")
    if await _later_reminder_due(db, message, now):
        return Verdict(OutboxStatus.DROPPED, "superseded")  # after an outage: one reminder, not two at once
    return await _to_citizen(
        db,
        message,
        appointment.citizen_id,
        now,
        lambda locale: messages.reminder(
            kind=appointment.kind.value,
            starts_at=appointment.starts_at,
            locale=locale,
            base_url=settings.base_url,
            now=now,
        ),
    )


async def _check_call_now(
    db: AsyncSession, message: OutboxMessage, appointment: Appointment, settings: Settings, now: dt.datetime
) -> Outgoing | Verdict:
    """The worker is calling now: sent while the call is still open, on a channel the citizen still agrees to."""
    if (refused := _refused(appointment, lifecycle.Change.REMIND, settings, now)) is not None:
        return refused
    if not calls.is_open(appointment, settings, now):
        return Verdict(OutboxStatus.DROPPED, "too late")
    return await _to_citizen(
        db,
        message,
        appointment.citizen_id,
        now,
        lambda locale: messages.call_now(locale=locale, base_url=settings.base_url),
    )


async def _check_day_task_reminder(
    db: AsyncSession, message: OutboxMessage, settings: Settings, now: dt.datetime
) -> Outgoing | Verdict:
    """A day-plan task's reminder: only while the task is on the plan, not done, at the time planned for, and
    only on a channel the citizen still agrees to."""
    task = await db.get(DayTask, message.day_task_id) if message.day_task_id else None
    if task is None:
        return Verdict(OutboxStatus.DROPPED, "task removed")
    if task.done_at is not None:
        return Verdict(OutboxStatus.DROPPED, "task done")
    if task.remind_at is None or not outbox.planned_for_current_reminder(message, task):
        return Verdict(OutboxStatus.DROPPED, "moved")
    if now - task.remind_at > DAY_TASK_LATE:
        return Verdict(OutboxStatus.DROPPED, "too late")  # after an outage: "drink water" hours late is noise
    remind_at = task.remind_at
    return await _to_citizen(
        db,
        message,
        task.citizen_id,
        now,
        lambda locale: messages.day_task_reminder(
            title=task.title, remind_at=remind_at, locale=locale, base_url=settings.base_url
        ),
    )


async def _to_citizen(
    db: AsyncSession, message: OutboxMessage, citizen_id: int, now: dt.datetime, text: Callable[[str], messages.Text]
) -> Outgoing | Verdict:
    """To the citizen, on the message's channel if they still agree to it and have an address for it; ``text`` makes
    the message in their language."""
    if message.channel not in await consent.reminder_channels(db, citizen_id):
        return Verdict(OutboxStatus.DROPPED, "not agreed")
    citizen = await db.get(Citizen, citizen_id)
    if citizen is None:
        return Verdict(OutboxStatus.FAILED, "unknown recipient")
    contact = _contact(message.channel, citizen.email, citizen.phone)
    if isinstance(contact, Verdict):
        return contact
    return _outgoing(message, contact, text(citizen.locale), now)


async def _check_interpreter_notice(
    db: AsyncSession, message: OutboxMessage, appointment: Appointment, settings: Settings, now: dt.datetime
) -> Outgoing | Verdict:
    if message.purpose not in messages.INTERPRETER_NOTICES:
        return Verdict(OutboxStatus.FAILED, "unknown purpose")
    if appointment.ends_at <= now:
        return Verdict(OutboxStatus.DROPPED, "too late")
    if appointment.interpreter_released_at is not None and message.purpose != "interpreter_released":
        return Verdict(OutboxStatus.DROPPED, "interpreter released")
    if appointment.cancelled_at is not None and message.purpose not in AFTER_CANCEL:
        return Verdict(OutboxStatus.DROPPED, "cancelled")
    if message.purpose in ("interpreter_invite", outbox.INTERPRETER_REMINDER) and (
        refused := _refused(appointment, lifecycle.Change.INVITE_INTERPRETER, settings, now)
    ):
        return refused  # not to a session that is held or over
    if message.purpose == outbox.INTERPRETER_REMINDER:
        if not outbox.planned_for_current_start(message, appointment):
            return Verdict(OutboxStatus.DROPPED, "moved")
        if appointment.starts_at <= now:
            return Verdict(OutboxStatus.DROPPED, "too late")
    contact = _contact(message.channel, appointment.interpreter_email, appointment.interpreter_phone)
    if isinstance(contact, Verdict):
        return contact
    call_link = None
    if message.purpose in messages.WITH_CALL_LINK and appointment.kind == AppointmentKind.VIDEO:
        # Made here if nobody has needed it yet; None once the worker has stopped it without making a new one.
        link = await guests.interpreter_link(db, appointment, settings, now)
        stale = link is None or str(link.id) != outbox.notice_ref(message)
        if message.purpose == outbox.INTERPRETER_NEW_LINK and stale:
            return Verdict(OutboxStatus.DROPPED, "superseded")  # stopped again, or a newer link has its own notice
        call_link = guests.url_for(link, settings) if link else None
    worker = await db.get(Staff, appointment.worker_id)
    # The time the notice was planned for: an invitation sent late still names the time it invited to,
    # and the "moved" notice planned after it tells the new one.
    text = messages.interpreter_notice(
        message.purpose,
        kind=appointment.kind.value,
        starts_at=message.planned_for or appointment.starts_at,
        minutes=round((appointment.ends_at - appointment.starts_at).total_seconds() / 60),
        language=appointment.interpreter_language or "",
        worker_name=worker.name if worker else "",
        call_link=call_link,
        opens_minutes=settings.call_opens_minutes,
    )
    attachments: tuple[Attachment, ...] = ()
    if message.channel == "email" and message.purpose in CALENDAR_REQUEST + CALENDAR_CANCEL:
        method = "REQUEST" if message.purpose in CALENDAR_REQUEST else "CANCEL"
        attachments = (
            Attachment(
                calendars.invitation(appointment, settings, method, now=now, call_url=call_link),
                "text",
                "calendar",
                "invitation.ics",
                (("method", method), ("charset", "utf-8")),
            ),
        )
    return _outgoing(message, contact, text, now, attachments)


async def _later_reminder_due(db: AsyncSession, message: OutboxMessage, now: dt.datetime) -> bool:
    later = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.appointment_id == message.appointment_id,
            OutboxMessage.purpose == "reminder",
            OutboxMessage.channel == message.channel,
            OutboxMessage.due_at > message.due_at,
            OutboxMessage.due_at <= now,
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING, OutboxStatus.SENT)),
        )
        .limit(1)
    )
    return (await db.execute(later)).first() is not None


def _contact(channel: str, email: str | None, phone: str | None) -> str | Verdict:
    if channel == "email":
        return email or Verdict(OutboxStatus.FAILED, "no e-mail address")
    if channel == "sms":
        return phone or Verdict(OutboxStatus.FAILED, "no phone number")
    return Verdict(OutboxStatus.FAILED, "unknown channel")


def _outgoing(
    message: OutboxMessage, to: str, text: messages.Text, now: dt.datetime, attachments: tuple[Attachment, ...] = ()
) -> Outgoing:
    return Outgoing(
        outbox_id=message.id,
        dedupe_key=message.dedupe_key,
        to=to,
        subject=text.subject,
        body=text.body,
        short_text=text.short,
        locale=text.locale,
        composed_at=now,
        attachments=attachments,
    )


async def run_once(
    sessions: Sessions,
    settings: Settings,
    clock: Clock,
    channels: Mapping[str, Channel],
    *,
    limit: int = BATCH,
    lock: asyncio.Lock | None = None,
    stop: asyncio.Event | None = None,
) -> Counter[str]:
    """Claim one batch of due messages and deliver them one by one; returns how many ended how."""
    counts: Counter[str] = Counter()
    if not channels:
        return counts
    lease = dt.timedelta(seconds=settings.outbox_lease_seconds)
    async with transaction(sessions, lock) as db:
        claims = await claim_due(db, clock(), limit, lease, channels)
    counts["claimed"] = len(claims)
    unsent = list(claims)
    try:
        while unsent and not (stop is not None and stop.is_set()):
            claim = unsent.pop(0)
            try:
                counts[await deliver(sessions, settings, clock, channels, claim, lock=lock)] += 1
            except Exception as exc:  # noqa: BLE001 - one bad message must not stop the others
                # The row stays 'sending' and is taken again when its lease ends (failed after MAX_ATTEMPTS).
                log.error(
                    "outbox %s: unexpected %s", claim.id, type(exc).__name__, exc_info=log.isEnabledFor(logging.DEBUG)
                )
                counts["error"] += 1
    finally:
        if unsent:  # stopped (SIGTERM, or the task cancelled) with messages claimed but never tried
            counts["released"] = await asyncio.shield(release(sessions, unsent, lock))
    return counts


async def release(sessions: Sessions, claims: Iterable[Claim], lock: asyncio.Lock | None = None) -> int:
    """Hand claimed messages that were never tried back (a stopping sender): 'pending' again, due as they were,
    the claim's attempt not counted, so another sender takes them at once instead of when the lease ends.
    Only rows this sender still owns (status and attempt count as claimed) are touched."""
    released = 0
    async with transaction(sessions, lock) as db:
        for claim in claims:
            result = cast(
                CursorResult[Any],
                await db.execute(
                    update(OutboxMessage)
                    .where(
                        OutboxMessage.id == claim.id,
                        OutboxMessage.status == OutboxStatus.SENDING,
                        OutboxMessage.attempts == claim.attempt,
                    )
                    .values(status=OutboxStatus.PENDING, attempts=claim.attempt - 1, lease_until=None)
                    .execution_options(synchronize_session=False)
                ),
            )
            released += result.rowcount
    log.info("outbox sender stopping: %d claimed message(s) handed back unsent", released)
    return released


async def run_forever(
    sessions: Sessions,
    settings: Settings,
    clock: Clock,
    channels: Mapping[str, Channel],
    *,
    lock: asyncio.Lock | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Run rounds until ``stop`` is set: at once again after a full batch, else after the poll interval.
    A failing round (the database away, say) is logged and the loop goes on."""
    stop = stop or asyncio.Event()
    log.info("outbox sender started: %s", ", ".join(sorted(channels)) or "no channels")
    while not stop.is_set():
        try:
            counts = await run_once(sessions, settings, clock, channels, lock=lock, stop=stop)
        except Exception as exc:  # noqa: BLE001 - keep sending once the database is back
            log.error("outbox round failed: %s", type(exc).__name__, exc_info=log.isEnabledFor(logging.DEBUG))
            counts = Counter()
        if counts["claimed"] < BATCH:
            try:
                await asyncio.wait_for(stop.wait(), settings.outbox_poll_seconds)
            except TimeoutError:
                pass
    log.info("outbox sender stopped")
