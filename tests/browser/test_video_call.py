"""Real video calls in Chromium (fake camera and microphone): the citizen's pre-join screen (own picture, camera
and microphone choice, a moving level meter), the waiting room with the worker's message, admission, media
flowing both ways (read from getStats), chat as text, sound only, the citizen's one-click Leave, the worker
ending the call and landing on the session note; a dropped WebSocket that reconnects while media goes on; and
the plain-words help when the camera is refused. axe-core checks each state at 1280 and 360 px."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# Test instrumentation only (injected by Playwright, not part of the page): keep every RTCPeerConnection the page
# makes, and every text the status line announced, so the test can read getStats() and transient states.
RECORD = """
(() => {
  const Original = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Original {
    constructor(...args) { super(...args); window.__pcs.push(this); }
  };
  window.__statuses = [];
  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("call-status");
    if (!status) return;
    new MutationObserver(() => window.__statuses.push(status.textContent.trim()))
      .observe(status, { childList: true, characterData: true, subtree: true });
  });
})();
"""
# Totals over every open peer connection: video frames decoded and audio packets received.
MEDIA_COUNTS = """async () => {
  let frames = 0, audio = 0;
  for (const pc of window.__pcs.filter((pc) => pc.connectionState !== "closed")) {
    (await pc.getStats()).forEach((s) => {
      if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0;
      if (s.type === "inbound-rtp" && s.kind === "audio") audio += s.packetsReceived || 0;
    });
  }
  return { frames, audio };
}"""
SENDS_VIDEO = """() => window.__pcs.filter((pc) => pc.connectionState !== "closed").some((pc) =>
  pc.getSenders().some((s) => s.track && s.track.kind === "video" && s.track.readyState === "live"))"""


async def grows(page, kind: str, by: int = 5, timeout: float = 15.0) -> int:
    """Wait until the page's received ``kind`` ("frames" or "audio") grows by ``by``; fails if it does not."""
    start = (await page.evaluate(MEDIA_COUNTS))[kind]
    async with asyncio.timeout(timeout):
        while (now := (await page.evaluate(MEDIA_COUNTS))[kind]) < start + by:
            await asyncio.sleep(0.1)
    return now


async def open_page(browser, site, *, phone: bool = False, user_agent: str | None = None):
    options = {
        "viewport": {"width": 360, "height": 740} if phone else {"width": 1280, "height": 800},
        "base_url": site.url,
    }
    if user_agent:
        options["user_agent"] = user_agent
    context = await browser.new_context(**options)
    context.set_default_timeout(10000)
    await context.add_init_script(RECORD)
    return context, await context.new_page()


async def citizen_waiting(browser, site, world):
    """The citizen, on a phone, from their link to the waiting room."""
    context, citizen = await open_page(browser, site, phone=True)
    await citizen.goto(f"/l/{world.a.citizen.link_token}")
    await citizen.get_by_role("link", name="Gå til samtalen").click()
    await expect(citizen).to_have_url(re.compile(rf"/calls/{world.a.citizen.appointment_id}$"))
    return context, citizen


async def worker_in_call(page, world, log_in):
    await page.add_init_script(RECORD)
    await log_in(world.a.worker)
    await page.goto(f"/calls/{world.a.citizen.appointment_id}")
    await page.get_by_role("button", name="Deltag i samtalen").click()
    await expect(page.locator("#call-status")).to_have_text("Venter på, at de andre kommer.")


