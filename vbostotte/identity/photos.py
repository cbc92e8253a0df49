"""A staff member's own photo, shown to their citizens in the call's waiting room ("Anna lukker dig ind").

The photo is never public. It is shown to the worker themselves, to colleagues who share a team with them and to
their municipality's administrators; to a citizen on their caseload or with an appointment with them (signed in
with their personal link); and to a guest of one of their appointments (through the guest link). Anyone else is
told the photo does not exist (404), and the refused attempt is audit-logged, as a refused citizen read is.

An upload is checked by its content, not its name or the type the browser claims: its first bytes must be a JPEG,
PNG or WebP file and Pillow must read it as the same. It is then re-encoded as a JPEG of at most ``SIDE`` pixels a
side, turned upright by its orientation tag, without any of its metadata (camera, place, time); only the
re-encoded bytes are kept, in the database (``staff_photos``), so every process and every backup has them.
"""

from __future__ import annotations

import datetime as dt
import io
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import exists, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from vbostotte import access, audit
from vbostotte.actors import Actor
from vbostotte.errors import InvalidInput, NotFound
from vbostotte.i18n import N_
from vbostotte.models import Appointment, Caseload, StaffPhoto, StaffRole, TeamMember

if TYPE_CHECKING:
    from PIL.Image import Image as Picture

FIELD = "photo"
MAX_BYTES = 200_000  # the file as sent (the page makes a large photo smaller before sending it)
MAX_PIXELS = 40_000_000  # a larger picture is refused before it is decoded (a "decompression bomb")
SIDE = 512  # the kept photo's longest side, in pixels
CONTENT_TYPE = "image/jpeg"  # what is kept and served, whatever was sent
# The first bytes of each accepted format, and the name Pillow gives it: both must agree.
SIGNATURES = {
    "JPEG": (b"\xff\xd8\xff",),
    "PNG": (b"\x89PNG\r\n\x1a\n",),
    "WEBP": (b"RIFF",),  # and "WEBP" at offset 8, checked below
}
NOT_A_PHOTO = N_("This is not a photo we can use. Choose a JPEG, PNG or WebP picture.")
SET, REMOVE, READ = "staff.photo_set", "staff.photo_remove", "staff.photo_read"  # audit actions


class PhotoInvalid(InvalidInput):
    def __init__(self, message: str) -> None:
        super().__init__({FIELD: message}, message)


@dataclass(frozen=True)
class Photo:
    """A photo as it is served: its bytes, type and a version (changes whenever the photo does)."""

    data: bytes
    content_type: str
    version: str


def _format_of(data: bytes) -> str | None:
    """The accepted format the file's first bytes announce, or None."""
    for name, prefixes in SIGNATURES.items():
        if any(data.startswith(p) for p in prefixes):
            if name == "WEBP" and data[8:12] != b"WEBP":
                return None
            return name
    return None


