"""The guided check and the waiting room (issue 12), in Chromium with a fake camera and microphone.

Before joining: Join is on the first screen at 360×740 without scrolling, whatever the check shows; the check marks
the own picture, a microphone that reacts, and a test sound answered "Nej" (short help) and then "Ja" ("Du er klar",
the focus on Join); a refused camera keeps the per-browser help and the sound-only way in, and the check still runs.
From the personal link to the waiting room takes one tap (Join: while the call is open the link opens it) and no
scrolling. The waiting room shows who lets you in (the worker's first name and photo), the time, the worker's message in large text and, after a while (shortened
here through the page's data attribute), the team's number to call. The worker adds and removes the photo on their
account page at 1280×800, with a preview; a large photo is made smaller in the browser first. axe-core checks each
state. With VB_SCREENSHOTS=1 the screens are saved to docs/screenshots/."""

from __future__ import annotations

import io
import re

import pytest
import pytest_asyncio
from PIL import Image
from playwright.async_api import expect

from vbostotte.identity import photos
from vbostotte.models import StaffPhoto, Team

from browser.test_call_screen import GEOMETRY, PORTRAIT, SIZES, accessible
from browser.test_video_call import CAMERA_BLOCKED, open_page, worker_in_call

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

LAPTOP = {"width": 1280, "height": 800}
# Where an element is, and whether the page has been scrolled or is taller than the screen.
BOX = """(id) => {
  const box = document.getElementById(id).getBoundingClientRect();
  const doc = document.documentElement;
  return { top: Math.round(box.top), bottom: Math.round(box.bottom), left: Math.round(box.left),
           right: Math.round(box.right), vw: innerWidth, vh: innerHeight, scrolled: scrollX || scrollY,
           height: Math.max(doc.scrollHeight, document.body.scrollHeight) };
}"""
# How much larger than the page's ordinary text an element's text is.
LARGER = """(id) => parseFloat(getComputedStyle(document.getElementById(id)).fontSize) /
  parseFloat(getComputedStyle(document.body).fontSize)"""


# As the call screen's own test measures (browser/test_call_screen.py), with one more part that may scroll by itself:
# the pre-join panel's body (the check and the devices), above Join, which stays in sight.
SCROLLERS = '".call__chat-log, .call__side"'
assert SCROLLERS in GEOMETRY
PANEL_GEOMETRY = GEOMETRY.replace(SCROLLERS, '".call__chat-log, .call__side, .call__prejoin-body"')


async def fits(page, state: str) -> None:
    """At each size: the document is no larger than the screen, every control (or the part that scrolls it) is in
    it, and so is Join (or Join with sound only) whenever the pre-join panel shows."""
    problems = []
    for label, size in SIZES.items():
        await page.set_viewport_size(size)
        await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        g = await page.evaluate(PANEL_GEOMETRY)
        if g["width"] > g["vw"] or g["height"] > g["vh"] or g["scrolled"]:
            problems.append(f"{state} at {label}: the document is {g['width']}x{g['height']}")
        problems += [f"{state} at {label}: outside the screen: {what}" for what in g["outside"]]
        if await page.locator("#prejoin").is_visible():
            shown = "join" if await page.locator("#join").is_visible() else "join-audio"
            if not in_sight(await page.evaluate(BOX, shown)):
                problems.append(f"{state} at {label}: {shown} is not in sight")
    await page.set_viewport_size(PORTRAIT)
    assert not problems, "\n".join(problems)


def in_sight(box: dict) -> bool:
    return box["top"] >= 0 and box["left"] >= 0 and box["bottom"] <= box["vh"] and box["right"] <= box["vw"]


