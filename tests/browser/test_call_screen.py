"""The call screen in Chromium: a video call people recognise (issue 21). Nothing scrolls and every control is on the
screen in portrait 360×740, landscape 740×360 and on a 1280×800 laptop, in every state (pre-join, waiting, in the
call, the "More" sheet, the chat, reconnecting); axe-core finds nothing in any of them; a keyboard alone joins,
mutes, chats and leaves; three people share a grid; the worker's side panel never pushes the videos off the screen;
the screen is kept awake during the call; after leaving no page turns the camera or microphone on again; a chat line
the server refuses is never shown as sent; a citizen whose own network drops is told so; and in the call the camera
is switched and the loudspeaker chosen under "Mere". With VB_SCREENSHOTS=1
the screens are saved to docs/screenshots/."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect

from browser.test_video_call import citizen_waiting, grows, open_page, worker_in_call

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PORTRAIT, LANDSCAPE, LAPTOP = (
    {"width": 360, "height": 740},
    {"width": 740, "height": 360},
    {"width": 1280, "height": 800},
)
SIZES = {"portrait 360x740": PORTRAIT, "landscape 740x360": LANDSCAPE, "laptop 1280x800": LAPTOP}

# Every control and video that shows, with its box: inside the two parts that may scroll by themselves (the chat
# log, the worker's side panel), the box that counts is that part's. And how big the document is.
GEOMETRY = """() => {
  const scroller = (el) => el.closest(".call__chat-log, .call__side");
  const shown = [...document.querySelectorAll("button, a[href], input:not([type=hidden]), select, textarea, video")]
    .filter((el) => el.getClientRects().length && !el.closest(".skip-link, .visually-hidden"))
    .filter((el) => getComputedStyle(el).visibility !== "hidden");
  const outside = [];
  for (const el of shown) {
    const box = (scroller(el) || el).getBoundingClientRect();
    if (box.left < -0.5 || box.top < -0.5 || box.right > innerWidth + 0.5 || box.bottom > innerHeight + 0.5) {
      outside.push(`${el.id || el.outerHTML.slice(0, 70)} at ${Math.round(box.left)},${Math.round(box.top)}–` +
                   `${Math.round(box.right)},${Math.round(box.bottom)}`);
    }
  }
  const doc = document.documentElement;
  return { shown: shown.length, outside, width: Math.max(doc.scrollWidth, document.body.scrollWidth),
           height: Math.max(doc.scrollHeight, document.body.scrollHeight), vw: innerWidth, vh: innerHeight,
           scrolled: scrollX || scrollY };
}"""
# The boxes of the videos that show other people, and of one's own tile.
TILES = """() => [...document.querySelectorAll("#videos .call__tile")].map((tile) => {
  const box = tile.getBoundingClientRect();
  return { self: tile.id === "self-tile", left: box.left, top: box.top, right: box.right, bottom: box.bottom,
           width: box.width, height: box.height };
})"""
# Test instrumentation: count getUserMedia calls and keep the tracks and wake locks the page gets.
DEVICES = """
(() => {
  window.__gum = 0; window.__tracks = []; window.__wakeLocks = [];
  if (navigator.mediaDevices) {
    const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (c) => {
      window.__gum += 1;
      const stream = await ask(c);
      window.__tracks.push(...stream.getTracks());
      return stream;
    };
  }
  if (navigator.wakeLock) {
    const request = navigator.wakeLock.request.bind(navigator.wakeLock);
    navigator.wakeLock.request = async (type) => { const lock = await request(type); window.__wakeLocks.push(lock); return lock; };
  }
})();
"""
LIVE_TRACKS = "() => window.__tracks.filter((t) => t.readyState === 'live').length"
HELD_WAKE_LOCKS = "() => window.__wakeLocks.filter((lock) => !lock.released).length"


async def fits(page, state: str, sizes=SIZES) -> None:
    """At each size: the document is no wider or taller than the viewport, and every control is inside it."""
    problems = []
    for label, size in sizes.items():
        await page.set_viewport_size(size)
        await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
        g = await page.evaluate(GEOMETRY)
        assert g["shown"] > 0
        if g["width"] > g["vw"] or g["height"] > g["vh"] or g["scrolled"]:
            problems.append(f"{state} at {label}: the document is {g['width']}x{g['height']}")
        problems += [f"{state} at {label}: outside the screen: {what}" for what in g["outside"]]
    assert not problems, "\n".join(problems)


async def accessible(page, axe_violations, state: str, sizes=SIZES) -> None:
    """axe-core's WCAG 2.0/2.1 A and AA rules at each size."""
    from browser.conftest import describe

    report = []
    for label, size in sizes.items():
        await page.set_viewport_size(size)
        violations = await axe_violations(page)
        if violations:
            report.append(f"{state} at {label}:\n{describe(violations)}")
    assert not report, "axe-core found WCAG A/AA violations:\n" + "\n".join(report)


