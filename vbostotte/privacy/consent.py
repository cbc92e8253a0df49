"""Consent ("samtykke") as data: kinds per municipality with versioned texts, and append-only,
hash-chained events from which the current state is derived. The code asks :func:`has` before acting.

* A kind (video sessions, reminders by SMS, …) belongs to one municipality and has versions of its
  text (plain Danish and English). Changing the text adds a version; events keep pointing at the
  version (and the SHA-256 of its text) they were given on.
* An event says: this citizen gave or withdrew this kind, on this version, at this time, recorded by
  whom, and how (in person, by phone, in a video call — a worker recording a verbal consent — or by the
  citizen on their own page). The latest event for a kind wins; no event means "never asked".
* Events are append-only (database triggers refuse UPDATE and DELETE, see migration 0006; on PostgreSQL the
  application's role may only INSERT, migration 0015) and hash-chained per municipality like the audit log:
  each event's hash is an HMAC-SHA-256 (key outside the database, ``vbostotte/audit/keys.py``) over its
  fields, its key's id and the previous event's hash, and ``consent_heads`` holds the last one, so
  :func:`verify_chain` finds an edited, deleted, inserted or reordered event, and, against the anchors
  (``vbostotte/audit/anchors.py``), a tail cut off with the head moved back.
* Which channels a citizen may be reminded on is consent's answer (:func:`reminder_channels`), read by the
  outbox when planning and by the sender again at send time. Withdrawing takes effect at once: the citizen's
  pending reminders on that channel are dropped in the same transaction (:func:`drop_reminders`). The
  dependency runs one way, ``reminders`` → ``privacy``: this module never imports the outbox.

Authorisation of *which* citizen is the caller's (``access.citizen_for``); :func:`give` and
:func:`withdraw` still refuse a citizen outside the actor's municipality or a citizen acting for another.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
import hashlib
import hmac
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Select, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.actors import Actor
from vbostotte.audit import keys as audit_keys
from vbostotte.audit.keys import Keyring
from vbostotte.errors import InvalidInput, NotFound, PermissionDenied
from vbostotte.i18n import N_
from vbostotte.models import (
    Appointment,
    Citizen,
    ConsentEvent,
    ConsentHead,
    ConsentKind,
    ConsentVersion,
    DayTask,
    OutboxMessage,
    OutboxStatus,
    Staff,
    StaffRole,
)

GENESIS = "0" * 64
GIVEN, WITHDRAWN, NEVER = "given", "withdrawn", "never"


class Kind(str, enum.Enum):
    """The built-in kinds every municipality has. Administrators may add their own codes."""

    VIDEO = "video"
    SMS_REMINDERS = "sms_reminders"
    EMAIL_REMINDERS = "email_reminders"
    CASEWORKER_SHARING = "caseworker_sharing"
    RELATIVE_IN_CALLS = "relative_in_calls"
    WORKER_SEES_CHECKINS = "worker_sees_checkins"


class How(str, enum.Enum):
    IN_PERSON = "in_person"
    PHONE = "phone"
    VIDEO_CALL = "video_call"
    CITIZEN_PAGE = "citizen_page"
    MIGRATED = "migrated"  # copied from the reminder preference that consent replaced (migration 0006)


VERBAL = (How.IN_PERSON.value, How.PHONE.value, How.VIDEO_CALL.value)  # what a worker records
HOW_LABELS = {
    How.IN_PERSON.value: N_("in person"),
    How.PHONE.value: N_("by phone"),
    How.VIDEO_CALL.value: N_("in a video call"),
    How.CITIZEN_PAGE.value: N_("by the citizen on their own page"),
    How.MIGRATED.value: N_("from the earlier reminder setting"),
}
# The reminder channel each consent kind allows (outbox channel names).
CHANNEL_OF = {Kind.EMAIL_REMINDERS.value: "email", Kind.SMS_REMINDERS.value: "sms"}
CODE_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
TITLE_MAX, TEXT_MAX = 100, 1000


@dataclass(frozen=True)
class Text:
    title_da: str
    text_da: str
    title_en: str
    text_en: str


# The built-in kinds' first texts, in plain words. Municipalities change them (a new version) in /admin.
DEFAULT_KINDS: tuple[tuple[str, Text], ...] = (
    (
        Kind.VIDEO.value,
        Text(
            "Samtaler på video",
            "Jeg vil gerne tale med min bostøtte på video, på min telefon eller computer. "
            "Samtalen bliver ikke optaget.",
            "Video sessions",
            "I want to talk with my support worker by video, on my phone or computer. The call is not recorded.",
        ),
    ),
    (
        Kind.SMS_REMINDERS.value,
        Text(
            "Påmindelser på SMS",
            "Jeg vil gerne have en SMS før mine aftaler. Der står kun hvornår, ikke hvad aftalen handler om.",
            "Reminders by text message",
            "I want a text message before my appointments. It only says when, not what the appointment is about.",
        ),
    ),
    (
        Kind.EMAIL_REMINDERS.value,
        Text(
            "Påmindelser på e-mail",
            "Jeg vil gerne have en e-mail før mine aftaler. Der står kun hvornår, ikke hvad aftalen handler om.",
            "Reminders by e-mail",
            "I want an e-mail before my appointments. It only says when, not what the appointment is about.",
        ),
    ),
    (
        Kind.CASEWORKER_SHARING.value,
        Text(
            "Deling med min sagsbehandler",
            "Min bostøtte må fortælle min sagsbehandler i kommunen, hvordan det går med min støtte.",
            "Sharing with my caseworker",
            "My support worker may tell my caseworker at the municipality how my support is going.",
        ),
    ),
    (
        Kind.RELATIVE_IN_CALLS.value,
        Text(
            "En pårørende i samtalen",
            "En pårørende, som jeg selv vælger, må være med i mine videosamtaler med et link.",
            "A relative in the call",
            "A relative I choose myself may join my video sessions with a link.",
        ),
    ),
    (
        Kind.WORKER_SEES_CHECKINS.value,
        Text(
            "Min bostøtte ser hvordan jeg har det",
            'Min bostøtte må se mine svar på "Hvordan har du det i dag?" og min dagsplan.',
            "My support worker sees how I am doing",
            'My support worker may see my answers to "How are you today?" and my day plan.',
        ),
    ),
)


def text_sha256(text: Text) -> str:
    """SHA-256 of a version's text (both languages) in a canonical form; stored on the version and the event."""
    canonical = json.dumps(
        [text.title_da, text.text_da, text.title_en, text.text_en], ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def version_text(version: ConsentVersion) -> Text:
    return Text(version.title_da, version.text_da, version.title_en, version.text_en)


_FIELDS = (
    "municipality_id",
    "seq",
    "at",
    "citizen_id",
    "kind_id",
    "kind_code",
    "version_id",
    "version",
    "text_sha256",
    "action",
    "how",
    "recorded_by_kind",
    "recorded_by_id",
    "prev_hash",
)


def event_hash(event: ConsentEvent, key: bytes | None = None) -> str:
    """HMAC-SHA-256 with ``key`` over the event's fields, its key id and the previous hash, in the audit log's
    canonical form; without a key, the plain SHA-256 of an event made before keys (``key_id`` None)."""
    if key is None:
        return audit.row_hash(event, _FIELDS)
    return audit.row_hash(event, (*_FIELDS, "key_id"), key)


def _code(kind: str | enum.Enum) -> str:
    return kind.value if isinstance(kind, enum.Enum) else kind


# --- Kinds and their versions ---------------------------------------------------------------------


async def ensure_defaults(db: AsyncSession, municipality_id: int, now: dt.datetime) -> None:
    """Give a municipality its chain head and the built-in kinds it lacks (idempotent)."""
    if await db.get(ConsentHead, municipality_id) is None:
        db.add(ConsentHead(municipality_id=municipality_id, last_seq=0, last_hash=GENESIS))
    have = set(
        (await db.execute(select(ConsentKind.code).where(ConsentKind.municipality_id == municipality_id))).scalars()
    )
    for position, (code, text) in enumerate(DEFAULT_KINDS):
        if code not in have:
            await _add_kind(db, municipality_id, code, text, position, now, created_by_id=None)
    await db.flush()


async def _add_kind(
    db: AsyncSession,
    municipality_id: int,
    code: str,
    text: Text,
    position: int,
    now: dt.datetime,
    created_by_id: int | None,
) -> ConsentKind:
    kind = ConsentKind(municipality_id=municipality_id, code=code, position=position, created_at=now)
    db.add(kind)
    await db.flush()
    db.add(
        ConsentVersion(
            kind_id=kind.id,
            version=1,
            **text.__dict__,
            text_sha256=text_sha256(text),
            created_at=now,
            created_by_id=created_by_id,
        )
    )
    await db.flush()
    return kind


@functools.cache
def _latest_versions_statement() -> Select[ConsentKind, ConsentVersion]:
    """Built once: a subquery's column collection costs more to build than the query takes to run, and most pages
    a worker opens ask which consents are missing."""
    return _latest_versions_of(ConsentKind, ConsentVersion)


@functools.cache
def _latest_titles_statement() -> Select[str, str, str]:
    """:func:`_latest_versions_statement`, but only each kind's code and current titles (the worker's week, on every
    view: no objects made, no texts read)."""
    return _latest_versions_of(ConsentKind.code, ConsentVersion.title_da, ConsentVersion.title_en)


def _latest_versions_of(*columns) -> Select:
    newest = (
        select(ConsentVersion.kind_id, func.max(ConsentVersion.version).label("version"))
        .group_by(ConsentVersion.kind_id)
        .subquery()
    )
    return (
        select(*columns)
        .select_from(ConsentKind)
        .join(newest, newest.c.kind_id == ConsentKind.id)
        .join(ConsentVersion, (ConsentVersion.kind_id == ConsentKind.id) & (ConsentVersion.version == newest.c.version))
        .where(ConsentKind.municipality_id == bindparam("municipality_id"))
        .order_by(ConsentKind.position, ConsentKind.id)
    )


async def latest_versions(db: AsyncSession, municipality_id: int) -> list[tuple[ConsentKind, ConsentVersion]]:
    """Every kind of the municipality with its current text, in display order."""
    rows = await db.execute(_latest_versions_statement(), {"municipality_id": municipality_id})
    return [(kind, version) for kind, version in rows.all()]


async def list_kinds(db: AsyncSession, actor: Actor) -> list[tuple[ConsentKind, ConsentVersion]]:
    """For the administrator: the municipality's kinds and their current texts."""
    _require_admin(actor)
    return await latest_versions(db, actor.known_municipality_id)


async def history(db: AsyncSession, actor: Actor, kind_id: int) -> tuple[ConsentKind, list[ConsentVersion]]:
    """For the administrator: one kind and every version of its text, newest first."""
    kind = await _admin_kind(db, actor, kind_id)
    versions = (
        await db.execute(
            select(ConsentVersion).where(ConsentVersion.kind_id == kind.id).order_by(ConsentVersion.version.desc())
        )
    ).scalars()
    return kind, list(versions)


async def add_kind(db: AsyncSession, actor: Actor, code: str, text: Text, now: dt.datetime) -> ConsentKind:
    """The administrator adds a kind of consent with its own code (lower-case letters, digits, _)."""
    _require_admin(actor)
    _check_text(text)
    if not CODE_RE.match(code or ""):
        raise InvalidInput({"code": N_("Use 2 to 40 lower-case letters, digits or _, starting with a letter.")})
    exists_ = await db.execute(
        select(ConsentKind.id).where(ConsentKind.municipality_id == actor.municipality_id, ConsentKind.code == code)
    )
    if exists_.first():
        raise InvalidInput({"code": N_("A kind of consent with this code already exists.")})
    last = (
        await db.execute(
            select(func.max(ConsentKind.position)).where(ConsentKind.municipality_id == actor.municipality_id)
        )
    ).scalar() or 0
    kind = await _add_kind(db, actor.known_municipality_id, code, text, last + 1, now, created_by_id=actor.id)
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "consent_kind.create", audit.Purpose.ADMINISTRATION, object_type="consent_kind", object_id=kind.id
        ),
    )
    return kind


