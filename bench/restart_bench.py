#!/usr/bin/env python3
"""Restart benchmark (issue 21, item 7): how long from the server's return to signalling being whole again, for a
call between two Chromium pages on the embedded default (one process, no Redis).

Starts `vbostotte serve --demo` as its own process on a fresh SQLite database (pinned to CPU 0 with taskset when
available; this process and the browser on CPU 1), adds a worker, a citizen with a personal link and a video
session whose call is open, and puts both in a call in Chromium (Playwright; the worker lets the citizen in at
once). Then, RUNS times, the server process is stopped — SIGTERM and SIGKILL in turn — left down for DOWN seconds,
and started again on the same port. Measured per run, from the moment the restarted server first answers /healthz
(polled every 10 ms):

* signalling whole: both pages have resumed their places (each page's status line says "Forbindelsen er tilbage.",
  noted with Date.now() in the page), the later of the two;
* media: whether the citizen's page decoded new video frames while the server was down (it should: the media goes
  peer to peer) and whether she is still in the call (not back in the waiting room) afterwards.

    .venv/bin/python bench/restart_bench.py [--runs 10] [--down 3]

Prints the median and p95 per stop signal and over all runs. Talks only to 127.0.0.1. Loopback, fake camera and
microphone: the figure is what the software costs (the page's reconnect back-off included), not a network's time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from call_screen_bench import CHROMIUM, CHROMIUM_ARGS, prepare, worker_in_call  # noqa: E402
from pages_bench import ROOT, free_port  # noqa: E402

# Before the page's script: note when the status line says the connection is back, and count decoded video frames.
RECORD = """(() => {
  window.__back = []; window.__statuses = [];
  const Pc = window.RTCPeerConnection, pcs = [];
  window.RTCPeerConnection = class extends Pc { constructor(...a) { super(...a); pcs.push(this); } };
  window.__frames = async () => {
    let frames = 0;
    for (const pc of pcs.filter((pc) => pc.connectionState !== "closed")) {
      (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0; });
    }
    return frames;
  };
  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("call-status");
    if (!status) return;
    new MutationObserver(() => {
      window.__statuses.push(status.textContent.trim());
      if (status.textContent.trim() === "Forbindelsen er tilbage.") window.__back.push(Date.now());
    }).observe(status, { childList: true, characterData: true, subtree: true });
  });
})();"""


# Both pages are measured as pages in front (a phone's call page is): no timer throttling of pages Chromium counts
# as in the background, which would let the page's reconnect timer fire up to a second late.
FOREGROUND = [
    "--disable-background-timer-throttling",
    "--disable-renderer-backgrounding",
    "--disable-backgrounding-occluded-windows",
]


def launch(data_dir: str, port: int) -> subprocess.Popen:
    """The server (again) on the data folder and port (as pages_bench.start_server, without reading its banner); its
    log goes to server.log in the data folder."""
    env = {**os.environ, "VB_DATA_DIR": data_dir, "VB_STAFF_MFA": "optional", "VB_LOG_LEVEL": "INFO"}
    command = [sys.executable, "-m", "vbostotte", "serve", "--demo", "--port", str(port)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
        os.sched_setaffinity(0, {1 % (os.cpu_count() or 1)})
    with open(Path(data_dir) / "server.log", "a") as log:
        return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


async def ready_at(base: str, timeout: float = 60.0) -> float:
    """Epoch milliseconds when the server first answers /healthz (polled every 10 ms)."""
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(base + "/healthz") as response:
                    if response.status == 200:
                        return time.time() * 1000
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.01)
    raise RuntimeError("the server did not come back")


async def citizen_in_call(browser, base: str, appointment: int, token: str):
    context = await browser.new_context(viewport={"width": 360, "height": 740}, base_url=base)
    context.set_default_timeout(30000)
    await context.add_init_script(RECORD)
    page = await context.new_page()
    await page.goto(f"/l/{token}")
    await page.goto(f"/calls/{appointment}")
    await page.wait_for_function("() => document.getElementById('self-video').videoWidth > 0")
    await page.locator("#join").click()
    await page.wait_for_function("() => document.getElementById('call').dataset.state === 'incall'")
    for _ in range(300):  # until her first frames of the worker's video are decoded
        if await page.evaluate("window.__frames()") > 0:
            break
        await asyncio.sleep(0.1)
    else:
        raise RuntimeError("no video in the call")
    return context, page


def summary(name: str, times: list[float]) -> str:
    if not times:
        return f"{name}: no runs"
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name}: median {statistics.median(ordered) / 1000:.2f} s, p95 {p95 / 1000:.2f} s, "
        f"min {ordered[0] / 1000:.2f} s, max {ordered[-1] / 1000:.2f} s over {len(ordered)} runs"
    )


async def main(runs: int, down: float) -> None:
    from playwright.async_api import async_playwright

    data_dir = tempfile.mkdtemp(prefix="vb-restart-bench-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = launch(data_dir, port)
    times: dict[str, list[float]] = {"SIGTERM": [], "SIGKILL": []}
    media_kept, still_in_call = 0, 0
    try:
        await ready_at(base)
        appointment, token, email = await prepare(data_dir, "restart")
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=[*CHROMIUM_ARGS, *FOREGROUND]
            )
            worker_context, worker = await worker_in_call(browser, base, appointment, email)
            await worker_context.add_init_script(RECORD)
            await worker.reload()  # the worker's page with the recorder (she joins again; the citizen is not there yet)
            await worker.wait_for_function("() => document.getElementById('self-video').videoWidth > 0")
            await worker.locator("#join").click()
            await worker.wait_for_function("() => document.getElementById('call').dataset.state === 'incall'")
            await worker.evaluate(
                """() => { const list = document.getElementById("waiting-list");
                new MutationObserver(() => list.querySelectorAll(".call__admit").forEach((b) => b.click()))
                  .observe(list, { childList: true }); }"""
            )
            citizen_context, citizen = await citizen_in_call(browser, base, appointment, token)
            for run in range(runs):
                how = signal.SIGTERM if run % 2 == 0 else signal.SIGKILL
                before = [len(await page.evaluate("window.__back")) for page in (citizen, worker)]
                proc.send_signal(how)
                proc.wait(timeout=30)
                frames = await citizen.evaluate("window.__frames()")
                await asyncio.sleep(down)
                media_kept += (await citizen.evaluate("window.__frames()")) > frames
                proc = launch(data_dir, port)
                back = await ready_at(base)
                whole = []
                for page, seen in zip((citizen, worker), before, strict=True):
                    try:
                        handle = await page.wait_for_function(
                            "(seen) => window.__back.length > seen && window.__back[seen]", arg=seen, timeout=60000
                        )
                    except Exception:  # say why: the server's log and what the page said
                        print((Path(data_dir) / "server.log").read_text()[-6000:])
                        raise RuntimeError(
                            f"a page did not resume: {await page.evaluate('window.__statuses')}"
                        ) from None
                    whole.append(await handle.json_value())
                times[how.name].append(max(whole) - back)
                still_in_call += await citizen.evaluate("document.getElementById('call').dataset.state") == "incall"
                print(
                    f"run {run + 1} ({how.name}): signalling whole {(max(whole) - back) / 1000:.2f} s after the return"
                )
                await asyncio.sleep(1.0)
            await citizen_context.close()
            await worker_context.close()
            await browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"down {down:.1f} s per restart; loopback, Chromium, embedded default (no Redis)")
    for name, measured in times.items():
        print(summary(f"{name}: server back -> signalling whole", measured))
    print(summary("all: server back -> signalling whole", times["SIGTERM"] + times["SIGKILL"]))
    print(f"video kept coming while the server was down: {media_kept}/{runs} runs")
    print(f"citizen still in the call after the restart (not waiting): {still_in_call}/{runs} runs")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--down", type=float, default=3.0, help="seconds the server stays down each time")
    args = parser.parse_args()
    asyncio.run(main(args.runs, args.down))