async def check(page, axe_violations, state: str, back_to=PORTRAIT) -> None:
    await fits(page, state)
    await accessible(page, axe_violations, state)
    await page.set_viewport_size(back_to)


async def citizen_on_phone(browser, site, world):
    context, citizen = await citizen_waiting(browser, site, world)
    await context.add_init_script(DEVICES)
    await citizen.reload()
    return context, citizen


async def test_the_citizens_call_screen_fits_every_size_in_every_state(
    browser, site, page, world, log_in, axe_violations, screenshot
):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    context, citizen = await citizen_on_phone(browser, site, world)
    hold = {"on": False}
    sockets = []

    def through(ws):  # pass the signalling socket through; while "hold" is on, the server cannot be reached
        sockets.append(ws)
        if not hold["on"]:
            ws.connect_to_server()

    await citizen.route_web_socket(re.compile(r"/ws/calls$"), through)
    try:
        await citizen.wait_for_function("() => document.getElementById('self-video')?.videoWidth > 0")
        await expect(citizen.locator("#call")).to_have_attribute("data-state", "prejoin")
        await screenshot(citizen, "call-phone-prejoin.png")
        await citizen.set_viewport_size(LANDSCAPE)
        await screenshot(citizen, "call-phone-landscape-prejoin.png")
        await citizen.set_viewport_size(LAPTOP)
        await screenshot(citizen, "call-laptop-prejoin.png")
        await citizen.set_viewport_size(PORTRAIT)
        await check(citizen, axe_violations, "pre-join")

        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        await expect(citizen.locator("#call-status")).to_have_text("Din medarbejder lukker dig ind om lidt.")
        await expect(citizen.locator("#call")).to_have_attribute("data-state", "waiting")
        await screenshot(citizen, "call-phone-waiting.png")
        await check(citizen, axe_violations, "waiting")
        assert await citizen.evaluate(HELD_WAKE_LOCKS) == 1, "the screen is kept awake from joining"

        await page.get_by_role("button", name="Luk Citizen ind").click()
        await grows(citizen, "frames")
        await expect(citizen.locator("#call-status")).to_have_text("Du er med i samtalen.")
        await expect(citizen.locator("#videos")).to_have_attribute("data-count", "1")
        await check(citizen, axe_violations, "in the call")
        # The other person fills the screen; one's own picture is a small tile in a corner, over it.
        for size in SIZES.values():
            await citizen.set_viewport_size(size)
            other, own = sorted(await citizen.evaluate(TILES), key=lambda t: t["self"])
            stage = await citizen.locator("#stage").bounding_box()
            assert other["width"] >= stage["width"] - 1 and other["height"] >= stage["height"] - 1, (size, other)
            assert own["width"] * own["height"] < 0.16 * other["width"] * other["height"], (size, own)
            assert own["right"] <= other["right"] and own["bottom"] <= other["bottom"]
        await citizen.set_viewport_size(PORTRAIT)
        await screenshot(citizen, "call-phone-in-call.png")
        await citizen.set_viewport_size(LANDSCAPE)
        await screenshot(citizen, "call-phone-landscape.png")
        await citizen.set_viewport_size(PORTRAIT)

        # "More": chat, sound only and the devices, in a sheet over the video.
        await citizen.get_by_role("button", name="Mere").click()
        await expect(citizen.get_by_role("button", name="Kun lyd")).to_be_visible()
        await expect(citizen.get_by_label("Kamera", exact=True)).to_be_visible()
        await expect(citizen.get_by_label("Mikrofon", exact=True)).to_be_visible()
        await screenshot(citizen, "call-phone-more.png")
        await check(citizen, axe_violations, "the More sheet")

        # The chat opens over the video; a long talk scrolls inside the chat only.
        await citizen.get_by_role("button", name="Chat").click()
        await expect(citizen.get_by_label("Skriv en besked")).to_be_focused()
        for n in range(12):
            await citizen.get_by_label("Skriv en besked").fill(f"Besked nummer {n} fra borgeren")
            await citizen.get_by_label("Skriv en besked").press("Enter")
        await expect(page.locator("#chat-log li")).to_have_count(12)
        await expect(citizen.locator("#chat-log .call__chat-state")).to_have_count(0)  # every line taken
        await screenshot(citizen, "call-phone-chat.png")
        await check(citizen, axe_violations, "the chat")
        await citizen.keyboard.press("Escape")
        await expect(citizen.locator("#chat")).to_be_hidden()

        # Reconnecting: shown over the video and announced, until the server can be reached again.
        hold["on"] = True
        await sockets[0].close(code=4999, reason="network lost")
        await expect(citizen.locator("#call-status")).to_have_text("Forbindelsen blev afbrudt. Forbinder igen …")
        await expect(citizen.locator("#call")).to_have_class(re.compile(r"call--reconnecting"))
        await screenshot(citizen, "call-phone-reconnecting.png")
        await check(citizen, axe_violations, "reconnecting")
        hold["on"] = False
        await sockets[-1].close(code=4999, reason="still lost")
        await expect(citizen.locator("#call-status")).to_have_text("Forbindelsen er tilbage.")
        await grows(citizen, "frames")
    finally:
        await context.close()