async def change_text(db: AsyncSession, actor: Actor, kind_id: int, text: Text, now: dt.datetime) -> ConsentVersion:
    """The administrator changes a kind's text: a new version (an unchanged text adds nothing)."""
    kind = await _admin_kind(db, actor, kind_id)
    _check_text(text)
    current = (
        await db.execute(
            select(ConsentVersion)
            .where(ConsentVersion.kind_id == kind.id)
            .order_by(ConsentVersion.version.desc())
            .limit(1)
        )
    ).scalar_one()
    if current.text_sha256 == text_sha256(text):
        return current
    version = ConsentVersion(
        kind_id=kind.id,
        version=current.version + 1,
        **text.__dict__,
        text_sha256=text_sha256(text),
        created_at=now,
        created_by_id=actor.id,
    )
    db.add(version)
    await db.flush()
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "consent_kind.new_version", audit.Purpose.ADMINISTRATION, object_type="consent_kind", object_id=kind.id
        ),
    )
    return version


def _require_admin(actor: Actor) -> None:
    if not actor.has_role(StaffRole.ADMIN):
        raise PermissionDenied()


async def _admin_kind(db: AsyncSession, actor: Actor, kind_id: int) -> ConsentKind:
    _require_admin(actor)
    kind = await db.get(ConsentKind, kind_id)
    if kind is None or kind.municipality_id != actor.municipality_id:
        raise NotFound()
    return kind


