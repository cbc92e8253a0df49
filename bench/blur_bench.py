#!/usr/bin/env python3
"""Blurred background benchmark: what one frame of web/static/js/call/blur.js costs in the browser (MediaPipe selfie
segmentation on the vendored WebAssembly and WebGL, then the canvas drawing with a 12 px blur), per picture size,
and what the page's own fallback does on this machine with its real budget.

Serves web/static/ on 127.0.0.1 with a small harness page (no app, no database) and opens it in Debian's Chromium
with a fake camera. For each of blur.js's LEVELS it runs FRAMES frames and prints the average milliseconds per
frame (the page's own measurement, `vbBlurStats`, which leaves out the first warm-up frames). Then blur runs once
with the page's real budget (three quarters of the frame time): it prints at which level the page settles, or that
it turned blur off as too slow (and the camera with it).

    .venv/bin/python bench/blur_bench.py [--frames 40] [--gpu]

Without --gpu Chromium draws WebGL in software (as in the browser tests and on a weak device without graphics
acceleration); --gpu lets it use the machine's graphics, as a person's browser would.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
from pathlib import Path

from aiohttp import web
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "web" / "static"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
HARNESS = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>blur bench</title></head><body>
<script type="module">
import { Blur, LEVELS } from "/static/js/call/blur.js";
const camera = (await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } })).getVideoTracks()[0];
const wait = (ms) => new Promise((r) => setTimeout(r, ms));
window.bench = async (frames) => {
  const results = [];
  for (let level = 0; level < LEVELS.length; level += 1) {
    globalThis.vbBlurBudgetMs = 1e9; // measure this level, whatever it costs
    globalThis.vbBlurStats = null;
    let problem = null;
    const blur = new Blur({ problem: (reason) => { problem = reason; } });
    const ready = blur.start(camera);
    blur.level = level;
    blur.size();
    if (!(await ready)) return { error: problem || "not ready" };
    while (!globalThis.vbBlurStats || globalThis.vbBlurStats.frames < frames) await wait(50);
    results.push({ ...globalThis.vbBlurStats });
    blur.stop();
  }
  // The page's real budget: where does it settle within 3 windows per level, or does it give up?
  delete globalThis.vbBlurBudgetMs;
  let problem = null;
  const blur = new Blur({ problem: (reason) => { problem = reason; } });
  await blur.start(camera);
  const until = Date.now() + 120000;
  while (!problem && Date.now() < until && (!globalThis.vbBlurStats || globalThis.vbBlurStats.frames < 60 * LEVELS.length)) await wait(100);
  const settled = problem ? { off: problem } : { level: blur.level, msPerFrame: blur.msPerFrame };
  blur.stop();
  return { results, settled };
};
window.benchReady = true;
</script></body></html>"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=40)
    parser.add_argument("--gpu", action="store_true")
    options = parser.parse_args()

    app = web.Application()
    app.router.add_get("/", lambda request: web.Response(text=HARNESS, content_type="text/html"))
    app.router.add_static("/static/", STATIC)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        async with async_playwright() as playwright:
            args = ARGS if options.gpu else [*ARGS, "--disable-gpu"]
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=args)
            page = await browser.new_page()
            await page.goto(f"http://127.0.0.1:{port}/")
            await page.wait_for_function("() => window.benchReady === true", timeout=30000)
            report = await page.evaluate("(frames) => window.bench(frames)", options.frames)
            await browser.close()
    finally:
        await runner.cleanup()
    if "error" in report:
        print("blur did not start:", json.dumps(report))
        return
    graphics = "GPU" if options.gpu else "software WebGL (--disable-gpu)"
    print(f"Blurred background, Chromium headless, {graphics}, {options.frames} frames per size:")
    for row in report["results"]:
        print(
            f"  {row['width']}x{row['height']} (level {row['level']}, {row['fps']} fps wanted): "
            f"{row['msPerFrame']:.1f} ms/frame"
        )
    settled = report["settled"]
    if "off" in settled:
        print(f"  with the page's real budget: turned off ({settled['off']}), the camera goes off with it")
    else:
        print(
            f"  with the page's real budget: settles at level {settled['level']} ({settled['msPerFrame']:.1f} ms/frame)"
        )


if __name__ == "__main__":
    asyncio.run(main())
