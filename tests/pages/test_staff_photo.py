"""A worker's own photo (issue 12): added on their account page, checked by its content (JPEG, PNG or WebP; a wrong
type, a broken file or too large a file is refused with a Danish message and nothing is kept), re-encoded small and
without its metadata, shown in the waiting room of their citizens' calls; served only to the worker, colleagues who
share a team with them, their administrator, their citizens and the guests of their calls (404 for anyone else, the
refusal audit-logged), privately cached; removed again with one button."""

from __future__ import annotations

import io

from aiohttp import FormData
from PIL import Image
from sqlalchemy import select

from vbostotte.calls import guests
from vbostotte.identity import photos
from vbostotte.models import AuditEntry, GuestLink, StaffPhoto
from vbostotte.web.keys import SETTINGS

from support import read_in_english, reread, text_of


def picture(fmt: str = "JPEG", size=(900, 700), mode: str = "RGB", exif: bool = False, **options) -> bytes:
    """A real picture in ``fmt``; with ``exif`` it carries a camera make and a GPS position, as a phone's does."""
    image = Image.new(mode, size, (200, 120, 40, 128)[: len(mode)] if mode != "L" else 128)
    out = io.BytesIO()
    if exif:
        tags = Image.Exif()
        tags[0x010F] = "PhoneMaker"  # Make
        tags[0x0132] = "2026:11:23 08:00:00"  # DateTime
        tags[0x8825] = {1: "N", 2: (56.0, 9.0, 0.0)}  # GPSInfo
        options["exif"] = tags
    image.save(out, fmt, **options)
    return out.getvalue()


async def upload(web, content: bytes, filename: str = "me.jpg", content_type: str = "image/jpeg"):
    """Post the account page's form with one file, as a browser does (multipart, CSRF token, Origin)."""
    form = FormData()
    form.add_field("csrf_token", await web.csrf_from("/account/photo"))
    form.add_field("photo", content, filename=filename, content_type=content_type)
    return await web.client.post("/account/photo", data=form, headers={"Origin": web.origin}, allow_redirects=False)


async def stored(db, staff_id: int) -> StaffPhoto | None:
    await reread(db)
    return await db.get(StaffPhoto, staff_id)


async def actions(db, action: str) -> list[tuple]:
    await reread(db)
    rows = await db.execute(
        select(AuditEntry.actor_kind, AuditEntry.actor_id, AuditEntry.outcome, AuditEntry.object_id).where(
            AuditEntry.action == action
        )
    )
    return [tuple(r) for r in rows]


async def test_a_worker_adds_a_photo_and_their_citizen_sees_it_in_the_waiting_room(world, web, other_web, db, clock):
    read_in_english(web, other_web)
    a = world.a
    await web.login(a.worker)
    assert "You have no photo yet." in text_of(await web.page("/account/photo"))
    original = picture(exif=True)
    assert b"PhoneMaker" in original

    saved = await upload(web, original)
    assert saved.status == 303 and saved.headers["Location"] == "/account/photo?done=saved"
    page = await web.page("/account/photo?done=saved")
    assert "Your photo is saved." in text_of(page) and f'src="/staff/{a.worker.id}/photo?v=' in page
    row = await stored(db, a.worker.id)
    assert row is not None and row.content_type == "image/jpeg" and row.municipality_id == a.id
    data = row.data
    kept = Image.open(io.BytesIO(data))
    assert kept.format == "JPEG" and max(kept.size) == photos.SIDE  # 900x700 made 512 wide
    assert b"PhoneMaker" not in data and not kept.getexif() and "exif" not in kept.info
    assert await actions(db, photos.SET) == [("staff", a.worker.id, "allowed", a.worker.id)]

    # The citizen, signed in with their link, sees the photo, and it is cached privately only.
    await other_web.open_link(a.citizen.link_token)
    shown = await other_web.get(f"/staff/{a.worker.id}/photo")
    assert shown.status == 200 and shown.content_type == "image/jpeg"
    assert await shown.read() == data
    assert shown.headers["Cache-Control"] == "private, no-cache"
    again = await other_web.get(f"/staff/{a.worker.id}/photo", headers={"If-None-Match": shown.headers["ETag"]})
    assert again.status == 304

    # …and in the call's waiting room: the worker's first name and photo, the time.
    clock.advance(days=1, minutes=-10)
    call = await other_web.page(f"/calls/{a.citizen.appointment_id}")
    assert f'src="/staff/{a.worker.id}/photo?v=' in call and 'alt="Photo of Worker"' in call
    lobby = text_of(call.split('id="lobby"', 1)[1].split("</section>", 1)[0] + "</main>")
    assert "Worker will let you in shortly." in lobby and "The session is at 08:00." in lobby
    assert 'data-help-after="300"' in call

    # The worker removes it: gone for everyone, and the waiting room shows the initial instead.
    await web.login(a.worker)
    removed = await web.post("/account/photo/remove", {}, from_page="/account/photo")
    assert removed.status == 303 and removed.headers["Location"] == "/account/photo?done=removed"
    assert await stored(db, a.worker.id) is None
    assert (await other_web.get(f"/staff/{a.worker.id}/photo")).status == 404
    assert "/photo?v=" not in await other_web.page(f"/calls/{a.citizen.appointment_id}")
    assert await actions(db, photos.REMOVE) == [("staff", a.worker.id, "allowed", a.worker.id)]