def _check_text(text: Text) -> None:
    errors = {}
    for name, limit in (("title_da", TITLE_MAX), ("text_da", TEXT_MAX), ("title_en", TITLE_MAX), ("text_en", TEXT_MAX)):
        value = getattr(text, name)
        if not value or not value.strip():
            errors[name] = N_("This field is required.")
        elif len(value) > limit:
            errors[name] = N_("This field is too long.")
    if errors:
        raise InvalidInput(errors)


# --- Events and the state derived from them -------------------------------------------------------


@dataclass(frozen=True)
class ConsentState:
    """One kind for one citizen: the current text, and what the latest event says about it."""

    kind: str  # the kind's code
    kind_id: int
    current: ConsentVersion  # the kind's text now
    state: str  # given | withdrawn | never
    version: int | None = None  # the version the latest event was on
    text_sha256: str | None = None
    at: dt.datetime | None = None
    how: str | None = None
    recorded_by_kind: str | None = None  # staff | citizen | system
    recorded_by: str | None = None  # the staff member's name, when a worker recorded it

    @property
    def given(self) -> bool:
        return self.state == GIVEN

    @property
    def verbal(self) -> bool:
        """Recorded by a worker from what the citizen said (in person, by phone, in a video call)."""
        return self.how in VERBAL

    @property
    def outdated(self) -> bool:
        """Given on an older text than the current one (still valid; the worker may ask again)."""
        return self.given and self.version != self.current.version

    def title(self, locale: str) -> str:
        return self.current.title_en if locale == "en" else self.current.title_da

    def text(self, locale: str) -> str:
        return self.current.text_en if locale == "en" else self.current.text_da