def a_face(size=(640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (180, 140, 110)).save(out, "JPEG")
    return out.getvalue()


@pytest_asyncio.fixture(loop_scope="session")
async def worker_with_photo_and_team_phone(world, db, clock):
    """The worker has added a photo; the administrator has set the team's number."""
    db.add(
        StaffPhoto(
            staff_id=world.a.worker.id,
            municipality_id=world.a.id,
            content_type=photos.CONTENT_TYPE,
            data=photos.clean(a_face()),
            updated_at=clock(),
        )
    )
    (await db.get(Team, world.a.team_id)).phone = "89401234"
    await db.commit()


async def test_from_the_link_through_the_check_to_a_waiting_room_that_reassures(
    browser, site, page, world, log_in, axe_violations, screenshot, worker_with_photo_and_team_phone
):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    context, citizen = await open_page(browser, site, phone=True)
    taps = 0
    try:
        await citizen.goto(f"/l/{world.a.citizen.link_token}")
        await expect(citizen).to_have_url(re.compile(rf"/calls/{world.a.citizen.appointment_id}$"))

        # Join is on the first screen at once, before and during the check.
        join = await citizen.evaluate(BOX, "join")
        assert in_sight(join) and not join["scrolled"] and join["height"] <= join["vh"], join
        print(f"\nJoin at 360x740 before the check: top {join['top']}, bottom {join['bottom']} (of {join['vh']})")
        await expect(citizen.locator("#check-picture")).to_have_attribute("data-done", "ok")
        await expect(citizen.locator("#check-picture-says")).to_have_text("Dit kamera virker.")
        # The microphone reacts: the first key press lets the page's audio start, the fake microphone's beeps move it.
        await citizen.keyboard.press("Shift")
        await expect(citizen.locator("#check-mic")).to_have_attribute("data-done", "ok", timeout=15000)
        await expect(citizen.locator("#mic-level-hint")).to_have_text("Mikrofonen hører dig.")
        await expect(citizen.locator("#check-ready")).to_be_hidden()  # the sound is not checked yet
        await screenshot(citizen, "call-phone-check.png")
        await fits(citizen, "pre-join, the check under way")
        await accessible(citizen, axe_violations, "pre-join, the check under way")
        await citizen.set_viewport_size(PORTRAIT)

        # The test sound: "Nej" gives short help and the sound again; "Ja" — ready, the focus on Join.
        await citizen.get_by_role("button", name="Afspil en testlyd").click()
        await expect(citizen.locator("#check-sound")).to_have_attribute("data-sound", "asked")
        await expect(citizen.get_by_text("Kan du høre lyden?")).to_be_visible()
        await citizen.get_by_role("button", name="Nej").click()
        await expect(citizen.locator("#sound-help")).to_contain_text("Skru op for lyden")
        await expect(citizen.get_by_role("button", name="Afspil igen")).to_be_focused()
        assert in_sight(await citizen.evaluate(BOX, "join")), "the help does not push Join away"
        await screenshot(citizen, "call-phone-check-help.png")
        await fits(citizen, "pre-join, sound help")
        await accessible(citizen, axe_violations, "pre-join, sound help")
        await citizen.set_viewport_size(PORTRAIT)
        await citizen.get_by_role("button", name="Afspil igen").click()
        await citizen.get_by_role("button", name="Ja").click()
        await expect(citizen.locator("#check-ready")).to_have_text("Du er klar.")
        await expect(citizen.locator("#sound-help")).to_be_hidden()
        await expect(citizen.get_by_role("button", name="Deltag i samtalen")).to_be_focused()
        join = await citizen.evaluate(BOX, "join")
        assert in_sight(join) and not join["scrolled"], join
        print(f"Join at 360x740 when ready: top {join['top']}, bottom {join['bottom']}")
        await screenshot(citizen, "call-phone-check-ready.png")
        await fits(citizen, "pre-join, ready")
        await accessible(citizen, axe_violations, "pre-join, ready")
        await citizen.set_viewport_size(PORTRAIT)

        # The waiting room: who lets me in, with their photo, and when. (Help after 1 s instead of 5 min.)
        await citizen.evaluate("() => { document.getElementById('lobby').dataset.helpAfter = '1'; }")
        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        taps += 1
        await expect(citizen.locator("#call")).to_have_attribute("data-state", "waiting")
        lobby = citizen.locator("#lobby")
        await expect(lobby.get_by_role("heading")).to_have_text("Worker lukker dig ind om lidt.")
        await expect(lobby).to_contain_text("Samtalen er kl. 08.00.")
        photo = citizen.get_by_role("img", name="Billede af Worker")
        await expect(photo).to_be_visible()
        assert await photo.evaluate("(img) => img.complete && img.naturalWidth") == 512
        await expect(citizen.locator("#call-status")).to_have_text("Din medarbejder lukker dig ind om lidt.")

        # The worker's message, in large text.
        await page.locator("#waiting-list li").get_by_role("button", name="Send besked").click()
        notice = citizen.locator("#call-notice")
        await expect(notice).to_have_text("Besked fra din medarbejder: Jeg er 5 minutter forsinket")
        assert await citizen.evaluate(LARGER, "call-notice") >= 1.3

        # Nobody comes: the team's number, as a big button that calls it.
        call_us = citizen.get_by_role("link", name="Ring til Team Aarhus: 89401234")
        await expect(call_us).to_be_visible()
        assert await call_us.get_attribute("href") == "tel:89401234"
        await expect(citizen.locator("#lobby-news")).to_contain_text("ring til os")
        assert taps == 1 and not (await citizen.evaluate(BOX, "lobby"))["scrolled"]
        await screenshot(citizen, "call-phone-waiting-room.png")
        await fits(citizen, "the waiting room, after a while")
        await accessible(citizen, axe_violations, "the waiting room, after a while")
        await citizen.set_viewport_size(PORTRAIT)

        # Let in: the waiting room goes, the call begins.
        await page.get_by_role("button", name="Luk Citizen ind").click()
        await expect(citizen.locator("#call")).to_have_attribute("data-state", "incall")
        await expect(lobby).to_be_hidden()
    finally:
        await context.close()


async def test_one_tap_joins_at_once_and_without_a_photo_the_waiting_room_shows_the_initial(
    browser, site, world, axe_violations
):
    site.clock.advance(days=1, minutes=-10)
    context, citizen = await open_page(browser, site, phone=True)
    try:
        await citizen.goto(f"/l/{world.a.citizen.link_token}")  # the call is open: the link opens it
        await citizen.get_by_role("button", name="Deltag i samtalen").click()  # the check is never in the way
        await expect(citizen.locator("#call")).to_have_attribute("data-state", "waiting")
        await expect(citizen.locator("#lobby").get_by_role("heading")).to_have_text("Worker lukker dig ind om lidt.")
        await expect(citizen.locator(".call__lobby-photo--none")).to_have_text("W")
        await expect(citizen.locator("#lobby-help")).to_be_hidden()  # not yet: only after a few minutes
        await accessible(citizen, axe_violations, "the waiting room, just arrived")
    finally:
        await context.close()


async def test_a_refused_camera_keeps_its_help_and_sound_only_and_the_check_goes_on(
    browser, site, world, axe_violations
):
    site.clock.advance(days=1, minutes=-10)
    context, citizen = await open_page(browser, site, phone=True)
    await context.add_init_script(CAMERA_BLOCKED)
    try:
        await citizen.goto(f"/l/{world.a.citizen.link_token}")
        await citizen.goto(f"/calls/{world.a.citizen.appointment_id}")
        await expect(citizen.locator("#media-help")).to_contain_text("Vi kunne ikke bruge dit kamera.")
        await expect(citizen.locator("#check-picture")).to_have_attribute("data-done", "none")
        await expect(citizen.locator("#check-picture-says")).to_contain_text("Intet kamera")
        sound_only = citizen.get_by_role("button", name="Deltag kun med lyd")
        await expect(sound_only).to_be_visible()
        assert in_sight(await citizen.evaluate(BOX, "join-audio"))
        await citizen.get_by_role("button", name="Afspil en testlyd").click()
        await citizen.get_by_role("button", name="Ja").click()
        await citizen.keyboard.press("Shift")
        await expect(citizen.locator("#check-mic")).to_have_attribute("data-done", "ok", timeout=15000)
        await expect(citizen.locator("#check-ready")).to_be_visible()
        await expect(sound_only).to_be_focused()
        await fits(citizen, "pre-join without a camera, ready")
        await accessible(citizen, axe_violations, "pre-join without a camera, ready")
    finally:
        await context.close()


async def test_the_worker_adds_and_removes_their_photo_with_a_preview(page, world, log_in, assert_accessible, tmp_path):
    await log_in(world.a.worker)
    await page.set_viewport_size(LAPTOP)
    await page.get_by_role("link", name="Mit billede").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Mit billede")
    await expect(page.get_by_text("Du har ikke noget billede endnu.")).to_be_visible()
    await assert_accessible(page)

    # A phone's photo, far over the limit: the page makes it smaller before it is sent.
    large = tmp_path / "portrait.jpg"
    Image.effect_noise((2400, 1800), 80).convert("RGB").save(large, "JPEG", quality=95)
    assert large.stat().st_size > 5 * photos.MAX_BYTES
    await page.get_by_label("Billede (JPEG, PNG eller WebP)").set_input_files(str(large))
    preview = page.get_by_role("img", name="Dit nye billede (ikke gemt endnu)")
    await expect(preview).to_be_visible()
    assert await preview.evaluate("(img) => img.naturalWidth") == photos.SIDE
    await assert_accessible(page)
    await page.get_by_role("button", name="Gem billedet").click()
    await expect(page.locator("main .notice")).to_have_text("Dit billede er gemt.")
    now = page.get_by_role("img", name="Dit billede nu")
    await expect(now).to_be_visible()
    assert await now.evaluate("(img) => img.complete && img.naturalWidth") == photos.SIDE
    await assert_accessible(page)

    # A file that is no picture: the page says so, and so does the server.
    fake = tmp_path / "not-a-photo.jpg"
    fake.write_text("<html>not a photo</html>")
    await page.get_by_label("Billede (JPEG, PNG eller WebP)").set_input_files(str(fake))
    await expect(page.locator("#photo-problem")).to_contain_text("Det er ikke et billede, vi kan bruge.")
    await page.get_by_role("button", name="Gem billedet").click()
    await expect(page.locator(".error-summary")).to_contain_text("Det er ikke et billede, vi kan bruge.")
    await assert_accessible(page)

    await page.get_by_role("button", name="Fjern mit billede").click()
    await expect(page.locator("main .notice")).to_have_text("Dit billede er fjernet.")
    await expect(page.get_by_text("Du har ikke noget billede endnu.")).to_be_visible()
