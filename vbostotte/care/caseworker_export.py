"""A summary about a citizen for their caseworker (sagsbehandler) in the municipality, made by a support worker
on the citizen's caseload — only while the citizen consents to sharing information with the caseworker.

What is in it: every signed note (the latest signed version of each, shared with the citizen or not), the goals
with their status and steps, and the appointments of a period (default: the last 90 days) with attendance.
The pieces are those of the citizen's own-data export (``services.data_export``), filtered by the citizen and
their municipality. Every summary made is audit-logged; a refused one (no consent) is logged as denied.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import access, audit
from vbostotte.actors import Actor
from vbostotte.errors import Conflict
from vbostotte.i18n import N_
from vbostotte.models import StaffRole
from vbostotte.privacy import consent, data_export

DEFAULT_DAYS = 90
ACTION = "caseworker_export.html"


class NoCaseworkerConsent(Conflict):
    """The citizen has not (or no longer) consented to sharing information with the caseworker."""

    message = N_("The citizen has not agreed to sharing information with the caseworker.")


async def summary(
    db: AsyncSession, actor: Actor, citizen_id: int, now: dt.datetime, *, days: int = DEFAULT_DAYS
) -> dict[str, Any]:
    """The summary for the caseworker, for a worker with the citizen on their caseload (else 403/404)."""
    access.require_role(actor, StaffRole.WORKER)
    citizen = await access.citizen_for(db, actor, citizen_id, "citizen.view", audit.Purpose.CASEWORKER_SHARING)
    if not await consent.has(db, citizen.id, consent.Kind.CASEWORKER_SHARING):
        event = audit.AuditEvent(ACTION, audit.Purpose.CASEWORKER_SHARING, audit.DENIED, citizen_id=citizen.id)
        raise NoCaseworkerConsent().then(lambda fresh: audit.record(fresh, actor, event, clock=lambda: now))
    await audit.record(
        db, actor, audit.AuditEvent(ACTION, audit.Purpose.CASEWORKER_SHARING, citizen_id=citizen.id), clock=lambda: now
    )
    since = now - dt.timedelta(days=days)
    return {
        "generated_at": now,
        "since": since,
        "days": days,
        "citizen": {"id": citizen.id, "name": citizen.name},
        "notes": await data_export.signed_notes(db, citizen, shared_only=False),
        "goals": await data_export.goals_of(db, citizen),
        "appointments": [a for a in await data_export.appointments_of(db, citizen) if since <= a["starts_at"] <= now],
    }
