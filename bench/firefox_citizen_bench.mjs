// The citizen's side of bench/call_screen_bench.py in Firefox ESR (puppeteer-core over WebDriver BiDi): RUNS times,
// in a fresh browser context each time, open the personal link, go to the call, join as soon as the own picture
// shows, and report the time from opening the link to the first decoded video frame of the worker; then leave.
//
//   node bench/firefox_citizen_bench.mjs BASE_URL LINK_TOKEN APPOINTMENT_ID RUNS [FIREFOX]
//
// One JSON line per run on stdout ({"run": n, "ms": …}); {"error": …} and exit code 1 on a failure.
import { readFileSync } from "node:fs";
import puppeteer from "puppeteer-core";

const [base, linkToken, appointment, runs = "10", firefox = "/usr/bin/firefox-esr"] = process.argv.slice(2);
const out = (line) => process.stdout.write(JSON.stringify(line) + "\n");

// Before the page's script: note when the first video frame from anyone else has been decoded (getStats every 10 ms),
// and when each step of joining happened (window.__t), as in bench/call_screen_bench.py.
const probe = readFileSync(new URL("./call_screen_probe.js", import.meta.url), "utf8");

async function until(page, what, expression, timeout = 30000) {
  const end = Date.now() + timeout;
  for (;;) {
    const value = await page.evaluate(expression).catch(() => null); // null while the page navigates
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
    await page.evaluateOnNewDocument(probe);
    const opened = Date.now();
    page.goto(`${base}/l/${linkToken}`).catch(() => {}); // the probe taps the call link and Join itself
    const at = await until(page, "the first video frame", "window.__firstFrame").catch(async (error) => {
      const seen = await page.evaluate(`[document.getElementById("call").dataset.state, document.getElementById("call-status").textContent]`);
      throw new Error(`${error.message} (run ${run}: ${seen.join(": ")})`);
    });
    const steps = Object.fromEntries(Object.entries(await page.evaluate("window.__t")).map(([k, v]) => [k, v - opened]));
    out({ run, ms: at - opened, steps });
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