async def _latest_events(db: AsyncSession, citizen_ids: Iterable[int]) -> dict[tuple[int, str], ConsentEvent]:
    """The latest event per (citizen, kind code)."""
    ids = list(citizen_ids)
    if not ids:
        return {}
    rows = (
        await db.execute(select(ConsentEvent).where(ConsentEvent.citizen_id.in_(ids)).order_by(ConsentEvent.seq))
    ).scalars()
    return {(event.citizen_id, event.kind_code): event for event in rows}


async def has(db: AsyncSession, citizen_id: int, kind: str) -> bool:
    """Whether the citizen's consent of this kind is given now (the latest event for it wins)."""
    stmt = (
        select(ConsentEvent.action)
        .where(ConsentEvent.citizen_id == citizen_id, ConsentEvent.kind_code == _code(kind))
        .order_by(ConsentEvent.seq.desc())
        .limit(1)
    )
    return (await db.execute(stmt)).scalar() == GIVEN


async def reminder_channels(db: AsyncSession, citizen_id: int) -> list[str]:
    """The channels the citizen consents to be reminded on now, e-mail first: the one place the outbox reads
    consent (``reminders.outbox`` when planning, ``reminders.sender`` again at send time)."""
    return [
        channel
        for kind, channel in sorted(CHANNEL_OF.items(), key=lambda item: item[1])
        if await has(db, citizen_id, kind)
    ]


