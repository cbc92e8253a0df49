"""Real video calls in Chromium (fake camera and microphone): the citizen's pre-join screen (own picture, camera
and microphone choice, a moving level meter), the waiting room with the worker's message, admission, media
flowing both ways (read from getStats), chat as text, sound only, the citizen's one-click Leave, the worker
ending the call and landing on the session note; a dropped WebSocket that reconnects while media goes on; the
plain-words help when the camera is refused; and a citizen on Firefox ESR (puppeteer-core over WebDriver BiDi,
tests/browser/firefox_citizen.mjs) with a worker on Chromium. axe-core checks each state at 1280 and 360 px."""

from __future__ import annotations

import asyncio
import json
import re
import shutil
from pathlib import Path

import pytest
from playwright.async_api import expect

from vbostotte.web.keys import SIGNALING

from support import require

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

ROOT = Path(__file__).resolve().parents[2]
FIREFOX = Path("/usr/bin/firefox-esr")
FIREFOX_CITIZEN = Path(__file__).with_name("firefox_citizen.mjs")
PUPPETEER = ROOT / "node_modules" / "puppeteer-core" / "package.json"

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
# As if the person had clicked "Block" for the camera: asking for video fails, sound alone still works.
CAMERA_BLOCKED = """(() => {
  const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  navigator.mediaDevices.getUserMedia = (c) => c.video
    ? Promise.reject(new DOMException("Permission denied", "NotAllowedError")) : ask(c);
})();"""
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
    await citizen.goto(f"/l/{world.a.citizen.link_token}")  # the call is open: the link opens it
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
        await citizen.wait_for_function("() => document.getElementById('self-video')?.videoWidth > 0")
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

        # Chat opens over the video from "More" and arrives as text: markup someone types is shown, never
        # interpreted. A line that comes while the chat is closed is counted on "More".
        await page.get_by_role("button", name="Mere").click()
        await page.get_by_role("button", name="Chat").click()
        await page.get_by_label("Skriv en besked").fill("<b>Hej</b> <img src=x onerror=alert(1)>")
        await page.get_by_label("Skriv en besked").press("Enter")
        line = citizen.locator("#chat-log li")
        await expect(line).to_have_text("Worker: <b>Hej</b> <img src=x onerror=alert(1)>")
        assert await line.locator("b, img").count() == 0
        await expect(page.locator("#chat-log li")).to_have_text("Dig: <b>Hej</b> <img src=x onerror=alert(1)>")
        await expect(citizen.get_by_role("button", name="Mere")).to_contain_text("1")

        # Sound only (under "More"): the citizen's camera stops, the worker is told, the sound goes on.
        await citizen.get_by_role("button", name="Mere").click()
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
    await context.add_init_script(CAMERA_BLOCKED)
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


class FirefoxCitizen:
    """The citizen's side in Firefox ESR: a Node process that reports each step as a JSON line and waits for a word
    on its standard input where the worker must act first."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc

    async def step(self, name: str, timeout: float = 60) -> dict:
        async with asyncio.timeout(timeout):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    err = (await self.proc.stderr.read()).decode(errors="replace")
                    raise AssertionError(f"Firefox's citizen stopped before {name!r}: {err[-2000:]}")
                report = json.loads(line)
                assert "error" not in report, f"Firefox's citizen failed before {name!r}: {report['error']}"
                if report.get("step") == name:
                    return report

    async def say(self, word: str) -> None:
        self.proc.stdin.write(word.encode() + b"\n")
        await self.proc.stdin.drain()


async def drop_socket(app, participant: str) -> None:
    """The network under one participant's signalling socket breaks: the server's side of the TCP connection is
    aborted, without a close frame, as when a phone changes network."""
    server = app[SIGNALING]
    async with asyncio.timeout(5):
        while not (conns := [c for c in list(server._conns.values()) if c.participant and c.pid == participant]):
            await asyncio.sleep(0.05)
    for conn in conns:
        conn.request.transport.abort()


async def test_a_citizen_on_firefox_and_a_worker_on_chromium_see_each_other_reconnect_and_leave(
    app, site, page, world, log_in
):
    require(
        FIREFOX.exists() and PUPPETEER.exists() and shutil.which("node") is not None,
        f"Firefox ESR ({FIREFOX}), Node.js and puppeteer-core (npm ci)",
    )
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(FIREFOX_CITIZEN),
        site.url,
        world.a.citizen.link_token,
        str(world.a.citizen.appointment_id),
        str(FIREFOX),
        cwd=ROOT,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    citizen = FirefoxCitizen(proc)
    try:
        assert (await citizen.step("started"))["version"].startswith("firefox/")
        waiting = await citizen.step("waiting")
        assert waiting["state"] == "waiting"
        # The call screen on a 360x740 phone in Firefox too: nothing scrolls, every control on the screen.
        assert waiting["geometry"]["fits"] and not waiting["geometry"]["outside"], waiting["geometry"]
        await page.get_by_role("button", name="Luk Citizen ind").click()
        # Video both ways: Firefox decodes the worker's picture, Chromium the citizen's.
        in_call = await citizen.step("in_call")
        assert in_call["frames"] > 0 and in_call["sends_video"] and in_call["count"] == "1", in_call
        assert in_call["geometry"]["fits"] and not in_call["geometry"]["outside"], in_call["geometry"]
        # The screen stays awake in Firefox too (Screen Wake Lock API).
        assert in_call["wake_lock_api"] and in_call["wake_locks"] == 1, in_call
        await grows(page, "frames")
        await expect(page.locator("#present")).to_have_text("I samtalen med dig: Citizen")

        # Her socket drops; the page reconnects and resumes her place: no new admission, media on.
        await drop_socket(app, f"citizen-{world.a.citizen.id}")
        await citizen.say("resume")
        resumed = await citizen.step("resumed")
        assert resumed["sockets"] == 2, resumed
        assert "Forbindelsen blev afbrudt. Forbinder igen …" in resumed["statuses"], resumed["statuses"]
        assert resumed["frames"] > in_call["frames"]
        await grows(page, "frames")
        await expect(page.locator("#waiting-list li")).to_have_count(0)

        # She leaves with one click: the worker sees it; her page turns nothing on.
        await citizen.say("leave")
        left = await citizen.step("left")
        assert left["url"].endswith("/me?done=call_ended"), left
        assert left["asked_after"] == 0 and left["live_tracks"] == 0, left
        assert "Samtalen er slut." in left["text"]
        await expect(page.locator("#call-status")).to_have_text("Citizen har forladt samtalen.")
        assert await asyncio.wait_for(proc.wait(), 30) == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