async def test_a_keyboard_alone_joins_mutes_chats_and_leaves(browser, site, page, world, log_in):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    context, citizen = await open_page(browser, site)  # a laptop
    await context.add_init_script(DEVICES)

    async def tab_to(selector: str, limit: int = 25, backwards: bool = False) -> None:
        for _ in range(limit):
            await citizen.keyboard.press("Shift+Tab" if backwards else "Tab")
            if await citizen.evaluate(f"() => document.activeElement.matches({selector!r})"):
                box = await citizen.evaluate(
                    "() => { const b = document.activeElement.getBoundingClientRect(); "
                    "return [b.left, b.top, b.right, b.bottom, getComputedStyle(document.activeElement).outlineStyle]; }"
                )
                assert box[0] >= 0 and box[1] >= 0 and box[2] <= 1280 and box[3] <= 800, (selector, box)
                assert box[4] != "none", f"no visible focus on {selector}"
                return
        raise AssertionError(f"Tab never reached {selector}")

    try:
        await citizen.goto(f"/l/{world.a.citizen.link_token}")
        await citizen.goto(f"/calls/{world.a.citizen.appointment_id}")
        await citizen.wait_for_function("() => document.getElementById('self-video')?.videoWidth > 0")
        await tab_to("#join")
        await citizen.keyboard.press("Enter")
        await expect(citizen.locator("#call-status")).to_have_text("Din medarbejder lukker dig ind om lidt.")
        await expect(citizen.locator("#mute")).to_be_focused()  # the focus lands on the bar
        await page.get_by_role("button", name="Luk Citizen ind").click()
        await grows(citizen, "frames")

        await citizen.keyboard.press("Enter")  # mute
        await expect(citizen.locator("#mute")).to_have_attribute("aria-label", "Slå mikrofonen til")
        assert (
            await citizen.evaluate("() => window.__tracks.filter((t) => t.kind === 'audio' && t.enabled).length") == 0
        )
        await expect(page.locator("#videos figcaption", has_text="Citizen")).to_have_text(
            "Citizen (mikrofon slået fra)"
        )

        await tab_to("#more")
        await citizen.keyboard.press("Enter")
        await expect(citizen.locator("#more")).to_have_attribute("aria-expanded", "true")
        await expect(citizen.locator("#open-chat")).to_be_focused()
        await citizen.keyboard.press("Enter")
        await expect(citizen.get_by_label("Skriv en besked")).to_be_focused()
        await citizen.keyboard.type("Hej, kan du høre mig?")
        await citizen.keyboard.press("Enter")
        await expect(page.locator("#chat-log li")).to_have_text("Citizen: Hej, kan du høre mig?")
        await citizen.keyboard.press("Escape")
        await expect(citizen.locator("#chat")).to_be_hidden()
        await expect(citizen.locator("#more")).to_be_focused()

        await tab_to("#leave")
        await citizen.keyboard.press("Enter")
        await expect(citizen).to_have_url(re.compile(r"/me\?done=call_ended$"))
        await expect(page.locator("#call-status")).to_have_text("Citizen har forladt samtalen.")
    finally:
        await context.close()


