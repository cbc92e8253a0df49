// The worker's side of the call page: the waiting room (who waits, for how long, let in with one click, a short
// message to a waiting person) and the guest-link forms, sent in the background so the call goes on.

const $ = (id) => document.getElementById(id);

export class WaitingRoom {
  // text(key, name, n) gives a translated text; send(message) goes to the signalling server; say() announces.
  // counted(n) hears how many wait, for the count on the "People" button.
  constructor(text, send, say, counted = () => {}) {
    this.text = text;
    this.send = send;
    this.say = say;
    this.counted = counted;
    this.list = $("waiting-list");
    this.since = new Map(); // participant id -> epoch seconds they started waiting
    setInterval(() => this.tick(), 15000);
  }

  show() { $("waiting-panel").hidden = false; $("end-panel").hidden = false; }

  add(person, since) {
    if (!this.list || !person || this.since.has(person.id)) return;
    this.since.set(person.id, typeof since === "number" ? since : Date.now() / 1000);
    this.list.append(this.item(person));
    $("waiting-empty").hidden = true;
    this.counted(this.since.size);
    this.tick();
    this.say(this.text("textSomeoneWaiting", person.name));
  }

  remove(id) {
    const item = document.getElementById("waiting-" + id);
    if (item) item.remove();
    this.since.delete(id);
    $("waiting-empty").hidden = this.since.size > 0;
    this.counted(this.since.size);
  }

  item(person) {
    const item = document.createElement("li");
    item.id = "waiting-" + person.id;
    item.className = "call__waiting-item";
    const who = document.createElement("p");
    const name = document.createElement("strong");
    name.textContent = person.name;
    const waited = document.createElement("span");
    waited.className = "call__waited";
    who.append(name, " — ", waited);

    const admit = document.createElement("button");
    admit.type = "button";
    admit.className = "button call__admit";
    admit.textContent = this.text("textAdmit", person.name);
    admit.addEventListener("click", () => { this.send({ type: "admit", participant: person.id }); this.remove(person.id); });

    const form = document.createElement("form");
    form.className = "inline-form";
    const label = document.createElement("label");
    label.htmlFor = "notice-" + person.id;
    label.textContent = this.text("textNoticeLabel", person.name);
    const input = document.createElement("input");
    input.type = "text";
    input.id = "notice-" + person.id;
    input.maxLength = 200;
    input.value = this.text("textNoticeLate");
    const submit = document.createElement("button");
    submit.type = "submit";
    submit.className = "button button--secondary";
    submit.textContent = this.text("textNoticeSend");
    form.append(label, input, submit);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const words = input.value.trim().slice(0, 200);
      if (!words) return;
      this.send({ type: "notice", to: person.id, text: words });
      this.say(this.text("textNoticeSent", person.name));
    });
    item.append(who, admit, form);
    return item;
  }

  tick() {
    const now = Date.now() / 1000;
    this.since.forEach((since, id) => {
      const item = document.getElementById("waiting-" + id);
      if (!item) return;
      const minutes = Math.floor(Math.max(0, now - since) / 60);
      item.querySelector(".call__waited").textContent =
        minutes < 1 ? this.text("textWaitedNew") : this.text("textWaited", "", minutes);
    });
  }
}

// The guest-link forms (make, stop) are sent with fetch: submitting them normally would leave the call.
export function enhanceGuestForms(csrf) {
  const result = $("guest-result");
  document.querySelectorAll("form.guest-form").forEach((form) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const response = await fetch(form.action, {
        method: "POST", credentials: "same-origin", body: new URLSearchParams(new FormData(form)),
        headers: { "X-CSRF-Token": csrf, "Accept": "application/json" },
      });
      const body = await response.json().catch(() => ({}));
      result.hidden = false;
      result.replaceChildren();
      if (!response.ok) {
        result.className = "error-summary";
        result.textContent = body.message || String(response.status);
        return;
      }
      result.className = "notice";
      if (body.url) {
        const code = document.createElement("code");
        code.className = "link-out";
        code.textContent = body.url;
        result.append(`${body.name}: `, code);
      } else {
        const item = document.getElementById("guest-link-" + body.kind);
        if (item) item.remove();
        result.textContent = form.querySelector("button").textContent + " ✓";
      }
    });
  });
}