async def drop_reminders(db: AsyncSession, citizen_id: int, channel: str, reason: str) -> None:
    """Drop the citizen's pending reminders on a channel they no longer agree to (at once, in the caller's
    transaction), keeping the reason on each row. The outbox's rows, marked here so that withdrawing needs no
    import of ``reminders`` (which depends on consent, not the other way round)."""
    appointments = select(Appointment.id).where(Appointment.citizen_id == citizen_id)
    day_tasks = select(DayTask.id).where(DayTask.citizen_id == citizen_id)
    await db.execute(
        update(OutboxMessage)
        .where(
            or_(OutboxMessage.appointment_id.in_(appointments), OutboxMessage.day_task_id.in_(day_tasks)),
            OutboxMessage.channel == channel,
            OutboxMessage.recipient_kind == "citizen",
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(status=OutboxStatus.DROPPED, last_error=reason)
    )


async def current(db: AsyncSession, citizen_id: int) -> list[ConsentState]:
    """Every kind of the citizen's municipality with its current state (given, withdrawn or never)."""
    citizen = await db.get(Citizen, citizen_id)
    if citizen is None:
        raise NotFound()
    latest = await _latest_events(db, [citizen_id])
    staff_ids = {e.recorded_by_id for e in latest.values() if e.recorded_by_kind == "staff"}
    names = (
        dict((await db.execute(select(Staff.id, Staff.name).where(Staff.id.in_(staff_ids)))).all()) if staff_ids else {}
    )
    states = []
    for kind, version in await latest_versions(db, citizen.municipality_id):
        event = latest.get((citizen_id, kind.code))
        if event is None:
            states.append(ConsentState(kind.code, kind.id, version, NEVER))
            continue
        states.append(
            ConsentState(
                kind.code,
                kind.id,
                version,
                event.action,
                event.version,
                event.text_sha256,
                event.at,
                event.how,
                event.recorded_by_kind,
                names.get(event.recorded_by_id)
                if event.recorded_by_kind == "staff" and event.recorded_by_id is not None
                else None,
            )
        )
    return states


@functools.cache
def _latest_actions_statement() -> Select[int, str, str]:
    """Built once: each event's citizen, kind and action, in order (the last per citizen and kind wins)."""
    return (
        select(ConsentEvent.citizen_id, ConsentEvent.kind_code, ConsentEvent.action)
        .where(ConsentEvent.citizen_id.in_(bindparam("citizen_ids", expanding=True)))
        .order_by(ConsentEvent.seq)
    )


async def _latest_actions(db: AsyncSession, ids: list[int]) -> dict[tuple[int, str], str]:
    """The latest action per (citizen, kind code)."""
    rows = await db.execute(_latest_actions_statement(), {"citizen_ids": ids})
    return {(citizen_id, code): action for citizen_id, code, action in rows}


def _not_given(citizen_id: int, codes: list[str], latest: dict[tuple[int, str], str]) -> list[str]:
    """Of these kind codes, those the citizen has not given now (never asked, or withdrawn)."""
    return [code for code in codes if latest.get((citizen_id, code)) != GIVEN]


async def missing(db: AsyncSession, citizen_ids: Iterable[int]) -> dict[int, list[str]]:
    """For each citizen (e.g. a caseload), the kind codes not given now (never asked, or withdrawn)."""
    ids = list(citizen_ids)
    if not ids:
        return {}
    municipality_of = dict(
        (await db.execute(select(Citizen.id, Citizen.municipality_id).where(Citizen.id.in_(ids)))).all()
    )
    kinds: dict[int, list[str]] = {}
    for municipality_id in set(municipality_of.values()):
        kinds[municipality_id] = [k.code for k, _ in await latest_versions(db, municipality_id)]
    latest = await _latest_actions(db, ids)
    return {
        citizen_id: _not_given(citizen_id, kinds[municipality_of[citizen_id]], latest)
        for citizen_id in ids
        if citizen_id in municipality_of
    }


async def give(
    db: AsyncSession, actor: Actor, citizen_id: int, kind: str, how: str, now: dt.datetime
) -> ConsentEvent | None:
    """Record that the citizen gives this consent (on the current text). Giving again on the same text adds
    nothing (None); giving on a newer text than before adds an event on the new version."""
    return await _record(db, actor, citizen_id, _code(kind), GIVEN, _code(how), now)


async def withdraw(
    db: AsyncSession, actor: Actor, citizen_id: int, kind: str, how: str, now: dt.datetime
) -> ConsentEvent | None:
    """Record that the citizen withdraws this consent, taking effect at once: pending reminders on that
    channel are dropped in the same transaction. Withdrawing what is not given adds nothing (None)."""
    event = await _record(db, actor, citizen_id, _code(kind), WITHDRAWN, _code(how), now)
    channel = CHANNEL_OF.get(_code(kind))
    if event is not None and channel:
        await drop_reminders(db, citizen_id, channel, reason="consent withdrawn")
    return event


def _check_how(actor: Actor, citizen: Citizen, how: str) -> None:
    if actor.is_citizen:
        allowed: tuple[str, ...] = (How.CITIZEN_PAGE.value,)
        if actor.id != citizen.id:
            raise NotFound()
    elif actor.is_staff:
        if not actor.has_role(StaffRole.WORKER):
            raise PermissionDenied()  # the citizen's worker records; administrators do not handle citizens' data
        allowed = VERBAL
    elif actor.kind == "system":
        allowed = tuple(h.value for h in How)
    else:
        raise PermissionDenied()
    if actor.kind != "system" or actor.municipality_id is not None:
        if citizen.municipality_id != actor.municipality_id:
            raise NotFound()
    if how not in allowed:
        raise InvalidInput({"how": N_("Choose one of the options.")})


async def _record(
    db: AsyncSession, actor: Actor, citizen_id: int, code: str, action: str, how: str, now: dt.datetime
) -> ConsentEvent | None:
    citizen = await db.get(Citizen, citizen_id)
    if citizen is None:
        raise NotFound()
    _check_how(actor, citizen, how)
    kind = (
        await db.execute(
            select(ConsentKind).where(ConsentKind.municipality_id == citizen.municipality_id, ConsentKind.code == code)
        )
    ).scalar_one_or_none()
    if kind is None:
        raise InvalidInput({"kind": N_("Choose one of the options.")})
    # Lock the chain head first (PostgreSQL; SQLite's BEGIN IMMEDIATE already serialises writers), so the
    # state read below cannot change before the event is appended.
    head = (
        await db.execute(
            select(ConsentHead).where(ConsentHead.municipality_id == citizen.municipality_id).with_for_update()
        )
    ).scalar_one()
    version = (
        await db.execute(
            select(ConsentVersion)
            .where(ConsentVersion.kind_id == kind.id)
            .order_by(ConsentVersion.version.desc())
            .limit(1)
        )
    ).scalar_one()
    last = (
        await db.execute(
            select(ConsentEvent)
            .where(ConsentEvent.citizen_id == citizen.id, ConsentEvent.kind_id == kind.id)
            .order_by(ConsentEvent.seq.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if action == WITHDRAWN and (last is None or last.action == WITHDRAWN):
        return None
    if action == GIVEN and last is not None and last.action == GIVEN and last.version_id == version.id:
        return None
    key_id, key = audit_keys.of_session(db).current("consent")
    event = ConsentEvent(
        municipality_id=citizen.municipality_id,
        seq=head.last_seq + 1,
        at=now,
        citizen_id=citizen.id,
        kind_id=kind.id,
        kind_code=kind.code,
        version_id=version.id,
        version=version.version,
        text_sha256=version.text_sha256,
        action=action,
        how=how,
        recorded_by_kind=actor.kind,
        recorded_by_id=actor.id,
        prev_hash=head.last_hash,
        key_id=key_id,
    )
    event.hash = event_hash(event, key)
    db.add(event)
    head.last_seq, head.last_hash = event.seq, event.hash
    await db.flush()
    purpose = audit.Purpose.SELF_SERVICE if actor.is_citizen else audit.Purpose.SUPPORT
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            f"consent.{'give' if action == GIVEN else 'withdraw'}",
            purpose,
            citizen_id=citizen.id,
            object_type="consent_event",
            object_id=event.id,
        ),
        clock=lambda: now,
    )
    return event


# --- Verifying the chain --------------------------------------------------------------------------


@dataclass(frozen=True)
class Broken:
    """The first consent event that does not fit its municipality's chain."""

    municipality_id: int
    seq: int
    event_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"event {self.event_id}" if self.event_id is not None else "an event"
        return (
            f"consent chain BROKEN in municipality {self.municipality_id} at {where} (number {self.seq}): {self.reason}"
        )


async def verify_chain(
    db: AsyncSession, batch: int = 5000, *, keyring: Keyring | None = None, anchors: Iterable = ()
) -> Broken | None:
    """Walk each municipality's chain in order; the first event that does not fit, or None when all is well.

    Checks each event against the keys (``keyring``, by default the session's; an unkeyed event only before the
    chain's first keyed one) and the ``anchors`` given (``audit_anchors.read``: an anchored event missing or
    different). Also checks that each event's text hash is its version's, and that the version's text still
    hashes to it (a text edited in place is found too)."""
    keyring = keyring or audit_keys.of_session(db)
    anchors = list(anchors)
    heads = [
        (h.municipality_id, h.last_seq, h.last_hash)
        for h in (await db.execute(select(ConsentHead).order_by(ConsentHead.municipality_id))).scalars().all()
    ]
    orphan = (
        await db.execute(
            select(ConsentEvent)
            .where(ConsentEvent.municipality_id.not_in([m for m, _, _ in heads]))
            .order_by(ConsentEvent.id)
            .limit(1)
        )
    ).scalar_one_or_none()
    if orphan is not None:
        return Broken(orphan.municipality_id, orphan.seq, orphan.id, "its municipality has no chain head")
    gone = sorted({a.municipality_id for a in anchors if a.chain == "consent"} - {m for m, _, _ in heads})
    if gone:
        lost = audit.anchored(anchors, "consent", gone[0])
        return Broken(
            gone[0],
            max(lost),
            None,
            f"truncated: the municipality's chain head is gone, but number "
            f"{max(lost)} was anchored at {lost[max(lost)][-1].at}",
        )
    versions: dict[int, str] = {}
    for municipality_id, last_seq, last_hash in heads:
        by_seq = audit.anchored(anchors, "consent", municipality_id)
        prev_hash, expected, keyed_before = GENESIS, 1, False
        while True:
            rows = (
                (
                    await db.execute(
                        select(ConsentEvent)
                        .where(ConsentEvent.municipality_id == municipality_id, ConsentEvent.seq >= expected)
                        .order_by(ConsentEvent.seq)
                        .limit(batch)
                    )
                )
                .scalars()
                .all()
            )
            if not rows:
                break
            for event in rows:
                if event.seq != expected:
                    return Broken(municipality_id, expected, None, f"event number {expected} is missing")
                if event.prev_hash != prev_hash:
                    return Broken(municipality_id, event.seq, event.id, "does not link to the event before it")
                key, refused = audit.check_key(keyring, event.key_id, keyed_before, "consent")
                if refused:
                    return Broken(municipality_id, event.seq, event.id, refused)
                if not hmac.compare_digest(event_hash(event, key), event.hash):
                    return Broken(municipality_id, event.seq, event.id, "its content was changed")
                if event.seq in by_seq:
                    differs = audit.replaced(by_seq[event.seq], event.hash)
                    if differs:
                        return Broken(municipality_id, event.seq, event.id, differs)
                if event.version_id not in versions:
                    version = await db.get(ConsentVersion, event.version_id)
                    versions[event.version_id] = text_sha256(version_text(version)) if version is not None else ""
                if versions[event.version_id] != event.text_sha256:
                    return Broken(municipality_id, event.seq, event.id, "the text it was given on was changed")
                keyed_before = keyed_before or event.key_id is not None
                prev_hash, expected = event.hash, expected + 1
            db.expunge_all()
        if expected - 1 != last_seq or prev_hash != last_hash:
            return Broken(
                municipality_id,
                expected if last_seq >= expected else last_seq,
                None,
                "the chain ends before the recorded head (events removed at the end)",
            )
        cut = audit.truncated(by_seq, expected - 1, "event number")
        if cut is not None:
            return Broken(municipality_id, expected, None, cut[1])
    return None


async def count_events(db: AsyncSession) -> int:
    return (await db.execute(select(func.count()).select_from(ConsentEvent))).scalar_one()


# --- Reads for the pages (audit-logged) -----------------------------------------------------------


async def read_states(db: AsyncSession, actor: Actor, citizen_id: int, purpose: str) -> list[ConsentState]:
    """:func:`current` for a page, recorded in the audit log (the caller has authorised the citizen)."""
    states = await current(db, citizen_id)
    await audit.record(db, actor, audit.AuditEvent("consent.list", purpose, citizen_id=citizen_id))
    return states


async def read_missing(
    db: AsyncSession, actor: Actor, caseload: Sequence[Citizen], locale: str
) -> tuple[dict[int, list[str]], dict[str, str]]:
    """For the worker's caseload overview: :func:`missing` for the ``caseload`` (citizens ``actor`` may see, so of
    the actor's municipality), and each kind's current title in ``locale`` by code, from one read of the kinds;
    recorded in the audit log as one read."""
    kinds = (await db.execute(_latest_titles_statement(), {"municipality_id": actor.known_municipality_id})).all()
    ids = [citizen.id for citizen in caseload if citizen.municipality_id == actor.municipality_id]
    codes, latest = [code for code, _, _ in kinds], await _latest_actions(db, ids) if ids else {}
    result = {citizen_id: _not_given(citizen_id, codes, latest) for citizen_id in ids}
    await audit.record(db, actor, audit.AuditEvent("consent.overview", audit.Purpose.CASELOAD_OVERVIEW))
    return result, {code: (title_en if locale == "en" else title_da) for code, title_da, title_en in kinds}