async def test_three_people_share_a_grid_and_after_leaving_no_page_turns_the_camera_on(
    browser, site, page, world, log_in, screenshot
):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    await page.get_by_label("Den pårørendes navn").fill("Bo Holm")
    await page.get_by_role("button", name="Lav et link til en pårørende").click()
    guest_url = await page.locator("#guest-result code").text_content()
    context, citizen = await citizen_on_phone(browser, site, world)
    guest_context, guest = await open_page(browser, site, phone=True)
    await guest_context.add_init_script(DEVICES)
    try:
        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        await page.get_by_role("button", name="Luk Citizen ind").click()
        await grows(citizen, "frames")
        await guest.goto(guest_url)
        await guest.get_by_role("button", name="Deltag i samtalen").click()
        await page.get_by_role("button", name="Luk Bo Holm ind").click()
        await grows(guest, "frames", by=20)
        for who in (citizen, guest, page):
            await expect(who.locator("#videos")).to_have_attribute("data-count", "2")
        await citizen.wait_for_function("() => document.querySelectorAll('#videos video').length === 3")
        await grows(citizen, "frames", by=20)
        await screenshot(page, "call-laptop-worker-three.png")
        for who in (citizen, guest):
            await fits(who, "three people")
            for size in SIZES.values():  # a grid: three tiles of a size, none over another
                await who.set_viewport_size(size)
                tiles = await who.evaluate(TILES)
                assert len(tiles) == 3 and all(t["width"] > 100 and t["height"] > 80 for t in tiles), tiles
                for a, b in ((0, 1), (0, 2), (1, 2)):
                    t, u = tiles[a], tiles[b]
                    assert (
                        t["right"] <= u["left"] + 1
                        or u["right"] <= t["left"] + 1
                        or t["bottom"] <= u["top"] + 1
                        or u["bottom"] <= t["top"] + 1
                    )
            await who.set_viewport_size(PORTRAIT)
        await screenshot(citizen, "call-phone-three.png")

        # The guest leaves and lands on their link's page: it says the call has ended and asks for nothing.
        assert await guest.evaluate(HELD_WAKE_LOCKS) == 1
        await guest.get_by_role("button", name="Forlad samtalen").click()
        await expect(guest).to_have_url(re.compile(r"/g/[^/]+\?done=call_ended$"))
        await expect(guest.locator("main")).to_contain_text("Samtalen er slut.")
        await expect(page.locator("#call-status")).to_have_text("Bo Holm har forladt samtalen.")
        await asyncio.sleep(1.5)
        assert await guest.evaluate("() => window.__gum") == 0, "the page after the call turned the camera on"
        assert await guest.evaluate("() => window.__tracks.length") == 0
        await fits(guest, "after the call")
        await screenshot(guest, "call-phone-after.png")
        # Only "Join again" asks for the camera again, and offers to join.
        await guest.get_by_role("button", name="Deltag igen").click()
        await expect(guest.get_by_role("button", name="Deltag i samtalen")).to_be_visible()
        assert await guest.evaluate("() => window.__gum") >= 1

        # The citizen leaves: their page does not turn anything on either, and Back does not return to the call.
        await citizen.get_by_role("button", name="Forlad samtalen").click()
        await expect(citizen).to_have_url(re.compile(r"/me\?done=call_ended$"))
        await asyncio.sleep(1)
        assert await citizen.evaluate("() => window.__gum") == 0
        await citizen.go_back()
        assert f"/calls/{world.a.citizen.appointment_id}" not in citizen.url
    finally:
        await guest_context.close()
        await context.close()


