// The worker's waiting notice, on every staff page of a worker but the call page (which shows its own waiting list):
// asks /worker/waiting every few seconds who waits in the worker's open calls and shows "Mette is waiting (2 min) —
// Let in" under the header, with the count in the tab's title; a new arrival also gets a short beep (Web Audio, no
// file), a line for screen readers and, if the worker allowed it, a browser notification. The ticks come from a
// dedicated worker (waiting_clock.js): a background tab's own timers are slowed to once a minute by Chromium after
// a few minutes, a worker's are not, and a waiting citizen is exactly what a worker in another tab must not miss.
// Plain JavaScript, no build step; texts come from the element's data attributes and are set with textContent.
"use strict";

(function () {
  const box = document.getElementById("waiting-notice");
  if (!box || !window.fetch) return;
  const list = box.querySelector(".waiting-notice__list");
  const announce = document.getElementById("waiting-announce");
  const text = box.dataset;
  const baseTitle = document.title;
  const SEEN = "vb-waiting-seen"; // arrivals already announced in this tab (so a page change does not beep again)
  let every = 3000;
  let inFlight = false;
  let stopped = false;
  let audio = null;
  let beeps = 0;

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (whole, key) => (key in values ? String(values[key]) : whole));
  }

  function seen() {
    try { return new Set(JSON.parse(sessionStorage.getItem(SEEN) || "[]")); } catch (e) { return new Set(); }
  }

  function remember(keys) {
    try { sessionStorage.setItem(SEEN, JSON.stringify(Array.from(keys))); } catch (e) { /* private mode */ }
  }

  function unlockAudio() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") audio.resume().catch(() => {});
    } catch (e) { audio = null; }
  }

  function beep() {
    unlockAudio(); // a browser lets a page play sound once the person has clicked or typed on it
    if (!audio) return;
    const start = audio.currentTime + 0.02;
    [[880, 0], [660, 0.22]].forEach(([frequency, offset]) => {
      const tone = audio.createOscillator();
      const gain = audio.createGain();
      tone.type = "sine";
      tone.frequency.value = frequency;
      gain.gain.setValueAtTime(0.0001, start + offset);
      gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + 0.2);
      tone.connect(gain).connect(audio.destination);
      tone.start(start + offset);
      tone.stop(start + offset + 0.22);
    });
    beeps += 1;
    box.dataset.beeps = String(beeps);
  }

  function notify(person) {
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      const note = new Notification(fill(text.textNotification, { name: person.name }), {
        body: text.textNotificationBody,
        tag: "vb-waiting-" + person.appointment + "-" + person.participant,
      });
      note.onclick = () => { window.focus(); window.location.href = person.url; note.close(); };
    } catch (e) { /* some browsers allow notifications only from a service worker: the page still shows it */ }
  }

  function line(person) {
    const minutes = Math.floor(person.waited_seconds / 60);
    return minutes < 1
      ? fill(text.textArrived, { name: person.name })
      : fill(text.textWaiting, { name: person.name, n: minutes });
  }

  function show(waiting) {
    list.replaceChildren(...waiting.map((person) => {
      const item = document.createElement("li");
      item.className = "waiting-notice__item";
      const what = document.createElement("span");
      what.textContent = line(person);
      const link = document.createElement("a");
      link.className = "button waiting-notice__admit";
      link.href = person.url;
      link.textContent = text.textAdmit;
      const whom = document.createElement("span");
      whom.className = "visually-hidden";
      whom.textContent = " – " + person.name;
      link.append(whom);
      item.append(what, " ", link);
      return item;
    }));
    list.hidden = waiting.length === 0;
    box.classList.toggle("waiting-notice--on", waiting.length > 0);
    document.title = waiting.length
      ? fill(text.textTitle, { count: waiting.length, name: waiting[0].name }) + " – " + baseTitle
      : baseTitle;
  }

  // "I'd like to talk to you": each citizen asking for a call, with "Call now" (a form posting to the citizen's
  // call-now address, answering the request) and "Propose a time" (the booking form, answering it when booked).
  let requestList = null;
  const ASKED = "vb-requests-seen";
  function showRequests(requests) {
    if (!requestList) {
      requestList = document.createElement("ul");
      requestList.className = "waiting-notice__requests";
      list.after(requestList);
    }
    requestList.replaceChildren(...requests.map((asking) => {
      const item = document.createElement("li");
      item.className = "waiting-notice__item waiting-notice__request";
      const what = document.createElement("span");
      what.textContent = fill(text.textAsks, { name: asking.name });
      const form = document.createElement("form");
      form.method = "post";
      form.action = asking.call_url;
      form.className = "waiting-notice__call";
      [["csrf_token", text.csrf], ["call_request", String(asking.request)]].forEach(([name, value]) => {
        const field = document.createElement("input");
        field.type = "hidden";
        field.name = name;
        field.value = value;
        form.append(field);
      });
      const call = document.createElement("button");
      call.type = "submit";
      call.className = "button waiting-notice__admit";
      call.textContent = text.textCall;
      const whom = document.createElement("span");
      whom.className = "visually-hidden";
      whom.textContent = " – " + asking.name;
      call.append(whom);
      form.append(call);
      const propose = document.createElement("a");
      propose.className = "button button--secondary waiting-notice__propose";
      propose.href = asking.propose_url;
      propose.textContent = text.textPropose;
      propose.append(whom.cloneNode(true));
      item.append(what, " ", form, " ", propose);
      return item;
    }));
    requestList.hidden = requests.length === 0;
    if (requests.length) box.classList.add("waiting-notice--on");
    let before;
    try { before = new Set(JSON.parse(sessionStorage.getItem(ASKED) || "[]")); } catch (e) { before = new Set(); }
    const fresh = requests.filter((r) => !before.has(r.request));
    try { sessionStorage.setItem(ASKED, JSON.stringify(requests.map((r) => r.request))); } catch (e) { /* private */ }
    if (fresh.length) {
      if (announce) announce.textContent = fresh.map((r) => fill(text.textAsks, { name: r.name })).join(". ");
      setTimeout(beep, 0);
    }
  }

  function arrived(waiting) {
    const before = seen();
    const now = new Set(waiting.map((p) => p.appointment + ":" + p.participant));
    const fresh = waiting.filter((p) => !before.has(p.appointment + ":" + p.participant));
    remember(now); // someone who left and comes back later is announced again
    if (!fresh.length) return;
    if (announce) announce.textContent = fresh.map(line).join(". ");
    // After the notice is drawn: starting the sound system can take a moment the first time.
    setTimeout(() => { beep(); fresh.forEach(notify); }, 0);
  }

  function stop() {
    stopped = true;
    if (clock) clock.terminate();
    if (fallback) clearInterval(fallback);
  }

  async function poll() {
    if (stopped || inFlight) return;
    inFlight = true;
    try {
      const response = await fetch(box.dataset.url, {
        headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store", redirect: "manual",
      });
      if (response.type === "opaqueredirect" || response.status === 401 || response.status === 403) {
        stop(); // signed out, or not a worker any more: nothing to ask for until the next page
        show([]);
        return;
      }
      if (!response.ok) return; // a passing outage (503): try again at the next tick
      const data = await response.json();
      show(data.waiting);
      arrived(data.waiting);
      showRequests(data.requests || []);
      box.dataset.updated = String(Date.now());
    } catch (e) {
      /* offline for a moment: the next tick tries again */
    } finally {
      inFlight = false;
    }
  }

  let clock = null;
  let fallback = null;
  try {
    clock = new Worker(box.dataset.clock);
    clock.onmessage = poll;
    clock.onerror = () => { clock = null; fallback = fallback || setInterval(poll, every); };
    clock.postMessage(every);
  } catch (e) {
    fallback = setInterval(poll, every);
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  ["pointerdown", "keydown"].forEach((name) => document.addEventListener(name, unlockAudio, { once: true }));
  poll();

  // Browser notifications are offered on the week page (worker/home.html) with a button, never asked for by
  // themselves.
  const ask = document.getElementById("waiting-notify");
  const DECLINED = "vb-notify-declined";
  if (ask && "Notification" in window && Notification.permission === "default") {
    let declined = false;
    try { declined = localStorage.getItem(DECLINED) === "1"; } catch (e) { /* private mode */ }
    ask.hidden = declined;
    ask.querySelector("[data-notify=yes]").addEventListener("click", () => {
      unlockAudio();
      Promise.resolve(Notification.requestPermission()).finally(() => { ask.hidden = true; });
    });
    ask.querySelector("[data-notify=no]").addEventListener("click", () => {
      try { localStorage.setItem(DECLINED, "1"); } catch (e) { /* private mode */ }
      ask.hidden = true;
    });
  }
})();
