"""The durable outbox: what is to be sent (reminders, notices to interpreters), planned in the same
transaction as the change that causes it, so nothing is lost and nothing is planned for a change
that rolled back. Sending is ``services.sender``.

Each row's ``dedupe_key`` names exactly one message (for reminders it includes the appointment's
start, so moving an appointment plans new reminders and the old ones are dropped); the unique
constraint on it means a message can be planned only once.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte.models import Appointment, DayTask, MunicipalitySettings, OutboxMessage, OutboxStatus
from vbostotte.privacy import consent


def default_settings() -> MunicipalitySettings:
    """A municipality's settings until its administrator saves some (a new, unsaved object each time: nothing
    built at import, nothing shared between requests)."""
    return MunicipalitySettings(reminder_offsets_minutes="1440,60", confirm_cutoff_minutes=180, crisis_line_text="")


_SETTINGS_OF = select(MunicipalitySettings).where(MunicipalitySettings.municipality_id == bindparam("municipality_id"))


async def municipality_settings(db: AsyncSession, municipality_id: int) -> MunicipalitySettings:
    """The municipality's settings (the defaults if it has none): a statement built once, as both start pages read
    them on every view."""
    found = (await db.execute(_SETTINGS_OF, {"municipality_id": municipality_id})).scalar_one_or_none()
    return found or default_settings()


def reminder_offsets(settings: MunicipalitySettings) -> list[int]:
    return sorted(
        {int(part) for part in settings.reminder_offsets_minutes.split(",") if part.strip().isdigit()}, reverse=True
    )


def _stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def planned_for_current_start(message: OutboxMessage, appointment: Appointment) -> bool:
    """Whether the appointment still starts when it did as the message was planned (not moved since)."""
    return message.planned_for == appointment.starts_at


def _add(
    db: AsyncSession,
    appointment: Appointment,
    purpose: str,
    channel: str,
    recipient: str,
    key: str,
    due: dt.datetime,
    now: dt.datetime,
) -> None:
    db.add(
        OutboxMessage(
            municipality_id=appointment.municipality_id,
            appointment_id=appointment.id,
            purpose=purpose,
            channel=channel,
            recipient_kind=recipient,
            dedupe_key=key,
            due_at=due,
            planned_for=appointment.starts_at,
            status=OutboxStatus.PENDING,
            attempts=0,
            next_attempt_at=due,
            created_at=now,
        )
    )


INTERPRETER_REMINDER = "interpreter_reminder"
INTERPRETER_NEW_LINK = "interpreter_new_link"


def _interpreter_channels(appointment: Appointment) -> list[str]:
    return [
        channel
        for channel, contact in (("email", appointment.interpreter_email), ("sms", appointment.interpreter_phone))
        if contact
    ]


async def plan_for_appointment(
    db: AsyncSession, appointment: Appointment, now: dt.datetime, *, invite_interpreter: bool = True
) -> None:
    """Plan the citizen's reminders (per the municipality's schedule), the interpreter's invitation (unless
    ``invite_interpreter`` is false: a move tells the interpreter with its own notice) and the interpreter's
    one reminder, at the schedule's last reminder time (default an hour before)."""
    settings = await municipality_settings(db, appointment.municipality_id)
    channels = await consent.reminder_channels(db, appointment.citizen_id)
    start = _stamp(appointment.starts_at)
    offsets = reminder_offsets(settings)
    for minutes in offsets:
        due = appointment.starts_at - dt.timedelta(minutes=minutes)
        if due <= now:
            continue
        for channel in channels:
            _add(
                db,
                appointment,
                "reminder",
                channel,
                "citizen",
                f"reminder:{appointment.id}:{start}:{minutes}:{channel}",
                due,
                now,
            )
    if appointment.has_interpreter and appointment.interpreter_released_at is None:
        if invite_interpreter:
            await notify_interpreter(db, appointment, "interpreter_invite", now)
        if offsets and (due := appointment.starts_at - dt.timedelta(minutes=offsets[-1])) > now:
            for channel in _interpreter_channels(appointment):
                _add(
                    db,
                    appointment,
                    INTERPRETER_REMINDER,
                    channel,
                    "interpreter",
                    f"{INTERPRETER_REMINDER}:{appointment.id}:{start}:{offsets[-1]}:{channel}",
                    due,
                    now,
                )
    await db.flush()


CALL_NOW = "call_now"  # the citizen's notice that their worker is calling now, with the link to their page


