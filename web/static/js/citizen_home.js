// The citizen's start page. While their video session's call is about to open, the page reloads itself the moment
// the call opens, so the big button to go in is there without the citizen having to do anything. And every few
// seconds it asks /me/call whether a call has opened (the worker pressed "call now"): then the call card appears at
// the top by itself, with the button into the call, without a reload.
// Plain JavaScript, no build step; texts come from the page (data attributes, the server's JSON), set as textContent.
"use strict";

(function () {
  const card = document.querySelector("[data-reload-in]");
  if (card) {
    const seconds = Number(card.dataset.reloadIn);
    if (seconds > 0 && seconds <= 3600) setTimeout(() => window.location.reload(), seconds * 1000);
  }

  const live = document.getElementById("call-live");
  if (!live || !window.fetch) return;
  let every = 5000;
  let inFlight = false;
  let timer = 0;

  function show(call) {
    const section = document.createElement("section");
    section.className = "now-card";
    section.id = "now-live";
    section.setAttribute("aria-labelledby", "now-live-heading");
    const heading = document.createElement("h2");
    heading.id = "now-live-heading";
    heading.textContent = call.heading;
    const when = document.createElement("p");
    when.className = "now-card__when";
    when.textContent = call.when;
    const go = document.createElement("a");
    go.className = "button button--big button--call now-card__button";
    go.href = call.url;
    go.textContent = live.dataset.textButton;
    const line = document.createElement("p");
    line.append(go);
    section.append(heading, when, line);
    document.querySelectorAll("#now, #next").forEach((old) => { old.hidden = true; });
    live.replaceChildren(section);
    live.dataset.shown = String(call.id);
  }

  async function poll() {
    if (inFlight || document.hidden) return;
    inFlight = true;
    try {
      const response = await fetch(live.dataset.url, {
        headers: { Accept: "application/json" }, credentials: "same-origin", cache: "no-store", redirect: "manual",
      });
      if (!response.ok) return;
      const data = await response.json();
      if (data.poll_seconds > 0) every = data.poll_seconds * 1000;
      if (data.call && live.dataset.shown !== String(data.call.id)) show(data.call);
    } catch (e) {
      /* offline for a moment: the next tick tries again */
    } finally {
      inFlight = false;
      clearTimeout(timer);
      timer = setTimeout(poll, every);
    }
  }
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  timer = setTimeout(poll, 1000);
})();