def clean(data: bytes) -> bytes:
    """The upload as a small upright JPEG without metadata; PhotoInvalid if it is not a JPEG, PNG or WebP picture
    (judged by its content) or is too large."""
    if not data:
        raise PhotoInvalid(N_("Choose a photo."))
    if len(data) > MAX_BYTES:
        raise PhotoInvalid(N_("The photo is too large. Choose one of at most 200 kB."))
    announced = _format_of(data)
    if announced is None:
        raise PhotoInvalid(NOT_A_PHOTO)
    from PIL import Image, ImageOps, UnidentifiedImageError  # only here: importing the app stays light

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            read_as = "JPEG" if image.format == "MPO" else image.format  # a phone's JPEG with a second picture
            if read_as != announced or width * height > MAX_PIXELS or min(width, height) < 1:
                raise PhotoInvalid(NOT_A_PHOTO)
            image.load()
            upright = ImageOps.exif_transpose(image)
            picture = _flatten(upright)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError, SyntaxError):
        raise PhotoInvalid(NOT_A_PHOTO) from None
    picture.thumbnail((SIDE, SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # A fresh image has no EXIF, ICC profile or comments: nothing of the original's metadata is written.
    picture.save(out, "JPEG", quality=85, optimize=True)
    return out.getvalue()


def _flatten(image: Picture) -> Picture:
    """The picture's pixels alone, as RGB on white (a transparent PNG gets a white background)."""
    from PIL import Image

    rgba = image.convert("RGBA")
    flat = Image.new("RGB", rgba.size, (255, 255, 255))
    flat.paste(rgba, mask=rgba.getchannel("A"))
    return flat


def _version(photo: StaffPhoto) -> str:
    return str(int(photo.updated_at.timestamp() * 1000))


async def _row(db: AsyncSession, staff_id: int) -> StaffPhoto | None:
    return await db.get(StaffPhoto, staff_id)


async def set_own(db: AsyncSession, who: Actor, data: bytes, now: dt.datetime) -> None:
    """The staff member's own photo, replacing any earlier one (checked and re-encoded first)."""
    access.require_staff(who)
    cleaned = clean(data)
    row = await _row(db, who.known_id)
    if row is None:
        row = StaffPhoto(staff_id=who.known_id, municipality_id=who.known_municipality_id)
        db.add(row)
    row.data, row.content_type, row.updated_at = cleaned, CONTENT_TYPE, now
    await db.flush()
    await audit.record(db, who, _event(SET, who.known_id))


async def remove_own(db: AsyncSession, who: Actor) -> bool:
    """Take the staff member's own photo away; False if there was none."""
    access.require_staff(who)
    row = await _row(db, who.known_id)
    if row is None:
        return False
    await db.delete(row)
    await db.flush()
    await audit.record(db, who, _event(REMOVE, who.known_id))
    return True


async def version_of(db: AsyncSession, staff_id: int) -> str | None:
    """The version of the staff member's photo (for its address, so a new photo is fetched anew), or None."""
    updated = await db.scalar(select(StaffPhoto.updated_at).where(StaffPhoto.staff_id == staff_id))
    return str(int(updated.timestamp() * 1000)) if updated is not None else None


async def own(db: AsyncSession, who: Actor) -> str | None:
    """The version of the staff member's own photo, or None (for their account page)."""
    access.require_staff(who)
    return await version_of(db, who.known_id)


async def shown_to(db: AsyncSession, who: Actor, staff_id: int) -> Photo:
    """The staff member's photo, if ``who`` may see it (module docstring); NotFound otherwise (refusals are
    audit-logged)."""
    row = await _row(db, staff_id)
    if row is None or who.municipality_id != row.municipality_id or not await _may_see(db, who, staff_id):
        event = _event(READ, staff_id, audit.DENIED)
        raise NotFound().then(lambda fresh: audit.record(fresh, who, event))
    return Photo(row.data, row.content_type, _version(row))


async def shown_to_guest(db: AsyncSession, appointment: Appointment) -> Photo:
    """The photo of the worker of the appointment a guest's link is for (the link was checked by the caller)."""
    row = await _row(db, appointment.worker_id)
    if row is None:
        raise NotFound()
    return Photo(row.data, row.content_type, _version(row))


async def _may_see(db: AsyncSession, who: Actor, staff_id: int) -> bool:
    if who.is_staff:
        if who.id == staff_id or who.has_role(StaffRole.ADMIN):
            return True
        mine, theirs = aliased(TeamMember), aliased(TeamMember)
        shared = select(mine.team_id).join(theirs, theirs.team_id == mine.team_id)
        shared = shared.where(mine.staff_id == who.id, theirs.staff_id == staff_id)
        return await db.scalar(select(exists(shared))) or False
    if who.is_citizen:
        caseload = exists().where(Caseload.citizen_id == who.id, Caseload.staff_id == staff_id)
        booked = exists().where(
            Appointment.citizen_id == who.id, Appointment.worker_id == staff_id, Appointment.cancelled_at.is_(None)
        )
        return await db.scalar(select(or_(caseload, booked))) or False
    return False


def _event(action: str, staff_id: int, outcome: str = audit.ALLOWED) -> audit.AuditEvent:
    return audit.AuditEvent(action, audit.Purpose.ADMINISTRATION, outcome, object_type="staff", object_id=staff_id)
