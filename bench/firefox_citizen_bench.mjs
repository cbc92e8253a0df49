// The citizen's side of bench/call_screen_bench.py in Firefox ESR (puppeteer-core over WebDriver BiDi): RUNS times,
// in a fresh browser context each time, open the personal link, go to the call, join as soon as the own picture
// shows, and report the time from opening the link to the first decoded video frame of the worker; then leave.
//
//   node bench/firefox_citizen_bench.mjs BASE_URL LINK_TOKEN APPOINTMENT_ID RUNS [FIREFOX]
//
// One JSON line per run on stdout ({"run": n, "ms": …}); {"error": …} and exit code 1 on a failure.
import puppeteer from "puppeteer-core";

const [base, linkToken, appointment, runs = "10", firefox = "/usr/bin/firefox-esr"] = process.argv.slice(2);
const out = (line) => process.stdout.write(JSON.stringify(line) + "\n");

// Before the page's script: note when the first video frame from anyone else has been decoded (getStats every 10 ms).
function firstFrame() {
  const Pc = window.RTCPeerConnection;
  const pcs = [];
  window.RTCPeerConnection = class extends Pc { constructor(...a) { super(...a); pcs.push(this); } };
  const poll = async () => {
    for (const pc of pcs) {
      for (const s of (await pc.getStats()).values()) {
        if (s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded > 0) { window.__firstFrame = Date.now(); return; }
      }
    }
    setTimeout(poll, 10);
  };
  poll();
}

async function until(page, what, expression, timeout = 30000) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(expression);
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

let browser;
try {
  browser = await puppeteer.launch({
    browser: "firefox", executablePath: firefox, headless: true,
    extraPrefsFirefox: {
      "media.navigator.streams.fake": true, "media.navigator.permission.disabled": true,
      "media.peerconnection.ice.loopback": true,
    },
  });
  for (let run = 1; run <= Number(runs); run++) {
    const context = await browser.createBrowserContext();
    const page = await context.newPage();
    await page.setViewport({ width: 360, height: 740 });
    await page.evaluateOnNewDocument(firstFrame);
    const opened = Date.now();
    await page.goto(`${base}/l/${linkToken}`);
    const call = await page.$(`a[href="/calls/${appointment}"]`);
    if (call) await Promise.all([page.waitForNavigation(), call.click()]);
    else await page.goto(`${base}/calls/${appointment}`);
    await until(page, "the own picture", `document.getElementById("self-video").videoWidth > 0`);
    await page.click("#join");
    const at = await until(page, "the first video frame", "window.__firstFrame").catch(async (error) => {
      const seen = await page.evaluate(`[document.getElementById("call").dataset.state, document.getElementById("call-status").textContent]`);
      throw new Error(`${error.message} (run ${run}: ${seen.join(": ")})`);
    });
    out({ run, ms: at - opened });
    await Promise.all([page.waitForNavigation(), page.click("#leave")]);
    await context.close();
  }
  await browser.close();
  process.exit(0);
} catch (error) {
  out({ error: String(error && error.stack || error) });
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}
