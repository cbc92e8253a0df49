// The call screen's furniture: what opens over the video (the "More" sheet, the chat, the worker's panel on a narrow
// screen) with the keyboard in mind, the small counts on the buttons, and keeping the screen awake during the call.

// One overlay open at a time. Opening one moves the focus into it; Escape or its close button closes it and puts
// the focus back on the button that opened it (or on a fallback when that button is gone).
export class Overlays {
  constructor(root) {
    this.root = root;
    this.open = null; // {name, element, trigger, returnTo}
    document.addEventListener("keydown", (event) => {
      if (event.key === "Escape" && this.open) { event.preventDefault(); this.close(); }
    });
  }

  // element: the overlay; trigger: the button whose aria-expanded tells its state (may be null);
  // returnTo: where the focus goes back to when it closes (default: the trigger).
  show(name, element, { trigger = null, returnTo = null, focus = null, className = null } = {}) {
    if (this.open && this.open.name === name) return;
    this.close({ restore: false });
    element.hidden = false;
    if (className) this.root.classList.add(className);
    if (trigger) trigger.setAttribute("aria-expanded", "true");
    this.open = { name, element, trigger, returnTo: returnTo || trigger, className };
    const target = focus || element.querySelector("button:not([hidden]), input, select, a[href]");
    if (target) target.focus();
  }

  close({ restore = true } = {}) {
    const open = this.open;
    if (!open) return;
    this.open = null;
    if (open.className) this.root.classList.remove(open.className);
    else open.element.hidden = true;
    if (open.trigger) open.trigger.setAttribute("aria-expanded", "false");
    if (restore && open.returnTo && !open.returnTo.hidden) open.returnTo.focus();
  }

  toggle(name, element, options) {
    if (this.isOpen(name)) this.close();
    else this.show(name, element, options);
  }

  isOpen(name) { return Boolean(this.open && this.open.name === name); }
}

// A small count on a button ("2"), with the same in words for screen readers.
export function showCount(badge, n, words) {
  if (!badge) return;
  badge.hidden = !n;
  if (!n) { badge.replaceChildren(); return; }
  const figure = document.createElement("span");
  figure.setAttribute("aria-hidden", "true");
  figure.textContent = String(n);
  const spoken = document.createElement("span");
  spoken.className = "visually-hidden";
  spoken.textContent = words;
  badge.replaceChildren(figure, spoken);
}

// The screen stays on during the call (Screen Wake Lock API, where the browser has it). The browser lets the lock go
// when the page is hidden; it is asked for again when the page is shown.
export class KeepAwake {
  constructor() {
    this.wanted = false;
    this.sentinel = null;
    document.addEventListener("visibilitychange", () => {
      if (this.wanted && document.visibilityState === "visible") this.request();
    });
  }

  start() { this.wanted = true; return this.request(); }

  async request() {
    if (!("wakeLock" in navigator) || (this.sentinel && !this.sentinel.released)) return;
    try {
      const sentinel = await navigator.wakeLock.request("screen");
      if (this.wanted) this.sentinel = sentinel;
      else sentinel.release().catch(() => {});
    } catch (error) {
      this.sentinel = null; // not allowed here (battery saver, no user gesture): the call goes on regardless
    }
  }

  stop() {
    this.wanted = false;
    if (this.sentinel) this.sentinel.release().catch(() => {});
    this.sentinel = null;
  }
}
