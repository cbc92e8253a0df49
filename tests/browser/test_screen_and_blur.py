"""Sharing a screen and a blurred background in real Chromium calls (fake camera, fake screen capture; issue 16,
items 3 and 4; web/static/js/call/share.js and blur.js; docs/call-page.md).

The worker shares their screen: the citizen's page says so (a label over the picture and the status line), shows
the screen uncropped and receives its frames; "Stop sharing" brings the camera back. Where getDisplayMedia is
missing, or on a phone, "Share screen" is not offered. A citizen turns on "Blur background" before joining: what
goes to the worker is the blurred canvas's track (never the camera's), every file the blur needs comes from the app
itself, and the measured milliseconds per frame are printed. When the model cannot load, the camera goes off
with a clear message instead of being sent unblurred. axe-core checks the new states."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from browser.test_video_call import citizen_waiting, grows, open_page, worker_in_call

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# The browser tests' Chromium draws WebGL in software (no GPU): a frame of segmentation takes a few hundred
# milliseconds there, which would make the page turn blur off as "too slow". This budget keeps it on, so the tests
# can look at the blurred track; the fallback itself is measured in bench/blur_bench.py.
GENEROUS_BUDGET = "window.vbBlurBudgetMs = 5000;"
NO_DISPLAY_MEDIA = "delete MediaDevices.prototype.getDisplayMedia;"

# What the page sends as video to its peers: the track's id, whether it came from a device (a camera has a
# deviceId, a canvas's or a screen's track says so otherwise), and whether it is enabled.
SENT_VIDEO = """() => window.__pcs.filter((pc) => pc.connectionState !== "closed").flatMap((pc) =>
  pc.getSenders().filter((s) => s.track && s.track.kind === "video").map((s) => ({
    id: s.track.id, enabled: s.track.enabled, live: s.track.readyState === "live",
    settings: s.track.getSettings(), label: s.track.label })))"""
SELF_TRACK = "() => document.getElementById('self-video').srcObject?.getVideoTracks()[0]?.id"


async def admitted(page, citizen):
    await citizen.wait_for_function("() => document.getElementById('self-video')?.videoWidth > 0")
    await citizen.get_by_role("button", name="Deltag i samtalen").click()
    await page.get_by_role("button", name="Luk Citizen ind").click()
    await grows(page, "frames")
    await grows(citizen, "frames")


async def test_the_worker_shares_the_screen_and_stops(
    browser, site, page, world, log_in, assert_accessible, screenshot
):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    context, citizen = await citizen_waiting(browser, site, world)
    try:
        await admitted(page, citizen)
        camera = (await page.evaluate(SENT_VIDEO))[0]
        assert camera["settings"].get("deviceId") and not camera["settings"].get("displaySurface"), camera

        await page.get_by_role("button", name="Mere").click()
        await page.get_by_role("button", name="Del skærm").click()
        stop = page.get_by_role("button", name="Stop deling")
        await expect(stop).to_be_visible()
        await expect(stop).to_be_focused()
        await expect(page.locator("#call-status")).to_have_text("Du deler din skærm. De andre kan se den.")
        sent = (await page.evaluate(SENT_VIDEO))[0]
        assert sent["id"] != camera["id"] and sent["settings"].get("displaySurface"), sent  # a screen, window or tab

        # The citizen sees who shares, in words over the picture and in the status line, the screen uncropped.
        label = citizen.locator("#videos .call__screen-label")
        await expect(label).to_have_text("Worker deler sin skærm")
        await expect(label).to_be_visible()
        await expect(citizen.locator("#call-status")).to_have_text("Worker deler sin skærm")
        fit = await citizen.locator(".call__tile--screen video").evaluate("(v) => getComputedStyle(v).objectFit")
        assert fit == "contain"
        await grows(citizen, "frames")
        await assert_accessible(citizen)
        await assert_accessible(page)
        await screenshot(citizen, "call-screen-shared-phone.png")

        # One tap stops it: the camera goes again, and the citizen is told.
        await stop.click()
        await expect(stop).to_be_hidden()
        await expect(page.locator("#call-status")).to_have_text(
            "Du deler ikke længere din skærm. De andre ser dit kamera igen."
        )
        assert (await page.evaluate(SENT_VIDEO))[0]["id"] == camera["id"]
        await expect(label).to_be_hidden()
        await expect(citizen.locator("#call-status")).to_have_text("Worker deler ikke længere sin skærm.")
        await grows(citizen, "frames")

        # The browser's own "Stop sharing" (the screen track ends) does the same.
        await page.get_by_role("button", name="Mere").click()
        await page.get_by_role("button", name="Del skærm").click()
        await expect(label).to_be_visible()
        await page.evaluate("""() => { for (const pc of window.__pcs) for (const s of pc.getSenders())
          if (s.track && s.track.kind === "video" && s.track.getSettings().displaySurface) {
            s.track.stop(); s.track.dispatchEvent(new Event("ended")); } }""")
        await expect(stop).to_be_hidden()
        await expect(label).to_be_hidden()
        assert (await page.evaluate(SENT_VIDEO))[0]["id"] == camera["id"]
    finally:
        await context.close()


async def test_share_screen_is_not_offered_where_the_browser_cannot(browser, site, page, world, log_in):
    site.clock.advance(days=1, minutes=-10)
    await page.add_init_script(NO_DISPLAY_MEDIA)
    await worker_in_call(page, world, log_in)
    await page.get_by_role("button", name="Mere").click()
    await expect(page.get_by_role("button", name="Kun lyd")).to_be_visible()
    await expect(page.locator("#share-screen")).to_be_hidden()
    # A phone (its browser may have the function, but refuses): the citizen's phone page does not offer it either.
    phone = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
    context, citizen = await open_page(browser, site, phone=True, user_agent=phone)
    try:
        await citizen.goto(f"/l/{world.a.citizen.link_token}")  # the call is open: the link opens it
        await citizen.wait_for_function("() => document.getElementById('self-video')?.videoWidth > 0")
        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        await citizen.get_by_role("button", name="Mere").click()
        await expect(citizen.get_by_role("button", name="Kun lyd")).to_be_visible()
        await expect(citizen.locator("#share-screen")).to_be_hidden()
    finally:
        await context.close()


async def test_a_blurred_background_from_before_joining(
    browser, site, page, world, log_in, assert_accessible, screenshot
):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    context, citizen = await citizen_waiting(browser, site, world)
    hosts = set()
    context.on("request", lambda request: hosts.add(urlsplit(request.url).netloc))
    await context.add_init_script(GENEROUS_BUDGET)
    try:
        response = await citizen.reload()
        # Compiling the model's WebAssembly is allowed on the call page, and only there.
        assert "'wasm-unsafe-eval'" in response.headers["content-security-policy"]
        elsewhere = await context.request.get(f"{site.url}/login")
        assert "wasm" not in elsewhere.headers["content-security-policy"]
        await citizen.wait_for_function("() => document.getElementById('self-video')?.videoWidth > 0")
        camera = await citizen.evaluate(SELF_TRACK)
        toggle = citizen.get_by_role("button", name="Slør baggrund")
        await toggle.click()
        await expect(toggle).to_have_attribute("aria-pressed", "true")
        await expect(citizen.locator("#call-status")).to_have_text("Din baggrund er sløret.", timeout=60000)
        await assert_accessible(citizen)
        await screenshot(citizen, "call-blur-prejoin.png")
        preview = await citizen.evaluate(SELF_TRACK)

        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        await page.get_by_role("button", name="Luk Citizen ind").click()
        await grows(page, "frames", by=3, timeout=30)
        sent = await citizen.evaluate(SENT_VIDEO)
        # What the worker receives is the blurred canvas's track (the one the preview shows), never the camera's.
        assert [track["id"] for track in sent] == [preview] and preview != camera, sent
        await citizen.wait_for_function("() => window.vbBlurStats && window.vbBlurStats.frames >= 5", timeout=30000)
        stats = await citizen.evaluate("() => window.vbBlurStats")
        print(
            f"\nblur: {stats['msPerFrame']:.1f} ms/frame over {stats['frames']} frames at "
            f"{stats['width']}x{stats['height']} (software WebGL, headless Chromium)"
        )
        # The model, its runtime and the loader came from the app itself: no other host was asked for anything.
        assert hosts == {urlsplit(site.url).netloc}, hosts

        # In the call, from "More": off again, and the camera is sent as it is.
        await citizen.get_by_role("button", name="Mere").click()
        in_call = citizen.locator("#blur")
        await expect(in_call).to_have_attribute("aria-pressed", "true")
        await assert_accessible(citizen)
        await in_call.click()
        await expect(in_call).to_have_attribute("aria-pressed", "false")
        # replaceTrack is asynchronous: wait for the camera's own track to be what is sent and shown.
        await citizen.wait_for_function(
            f"(camera) => JSON.stringify(({SENT_VIDEO})().map((t) => t.id)) === JSON.stringify([camera])"
            f" && ({SELF_TRACK})() === camera",
            arg=camera,
        )
    finally:
        await context.close()


async def test_blur_that_cannot_load_turns_the_camera_off(browser, site, page, world, log_in):
    site.clock.advance(days=1, minutes=-10)
    await worker_in_call(page, world, log_in)
    context, citizen = await citizen_waiting(browser, site, world)
    await context.route(re.compile(r"/static/vendor/mediapipe/.*\.wasm"), lambda route: route.abort())
    try:
        await admitted(page, citizen)
        camera = await citizen.evaluate(SELF_TRACK)
        await citizen.get_by_role("button", name="Mere").click()
        await citizen.locator("#blur").click()
        await expect(citizen.locator("#call-status")).to_have_text(
            "Din baggrund kunne ikke sløres, så dit kamera er slukket. Tænd kameraet, hvis du vil ses uden sløring.",
            timeout=45000,
        )
        await expect(citizen.locator("#blur")).to_have_attribute("aria-pressed", "false")
        await expect(citizen.get_by_role("button", name="Tænd kameraet")).to_be_visible()
        # The camera's track is back in the sender, but switched off: the room is not shown unblurred.
        await citizen.wait_for_function(
            f"(camera) => ({SENT_VIDEO})().every((t) => t.id === camera && !t.enabled) && ({SENT_VIDEO})().length === 1",
            arg=camera,
        )
        await expect(page.locator("#videos figcaption", has_text="Citizen")).to_contain_text("kamera slået fra")
    finally:
        await context.close()