async def plan_call_now(db: AsyncSession, appointment: Appointment, now: dt.datetime) -> list[str]:
    """Tell the citizen at once that the worker is calling (an unscheduled video session), only on the channels
    the citizen agreed to; the channels planned on."""
    channels = await consent.reminder_channels(db, appointment.citizen_id)
    for channel in channels:
        _add(db, appointment, CALL_NOW, channel, "citizen", f"{CALL_NOW}:{appointment.id}:{channel}", now, now)
    await db.flush()
    return channels


async def notify_interpreter(
    db: AsyncSession, appointment: Appointment, purpose: str, now: dt.datetime, ref: str | None = None
) -> None:
    """Tell the interpreter now (invitation, cancellation, "can't come", moved, released, a new link);
    ``ref`` tells apart notices of one purpose for the same time (a new link: the link's id)."""
    if not appointment.has_interpreter:
        return
    if (
        purpose != "interpreter_invite"
        and appointment.interpreter_released_at is not None
        and purpose != "interpreter_released"
    ):
        return  # already released: nothing more to tell
    key_base = f"{purpose}:{appointment.id}:{_stamp(appointment.starts_at)}" + (f":{ref}" if ref else "")
    for channel in _interpreter_channels(appointment):
        existing = await db.execute(select(OutboxMessage.id).where(OutboxMessage.dedupe_key == f"{key_base}:{channel}"))
        if existing.first() is None:
            _add(db, appointment, purpose, channel, "interpreter", f"{key_base}:{channel}", now, now)
    await db.flush()


def notice_ref(message: OutboxMessage) -> str | None:
    """The ``ref`` a notice was planned with (keys are ``purpose:appointment:start[:ref]:channel``)."""
    parts = message.dedupe_key.split(":")
    return parts[3] if len(parts) == 5 else None


async def invitation_unsent(db: AsyncSession, appointment_id: int) -> bool:
    """Whether the interpreter's invitation is still to be sent (so it will carry what is current then)."""
    stmt = (
        select(OutboxMessage.id)
        .where(
            OutboxMessage.appointment_id == appointment_id,
            OutboxMessage.purpose == "interpreter_invite",
            OutboxMessage.status.in_((OutboxStatus.PENDING, OutboxStatus.SENDING)),
        )
        .limit(1)
    )
    return (await db.execute(stmt)).first() is not None


async def drop_pending(db: AsyncSession, appointment_id: int) -> None:
    """Drop the appointment's unsent reminders, the interpreter's too (cancelled or moved)."""
    await db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.appointment_id == appointment_id,
            OutboxMessage.purpose.in_(("reminder", INTERPRETER_REMINDER)),
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.DROPPED)
    )


async def drop_interpreter_reminder(db: AsyncSession, appointment_id: int, reason: str) -> None:
    """Drop the interpreter's unsent reminder (the interpreter is released)."""
    await db.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.appointment_id == appointment_id,
            OutboxMessage.purpose == INTERPRETER_REMINDER,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.DROPPED, last_error=reason)
    )


# --- The day plan's reminders (services.day_plan) ---------------------------------------------------

DAY_TASK_REMINDER = "day_task_reminder"


def planned_for_current_reminder(message: OutboxMessage, task: DayTask) -> bool:
    """Whether the task still asks for a reminder at the time the message was planned for."""
    return task.remind_at is not None and message.planned_for == task.remind_at


async def plan_for_day_task(db: AsyncSession, task: DayTask, now: dt.datetime) -> None:
    """Plan a day task's reminder on each channel the citizen agreed to (nothing without a time, or one past)."""
    if task.remind_at is None or task.remind_at <= now:
        return
    for channel in await consent.reminder_channels(db, task.citizen_id):
        db.add(
            OutboxMessage(
                municipality_id=task.municipality_id,
                day_task_id=task.id,
                purpose=DAY_TASK_REMINDER,
                channel=channel,
                recipient_kind="citizen",
                dedupe_key=f"{DAY_TASK_REMINDER}:{task.id}:{_stamp(task.remind_at)}:{channel}",
                due_at=task.remind_at,
                planned_for=task.remind_at,
                status=OutboxStatus.PENDING,
                attempts=0,
                next_attempt_at=task.remind_at,
                created_at=now,
            )
        )
    await db.flush()


async def drop_day_task(db: AsyncSession, task_id: int, reason: str) -> None:
    """Drop a day task's unsent reminders (the task is removed)."""
    await db.execute(
        update(OutboxMessage)
        .where(OutboxMessage.day_task_id == task_id, OutboxMessage.status == OutboxStatus.PENDING)
        .values(status=OutboxStatus.DROPPED, last_error=reason)
    )
