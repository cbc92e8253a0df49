// The call's chat: relayed by the signalling server, never stored, shown with textContent only. The server does not
// acknowledge a chat line, so each one is followed by a ping with its own number: the server answers messages in
// order, so the pong means the line was taken, and an error about a chat before it means it was refused. Until
// then the line says "sending…"; refused, timed out or cut off, it says "not sent" and the words go back into the
// field. Lines that arrive while the chat is closed are counted for the unread badge and announced.

const ACK_SECONDS = 6;
let nextNumber = Date.now() % 1e9;

export class Chat {
  // text(key, name, n): translated texts; send(message) -> whether it went out; isOpen() -> whether the chat shows;
  // unread(n): show the count; announce(words): tell screen readers.
  constructor({ log, form, input, text, send, isOpen, unread, announce }) {
    Object.assign(this, { log, input, text, send, isOpen, unread, announce });
    this.admitted = false;
    this.pending = new Map(); // ping number -> the line waiting for it
    this.unseen = 0;
    form.addEventListener("submit", (event) => { event.preventDefault(); this.submit(); });
  }

  line(name, words) {
    const item = document.createElement("li");
    const who = document.createElement("strong");
    who.textContent = name + ": ";
    item.append(who, document.createTextNode(words));
    this.log.append(item);
    item.scrollIntoView({ block: "nearest" });
    return item;
  }

  submit() {
    const words = this.input.value.trim().slice(0, 500);
    if (!words || !this.admitted) return;
    const item = this.line(this.text("textChatYou"), words);
    item.classList.add("call__chat--mine");
    const state = document.createElement("span");
    state.className = "call__chat-state";
    state.textContent = " (" + this.text("textChatSending") + ")";
    item.append(state);
    item.dataset.words = words;
    this.input.value = "";
    const number = ++nextNumber;
    if (!this.send({ type: "chat", text: words }) || !this.send({ type: "ping", ts: number })) {
      this.failed(item);
      return;
    }
    this.pending.set(number, item);
    setTimeout(() => { if (this.pending.delete(number)) this.failed(item); }, ACK_SECONDS * 1000);
  }

  // The server answered the ping that followed a line: the line was taken.
  pong(number) {
    const item = this.pending.get(number);
    if (!item) return;
    this.pending.delete(number);
    item.querySelector(".call__chat-state").remove();
  }

  // An error reply: a refused chat line is the oldest one still waiting.
  error(message) {
    if (message.in_reply_to !== "chat" && message.code !== "rate_limited") return;
    const [number, item] = this.pending.entries().next().value || [];
    if (number === undefined) return;
    this.pending.delete(number);
    this.failed(item);
  }

  // The socket closed: whatever was not answered did not get through.
  cutOff() {
    this.pending.forEach((item) => this.failed(item));
    this.pending.clear();
  }

  failed(item) {
    item.classList.add("call__chat--failed");
    item.querySelector(".call__chat-state").textContent = " (" + this.text("textChatNotSent") + ")";
    if (!this.input.value) this.input.value = item.dataset.words || "";
  }

  received(name, words) {
    this.line(name, words);
    if (this.isOpen()) return;
    this.unseen += 1;
    this.unread(this.unseen);
    this.announce(this.text("textChatNew", name, words));
  }

  seen() {
    this.unseen = 0;
    this.unread(0);
  }
}