async def test_png_and_webp_are_taken_and_kept_as_small_jpegs(world, web, db):
    await web.login(world.a.worker)
    for content, name, kind in (
        (picture("PNG", (300, 600), "RGBA"), "me.png", "image/png"),
        (picture("WEBP", (1000, 1000)), "me.webp", "image/webp"),
    ):
        assert (await upload(web, content, name, kind)).status == 303
        kept = Image.open(io.BytesIO((await stored(db, world.a.worker.id)).data))
        assert kept.format == "JPEG" and kept.mode == "RGB" and max(kept.size) <= photos.SIDE


async def test_what_is_not_a_usable_photo_is_refused_in_danish_and_nothing_is_kept(world, web, db):
    await web.login(world.a.worker)
    not_a_photo = "Det er ikke et billede, vi kan bruge. Vælg et JPEG-, PNG- eller WebP-billede."
    gif = io.BytesIO()
    Image.new("RGB", (50, 50)).save(gif, "GIF")
    jpeg = picture()
    cases = [
        (b"<script>alert(1)</script>" * 10, "me.jpg", "image/jpeg", not_a_photo),  # a type claimed, not the content
        (gif.getvalue(), "me.gif", "image/gif", not_a_photo),  # a picture, but not a type we take
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 500, "me.png", "image/png", not_a_photo),  # a PNG's start, then nothing
        (jpeg[:-400], "me.jpg", "image/jpeg", not_a_photo),  # a broken JPEG
        (picture("PNG")[:8] + jpeg, "me.png", "image/png", not_a_photo),  # a PNG's signature on a JPEG
        (b"", "me.jpg", "image/jpeg", "Vælg et billede."),
        (jpeg + b"\x00" * (photos.MAX_BYTES + 1 - len(jpeg)), "big.jpg", "image/jpeg", "Billedet er for stort."),
    ]
    for content, name, kind, message in cases:
        refused = await upload(web, content, name, kind)
        assert refused.status == 422, (name, refused.status)
        assert message in text_of(await refused.text()), name
    huge = await upload(web, jpeg + b"\x00" * 300_000)  # past what any form may send
    assert huge.status == 413
    assert await stored(db, world.a.worker.id) is None
    assert await actions(db, photos.SET) == []


async def test_only_the_workers_citizens_guests_and_colleagues_see_the_photo(world, web, other_web, db, clock):
    a, b = world.a, world.b
    await web.login(a.worker)
    assert (await upload(web, picture())).status == 303
    address = f"/staff/{a.worker.id}/photo"

    allowed = [a.worker, a.other_worker, a.supervisor, a.admin]  # themselves, their team, their administrator
    for who in allowed:
        await other_web.login(who)
        assert (await other_web.get(address)).status == 200, who.email
    await other_web.open_link(a.citizen.link_token)  # on the worker's caseload
    assert (await other_web.get(address)).status == 200

    await reread(db)
    refused = []
    await other_web.open_link(a.other_citizen.link_token)  # another worker's citizen, no appointment with this one
    refused.append(await other_web.get(address))
    for who in (b.worker, b.admin):  # another municipality
        await other_web.login(who)
        refused.append(await other_web.get(address))
    assert [r.status for r in refused] == [404, 404, 404]
    assert len(await actions(db, photos.READ)) == 3  # each refusal is in the access log
    assert {outcome for _, _, outcome, _ in await actions(db, photos.READ)} == {"denied"}

    await other_web.post("/logout", {}, from_page="/")
    nobody = await other_web.get(address)
    assert nobody.status in (302, 303, 401) and nobody.content_type != "image/jpeg"


async def test_a_guest_of_the_workers_call_sees_the_photo_through_the_link_only(world, web, other_web, db, clock):
    a = world.a
    await web.login(a.worker)
    assert (await upload(web, picture())).status == 303
    made = await web.post(
        f"/calls/{a.citizen.appointment_id}/guests", {"kind": "relative", "name": "Bo Holm"}, from_page="/worker"
    )
    assert made.status == 303
    page = await web.page(f"/calls/{a.citizen.appointment_id}")
    token = page.split("/g/", 1)[1].split("<", 1)[0]
    clock.advance(days=1, minutes=-10)
    guest_page = await other_web.page(f"/g/{token}")
    assert f'src="/g/{token}/photo?v=' in guest_page
    shown = await other_web.get(f"/g/{token}/photo")
    assert shown.status == 200 and shown.headers["Cache-Control"] == "private, no-cache"
    assert (await other_web.get(f"/staff/{a.worker.id}/photo")).status != 200  # no session: not by the staff address
    assert (await other_web.get("/g/" + "x" * 40 + "/photo")).status == 404

    await reread(db)
    link = (
        await db.execute(select(GuestLink).where(GuestLink.appointment_id == a.citizen.appointment_id))
    ).scalar_one()
    assert guests.token_for(link, web.client.server.app[SETTINGS].secret_key) == token
    await web.login(a.worker)  # a day later: signed in again
    stopped = await web.post(
        f"/calls/{a.citizen.appointment_id}/guests/revoke", {"kind": "relative"}, from_page="/worker"
    )
    assert stopped.status == 303
    assert (await other_web.get(f"/g/{token}/photo")).status == 404