async def test_the_workers_side_panel_never_pushes_the_videos_off_the_screen(
    browser, site, page, world, log_in, axe_violations, screenshot
):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    for name in ("Bo Holm", "Eva Holm"):  # a guest link shown in the panel
        await page.get_by_label("Den pårørendes navn").fill(name)
        await page.get_by_role("button", name="Lav et link til en pårørende").click()
        await expect(page.locator("#guest-result")).to_contain_text(name)
    context, citizen = await citizen_on_phone(browser, site, world)
    try:
        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        panel = page.locator("#side-panel")
        waiting = page.locator("#waiting-list li")
        await expect(waiting).to_contain_text("Citizen")
        await expect(waiting).to_contain_text("Er lige kommet.")
        await expect(panel.get_by_role("button", name="Luk Citizen ind")).to_be_visible()
        await expect(panel.get_by_role("button", name="Afslut samtalen for alle")).to_be_visible()
        await expect(panel.get_by_role("heading", name="Gæster", exact=True)).to_be_visible()
        await screenshot(page, "call-laptop-worker-waiting.png")
        await page.get_by_role("button", name="Luk Citizen ind").click()
        await grows(page, "frames")
        # The worker tapped Join at once: still the microphone and camera buttons, and her picture goes out.
        await expect(page.get_by_role("button", name="Slå mikrofonen fra")).to_be_visible()
        await expect(page.get_by_role("button", name="Sluk kameraet")).to_be_visible()
        await grows(citizen, "frames")
        await fits(page, "the worker's call", {"laptop 1280x800": LAPTOP})
        stage, side = await page.locator("#stage").bounding_box(), await panel.bounding_box()
        assert stage["x"] == 0 and stage["width"] >= 800 and side["x"] >= stage["x"] + stage["width"] - 1
        other = next(t for t in await page.evaluate(TILES) if not t["self"])
        assert other["right"] <= side["x"] + 1 and other["bottom"] <= 800
        await screenshot(page, "call-laptop-worker.png")
        await accessible(page, axe_violations, "the worker's call", {"laptop 1280x800": LAPTOP})

        # On a phone the panel opens over the video from "People" and closes with Escape.
        await page.set_viewport_size(PORTRAIT)
        await expect(panel).to_be_hidden()
        await fits(page, "the worker's call on a phone", {"portrait": PORTRAIT, "landscape": LANDSCAPE})
        await page.get_by_role("button", name="Personer").click()
        await expect(panel.get_by_role("button", name="Afslut samtalen for alle")).to_be_visible()
        await fits(page, "the worker's panel on a phone", {"portrait": PORTRAIT})
        await screenshot(page, "call-phone-worker-panel.png")
        await page.keyboard.press("Escape")
        await expect(panel).to_be_hidden()
        await expect(page.get_by_role("button", name="Personer")).to_be_focused()
        await page.set_viewport_size(LAPTOP)
    finally:
        await context.close()


async def test_a_chat_line_the_server_refuses_is_not_shown_as_sent(browser, site, page, world, log_in):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    context, citizen = await citizen_on_phone(browser, site, world)
    refuse = {"on": False}

    def through(ws):  # while "refuse" is on, a chat line is answered with an error, as the server refuses one
        server = ws.connect_to_server()

        def to_server(message):
            if refuse["on"] and '"type":"chat"' in message:
                ws.send('{"type":"error","code":"not_admitted","message":"refused","in_reply_to":"chat"}')
            else:
                server.send(message)

        ws.on_message(to_server)

    await citizen.route_web_socket(re.compile(r"/ws/calls$"), through)
    try:
        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        await page.get_by_role("button", name="Luk Citizen ind").click()
        await grows(citizen, "frames")
        await citizen.get_by_role("button", name="Mere").click()
        await citizen.get_by_role("button", name="Chat").click()
        field = citizen.get_by_label("Skriv en besked")
        await field.fill("Denne når frem")
        await field.press("Enter")
        await expect(citizen.locator("#chat-log li").last).to_have_text("Dig: Denne når frem")
        refuse["on"] = True
        await field.fill("Denne bliver afvist")
        await field.press("Enter")
        await expect(citizen.locator("#chat-log li").last).to_have_text(
            "Dig: Denne bliver afvist (ikke sendt — prøv igen)"
        )
        await expect(field).to_have_value("Denne bliver afvist")  # the words are kept to send again
        await expect(page.locator("#chat-log li")).to_have_count(1)
    finally:
        await context.close()