async def test_the_whole_call_from_pre_join_to_the_note(browser, site, page, world, log_in, assert_accessible):
    appointment = world.a.citizen.appointment_id
    site.clock.advance(days=1, minutes=-10)  # ten minutes before the video session: the call is open
    await worker_in_call(page, world, log_in)
    context, citizen = await citizen_waiting(browser, site, world)
    try:
        # Pre-join: own picture, a labelled choice of camera and microphone, and a level meter that moves.
        await citizen.wait_for_function("() => document.getElementById('self-video').videoWidth > 0")
        await expect(citizen.get_by_label("Kamera", exact=True).locator("option")).not_to_have_count(0)
        await expect(citizen.get_by_label("Mikrofon", exact=True).locator("option")).not_to_have_count(0)
        await expect(citizen.get_by_label("Mikrofon", exact=True).locator("option").first).to_have_text(
            re.compile(r"\w")
        )
        await citizen.get_by_label("Kamera", exact=True).focus()  # a first user gesture lets the page's audio start
        await citizen.keyboard.press("Shift")
        await citizen.wait_for_function("() => document.getElementById('mic-level').value > 0", timeout=10000)
        await expect(citizen.get_by_role("link", name="Test min forbindelse")).to_be_visible()
        await assert_accessible(citizen)

        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        await expect(citizen.locator("#call-status")).to_have_text("Din medarbejder lukker dig ind om lidt.")
        await assert_accessible(citizen)

        # The worker sees who waits and since when, sends a short message, and lets the citizen in.
        waiting = page.locator("#waiting-list li")
        await expect(waiting).to_contain_text("Citizen")
        await expect(waiting).to_contain_text("Er lige kommet.")
        await waiting.get_by_role("button", name="Send besked").click()
        await expect(citizen.locator("#call-notice")).to_have_text(
            "Besked fra din medarbejder: Jeg er 5 minutter forsinket"
        )
        await page.get_by_role("button", name="Luk Citizen ind").click()

        await grows(page, "frames")
        await grows(citizen, "frames")
        await expect(citizen.locator("#call-status")).to_have_text("Du er med i samtalen.")
        await expect(citizen.locator("#present")).to_have_text("I samtalen med dig: Worker")
        await expect(citizen.locator("#quality-text")).to_have_text(
            re.compile(r"^Forbindelse: (god|nogenlunde|dårlig)")
        )
        await assert_accessible(citizen)

        # Chat arrives as text: markup someone types is shown, never interpreted.
        await page.get_by_label("Skriv en besked").fill("<b>Hej</b> <img src=x onerror=alert(1)>")
        await page.get_by_label("Skriv en besked").press("Enter")
        line = citizen.locator("#chat-log li")
        await expect(line).to_have_text("Worker: <b>Hej</b> <img src=x onerror=alert(1)>")
        assert await line.locator("b, img").count() == 0

        # Sound only: the citizen's camera stops, the worker is told, the sound goes on.
        await citizen.get_by_role("button", name="Kun lyd").click()
        await expect(citizen.get_by_role("button", name="Brug video igen")).to_have_attribute("aria-pressed", "true")
        assert not await citizen.evaluate(SENDS_VIDEO)
        await expect(page.locator("#videos figcaption", has_text="Citizen")).to_have_text("Citizen (kun lyd)")
        await grows(page, "audio")

        # One click on Leave ends it for the citizen; the worker sees they left.
        await citizen.get_by_role("button", name="Forlad samtalen").click()
        await expect(citizen).to_have_url(re.compile(r"/me\?done=call_ended$"))
        await expect(citizen.locator("main")).to_contain_text("Samtalen er slut.")
        await expect(page.locator("#call-status")).to_have_text("Citizen har forladt samtalen.")
    finally:
        await context.close()
    # Ending the call takes the worker to the session note of this appointment (/appointments/{id}/note, which
    # opens the appointment's note).
    async with page.expect_response(re.compile(rf"/appointments/{appointment}/note$")) as note:
        await page.get_by_role("button", name="Afslut samtalen for alle").click()
    assert (await note.value).status in (200, 302, 303)
    await expect(page).to_have_url(re.compile(r"/notes/\d+$"))


async def test_a_dropped_websocket_reconnects_and_the_media_goes_on(browser, site, page, world, log_in):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    context, citizen = await citizen_waiting(browser, site, world)
    sockets = []

    def through(ws):  # pass every signalling socket through, keeping hold of it so the test can cut it
        sockets.append((ws, ws.connect_to_server()))

    await citizen.route_web_socket(re.compile(r"/ws/calls$"), through)
    try:
        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        await page.get_by_role("button", name="Luk Citizen ind").click()
        await grows(citizen, "frames")
        await expect(citizen.locator("#call-status")).to_have_text("Du er med i samtalen.")

        to_page, to_server = sockets[0]
        await to_server.close()  # the network drops: both ends lose the socket
        await to_page.close(code=4999, reason="network lost")
        await expect(citizen.locator("#call-status")).to_have_text("Forbindelsen er tilbage.")
        assert "Forbindelsen blev afbrudt. Forbinder igen …" in await citizen.evaluate("window.__statuses")
        assert len(sockets) == 2  # one new socket, which resumed the place: no new admission was needed
        await grows(citizen, "frames")
        await grows(page, "frames")
        await expect(page.locator("#waiting-list li")).to_have_count(0)
    finally:
        await context.close()


async def test_a_refused_camera_is_explained_for_the_browser_and_sound_only_is_offered(
    browser, site, world, assert_accessible
):
    site.clock.advance(days=1, minutes=-10)
    firefox = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
    context, citizen = await open_page(browser, site, phone=True, user_agent=firefox)
    # As if the person had clicked "Block" for the camera: asking for video fails, sound alone still works.
    await context.add_init_script("""(() => {
      const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
      navigator.mediaDevices.getUserMedia = (c) => c.video
        ? Promise.reject(new DOMException("Permission denied", "NotAllowedError")) : ask(c);
    })();""")
    try:
        await citizen.goto(f"/l/{world.a.citizen.link_token}")
        await citizen.goto(f"/calls/{world.a.citizen.appointment_id}")
        help_box = citizen.locator("#media-help")
        await expect(help_box).to_contain_text("Vi kunne ikke bruge dit kamera.")
        await expect(help_box).to_contain_text("I Firefox: klik på det overstregede kamera-symbol")
        await expect(citizen.get_by_role("button", name="Deltag i samtalen")).to_be_hidden()
        await expect(citizen.get_by_role("button", name="Deltag kun med lyd")).to_be_visible()
        await assert_accessible(citizen)
    finally:
        await context.close()
