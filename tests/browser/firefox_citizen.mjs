// The citizen's side of a call in Firefox ESR, driven by puppeteer-core over WebDriver BiDi (docs/call-page.md,
// WEBRTC-TESTING notes). Started by tests/browser/test_video_call.py, which plays the worker in Chromium:
//
//   node tests/browser/firefox_citizen.mjs BASE_URL LINK_TOKEN APPOINTMENT_ID [FIREFOX]
//
// Each step it reaches is one JSON line on stdout ({"step": ...}); it waits for the test's word on stdin ("resume",
// "leave") where the worker has to do something first. Any failure is a line {"error": ...} and exit code 1.
import puppeteer from "puppeteer-core";
import readline from "node:readline";

const [base, linkToken, appointment, firefox = "/usr/bin/firefox-esr"] = process.argv.slice(2);
const out = (line) => process.stdout.write(JSON.stringify(line) + "\n");
const words = readline.createInterface({ input: process.stdin })[Symbol.asyncIterator]();
const heard = async (word) => {
  const { value, done } = await words.next();
  if (done || value.trim() !== word) throw new Error(`expected "${word}" from the test, got ${done ? "the end" : value}`);
};

// Before the page's own script: keep the peer connections, the sockets, every status text and what was asked of the
// camera, so the steps can read them (test instrumentation, not part of the page).
function instrument() {
  const Pc = window.RTCPeerConnection;
  window.__pcs = [];
  window.RTCPeerConnection = class extends Pc { constructor(...a) { super(...a); window.__pcs.push(this); } };
  const Ws = window.WebSocket;
  window.__sockets = 0;
  window.WebSocket = class extends Ws { constructor(...a) { super(...a); window.__sockets += 1; } };
  window.__gum = 0;
  window.__tracks = [];
  if (navigator.mediaDevices) {
    const ask = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
    navigator.mediaDevices.getUserMedia = async (c) => {
      window.__gum += 1;
      const stream = await ask(c);
      window.__tracks.push(...stream.getTracks());
      return stream;
    };
  }
  window.__wakeLocks = []; // the screen wake locks the page holds (Firefox has the API since 126)
  if (navigator.wakeLock) {
    const request = navigator.wakeLock.request.bind(navigator.wakeLock);
    navigator.wakeLock.request = async (type) => { const lock = await request(type); window.__wakeLocks.push(lock); return lock; };
  }
  window.__statuses = [];
  document.addEventListener("DOMContentLoaded", () => {
    const status = document.getElementById("call-status");
    if (status) new MutationObserver(() => window.__statuses.push(status.textContent.trim()))
      .observe(status, { childList: true, characterData: true, subtree: true });
  });
}

const FRAMES = `(async () => {
  let frames = 0;
  for (const pc of window.__pcs.filter((pc) => pc.connectionState !== "closed")) {
    (await pc.getStats()).forEach((s) => { if (s.type === "inbound-rtp" && s.kind === "video") frames += s.framesDecoded || 0; });
  }
  return frames;
})()`;

async function until(page, what, expression, timeout = 20000) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(expression);
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function framesGrow(page, by = 5) {
  const start = await page.evaluate(FRAMES);
  await until(page, `${by} more video frames`, `(${FRAMES}).then((n) => n >= ${start + by} ? n : 0)`);
  return page.evaluate(FRAMES);
}

// As tests/browser/test_call_screen.py measures it: is the document no bigger than the viewport, and which controls
// that show lie outside it (inside the chat log or the side panel, the box that counts is theirs).
const FITS = `(() => {
  const shown = [...document.querySelectorAll("button, a[href], input:not([type=hidden]), select, textarea, video")]
    .filter((el) => el.getClientRects().length && !el.closest(".skip-link, .visually-hidden"))
    .filter((el) => getComputedStyle(el).visibility !== "hidden");
  const outside = shown.filter((el) => {
    const box = (el.closest(".call__chat-log, .call__side") || el).getBoundingClientRect();
    return box.left < -0.5 || box.top < -0.5 || box.right > innerWidth + 0.5 || box.bottom > innerHeight + 0.5;
  }).map((el) => el.id || el.outerHTML.slice(0, 70));
  const doc = document.documentElement;
  return { fits: doc.scrollWidth <= innerWidth && doc.scrollHeight <= innerHeight, outside, shown: shown.length };
})()`;

const statusIs = (words) => `document.getElementById("call-status").textContent.trim() === ${JSON.stringify(words)}`;

let browser;
try {
  const started = Date.now();
  browser = await puppeteer.launch({
    browser: "firefox", executablePath: firefox, headless: true,
    extraPrefsFirefox: {
      "media.navigator.streams.fake": true, "media.navigator.permission.disabled": true,
      "media.peerconnection.ice.loopback": true,
    },
  });
  const page = await browser.newPage();
  await page.setViewport({ width: 360, height: 740 });
  await page.evaluateOnNewDocument(instrument);
  out({ step: "started", version: await browser.version(), ms: Date.now() - started });

  // From the personal link to the call screen, own picture, Join, the waiting room.
  const opened = Date.now();
  await page.goto(`${base}/l/${linkToken}`);
  await page.goto(`${base}/calls/${appointment}`);
  await until(page, "the own picture", `document.getElementById("self-video")?.videoWidth > 0`);
  await until(page, "the Join button", `!document.getElementById("join").hidden`);
  await page.click("#join");
  await until(page, "the waiting room", statusIs("Din medarbejder lukker dig ind om lidt."));
  out({ step: "waiting", state: await page.evaluate(`document.getElementById("call").dataset.state`),
        geometry: await page.evaluate(FITS) });

  // The worker lets her in: the worker's video arrives.
  await until(page, "the worker's first video frame", `(${FRAMES}).then((n) => n > 0)`);
  const firstFrameMs = Date.now() - opened;
  await until(page, "the in-call status", statusIs("Du er med i samtalen."));
  out({ step: "in_call", frames: await framesGrow(page), first_frame_ms: firstFrameMs,
        sends_video: await page.evaluate(`window.__pcs.some((pc) => pc.getSenders().some((s) => s.track && s.track.kind === "video" && s.track.readyState === "live"))`),
        count: await page.evaluate(`document.getElementById("videos").dataset.count`),
        wake_lock_api: await page.evaluate(`"wakeLock" in navigator`),
        wake_locks: await page.evaluate(`window.__wakeLocks.filter((lock) => !lock.released).length`),
        geometry: await page.evaluate(FITS) });

  // The test drops her socket on the server; the page reconnects and resumes its place.
  await heard("resume");
  await until(page, "the connection to come back", statusIs("Forbindelsen er tilbage."));
  out({ step: "resumed", sockets: await page.evaluate("window.__sockets"), statuses: await page.evaluate("window.__statuses"),
        frames: await framesGrow(page) });

  // Leave: one click, her own page, and nothing turns the camera or microphone on there.
  await heard("leave");
  const before = await page.evaluate("window.__gum");
  await Promise.all([page.waitForNavigation(), page.click("#leave")]);
  await until(page, "her page", `location.pathname === "/me"`);
  await new Promise((r) => setTimeout(r, 1000));
  out({ step: "left", url: page.url(), asked_before: before, asked_after: await page.evaluate("window.__gum"),
        live_tracks: await page.evaluate("window.__tracks.filter((t) => t.readyState === 'live').length"),
        text: await page.evaluate(`document.querySelector("main").textContent`) });
  await browser.close();
  process.exit(0);
} catch (error) {
  out({ error: String(error && error.stack || error) });
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
