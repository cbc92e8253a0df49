"""Retention: delete what is older than its configured retention (``VB_RETENTION_*``), in one transaction that
also appends one audit entry for the run.

Kept for ever and never touched here: the audit log (append-only and hash-chained; removing its start would
need a signed checkpoint, see docs/deployment.md), and the domain data itself (citizens, appointments),
whose end of life is a case-work decision, not an age. Outbox rows still to be sent are never deleted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, delete, or_
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.actors import SYSTEM
from vbostotte.config import Settings
from vbostotte.models import CallEvent, CallTicket, LoginFailure, OutboxMessage, OutboxStatus, WebSession

FINISHED = (OutboxStatus.SENT, OutboxStatus.DROPPED, OutboxStatus.FAILED)  # outbox rows nobody will send any more


@dataclass(frozen=True)
class Rule:
    kind: str  # what the operator reads in the report
    days: int


def rules(settings: Settings) -> list[Rule]:
    return [
        Rule("call_events", settings.retention_call_events_days),
        Rule("outbox", settings.retention_outbox_days),
        Rule("login_failures", settings.retention_login_failures_days),
        Rule("sessions", settings.retention_sessions_days),
        Rule("call_tickets", settings.retention_sessions_days),
    ]


def _statement(kind: str, cutoff: dt.datetime):
    if kind == "call_events":
        return delete(CallEvent).where(CallEvent.at < cutoff)
    if kind == "outbox":
        return delete(OutboxMessage).where(
            OutboxMessage.status.in_(FINISHED),
            OutboxMessage.due_at < cutoff,
            or_(OutboxMessage.sent_at.is_(None), OutboxMessage.sent_at < cutoff),
        )
    if kind == "login_failures":
        return delete(LoginFailure).where(LoginFailure.at < cutoff)
    if kind == "sessions":
        return delete(WebSession).where(WebSession.expires_at < cutoff)
    if kind == "call_tickets":
        return delete(CallTicket).where(CallTicket.expires_at < cutoff)
    raise ValueError(kind)


async def run(db: AsyncSession, settings: Settings, now: dt.datetime) -> dict[str, int]:
    """Delete every kind's rows older than its retention; the number deleted per kind. Audited as one entry."""
    deleted = {}
    for rule in rules(settings):
        result = cast(  # a DELETE's result is a CursorResult, which has the rowcount
            CursorResult[Any],
            await db.execute(
                _statement(rule.kind, now - dt.timedelta(days=rule.days)).execution_options(synchronize_session=False)
            ),
        )
        deleted[rule.kind] = result.rowcount or 0
    await audit.record(db, SYSTEM, audit.AuditEvent("retention.run", audit.Purpose.ADMINISTRATION), clock=lambda: now)
    return deleted