async def test_a_citizen_whose_own_network_drops_reads_that_it_is_her_connection(browser, site, page, world, log_in):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    context, citizen = await citizen_on_phone(browser, site, world)
    try:
        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        await page.get_by_role("button", name="Luk Citizen ind").click()
        await grows(citizen, "frames")
        await expect(citizen.locator("#call-status")).to_have_text("Du er med i samtalen.")

        await context.set_offline(True)
        await expect(citizen.locator("#call-status")).to_have_text("Din forbindelse er afbrudt. Forbinder igen …")
        await asyncio.sleep(4)
        statuses = await citizen.evaluate("window.__statuses")
        assert not [s for s in statuses if "mistede forbindelsen" in s], statuses
        await context.set_offline(False)
        await expect(citizen.locator("#call-status")).to_have_text("Forbindelsen er tilbage.", timeout=15000)
        await grows(citizen, "frames")
        await grows(page, "frames")
    finally:
        await context.close()


# The video each open peer connection of the page sends: its camera's label.
SENT_CAMERAS = """() => window.__pcs.filter((pc) => pc.connectionState !== "closed").flatMap((pc) => pc.getSenders())
  .filter((s) => s.track && s.track.kind === "video").map((s) => s.track.label)"""
SELF_CAMERA = "() => document.getElementById('self-video').srcObject.getVideoTracks()[0].label"
OFFERS = "() => window.__pcs.map((pc) => pc.localDescription?.sdp).join()"
# The loudspeaker each video of the others plays on ("" is the default).
SINKS = """() => [...document.querySelectorAll("#videos video:not(#self-video)")].map((video) => video.sinkId)"""


async def test_in_the_call_the_citizen_switches_camera_and_chooses_the_speaker(site, page, world, log_in):
    """A phone with three cameras and three loudspeakers (Chromium's fake devices, device-count=3; they have no
    facingMode, so "Skift kamera" takes the next camera in the list, as on a laptop): under "Mere", "Skift kamera" sends
    the next camera to the worker without a new offer, and choosing a loudspeaker plays the worker there (setSinkId).
    Chromium's second fake camera gives frames in a depth format its encoder skips, so the worker's picture is checked
    on the third."""
    from playwright.async_api import async_playwright

    from browser.conftest import CHROMIUM, CHROMIUM_ARGS

    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    args = [a for a in CHROMIUM_ARGS if a != "--use-fake-device-for-media-stream"]
    async with async_playwright() as playwright:
        phone = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[*args, "--use-fake-device-for-media-stream=device-count=3"],
        )
        try:
            _context, citizen = await citizen_waiting(phone, site, world)
            await citizen.wait_for_function("() => document.getElementById('self-video')?.videoWidth > 0")
            await citizen.get_by_role("button", name="Deltag i samtalen").click()
            await page.get_by_role("button", name="Luk Citizen ind").click()
            await grows(page, "frames")
            assert await citizen.evaluate(SENT_CAMERAS) == ["fake_device_0"]
            offers = await citizen.evaluate(OFFERS)

            more, switch = (
                citizen.get_by_role("button", name="Mere"),
                citizen.get_by_role("button", name="Skift kamera"),
            )
            for camera in ("fake_device_1", "fake_device_2"):
                if not await switch.is_visible():
                    await more.click()
                await switch.click()
                await citizen.wait_for_function(f"() => ({SENT_CAMERAS})().join() === {camera!r}")
                assert await citizen.evaluate(SELF_CAMERA) == camera
            await grows(page, "frames")  # the worker sees the other camera
            assert await citizen.evaluate(OFFERS) == offers  # the track was replaced, nothing renegotiated

            if not await citizen.locator("#more-sheet").is_visible():
                await more.click()
            speaker = citizen.get_by_label("Højttaler", exact=True)
            await expect(speaker.locator("option")).to_have_count(3)
            await speaker.select_option(label="Fake Audio Output 2")
            chosen = await speaker.input_value()
            await citizen.wait_for_function(f"() => ({SINKS})().join() === {chosen!r}")
            await grows(citizen, "audio")  # the worker's sound still plays, now on that loudspeaker
        finally:
            await phone.close()
