// Autosave of a session note's draft: every few seconds while the text changes, and when the tab is hidden or
// closed (fetch with keepalive outlives the page), so no text is lost. The plain form still works without this.
// Plain JavaScript, no build step; messages come from the form's data attributes and are set with textContent.
"use strict";

(function () {
  const form = document.getElementById("note-form");
  if (!form) return;
  const status = document.getElementById("autosave-status");
  const fields = Array.from(form.querySelectorAll("textarea[data-autosave]"));
  const EVERY_MS = 4000;
  let lastSent = snapshot();
  let inFlight = false;

  function snapshot() {
    const body = {};
    fields.forEach((field) => { body[field.name] = field.value; });
    return JSON.stringify(body);
  }

  function say(text) { if (status) status.textContent = text; }

  function clock(iso) {
    const when = new Date(iso);
    const pad = (n) => String(n).padStart(2, "0");
    const separator = document.documentElement.lang === "da" ? "." : ":";
    return pad(when.getHours()) + separator + pad(when.getMinutes());
  }

  async function save(keepalive) {
    const body = snapshot();
    if (body === lastSent || (inFlight && !keepalive)) return;
    inFlight = true;
    try {
      const response = await fetch(form.dataset.draftUrl, {
        method: "POST",
        credentials: "same-origin",
        keepalive: keepalive,
        headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": form.dataset.csrf },
        body: body,
      });
      if (!response.ok) throw new Error(String(response.status));
      const saved = await response.json();
      lastSent = body;
      say((form.dataset.saved || "").replace("{time}", clock(saved.saved_at)));
    } catch (error) {
      if (!keepalive) say(form.dataset.failed || "");
    } finally {
      inFlight = false;
    }
  }

  setInterval(() => { save(false); }, EVERY_MS);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "hidden") save(true); });
  window.addEventListener("pagehide", () => { save(true); });
  // Submitting the form saves everything itself: no autosave racing it.
  form.addEventListener("submit", () => { lastSent = snapshot(); });
})();
