// The call page: pre-join (own camera, device choice, microphone level), join with a single-use ticket, waiting
// room, a mesh of peer connections (up to four people), chat, mute / camera / sound only, connection quality,
// one-click Leave, and reconnecting with the resume token. Protocol: docs/signaling.md. Plain JavaScript
// modules, no build step. Text from other people is only ever set with textContent.
import { LevelMeter, browserFamily, listDevices, openMedia } from "./media.js";
import { QualityMeter } from "./quality.js";
import { WaitingRoom, enhanceGuestForms } from "./host.js";

const root = document.getElementById("call");
const $ = (id) => document.getElementById(id);
const text = (key, name, n) => (root.dataset[key] || "").replace("{name}", name || "").replace("{n}", String(n));
const isHost = root.dataset.host === "true";
const status = $("call-status");
const videos = $("videos");
const selfVideo = $("self-video");
const peers = new Map(); // participant id -> {pc, name, tile, caption, state, videoSender}
const roster = new Map(); // participant id -> display name, as the server announced them
const meter = new LevelMeter($("mic-level"));
const quality = new QualityMeter();
const waitingRoom = isHost ? new WaitingRoom(text, send, say) : null;
let socket = null;
let self = null;
let resumeToken = null;
let localStream = null;
let leaving = false;
let retries = 0;
let admitted = false;
let audioOnly = false;
let rtcConfig = { iceServers: [] }; // from the ticket: STUN/TURN with short-lived credentials, and the policy

function say(message) { status.textContent = message; }

// -- before joining ---------------------------------------------------------------------------------------------
async function preview(withVideo = true) {
  if (localStream) localStream.getTracks().forEach((track) => track.stop());
  const camera = $("camera-select");
  const mic = $("mic-select");
  const { stream, problem, denied } = await openMedia(camera && camera.value, mic && mic.value, withVideo);
  localStream = stream;
  selfVideo.srcObject = stream;
  selfVideo.hidden = !stream || stream.getVideoTracks().length === 0;
  meter.attach(stream);
  await listDevices(camera, mic, stream).catch(() => {});
  explain(problem, denied);
}

function explain(problem, denied) {
  const help = $("media-help");
  if (!help) return;
  help.hidden = !problem;
  $("join").hidden = Boolean(problem);
  $("join-audio").hidden = !problem;
  if (!problem) return;
  const missing = !denied && problem === "no-media";
  $("media-help-problem").textContent = text(missing ? "textNoDevices" : problem === "no-camera" ? "textNoCamera" : "textNoMedia");
  const family = browserFamily(navigator.userAgent);
  $("media-help-how").textContent = missing ? "" : text("textHelp" + family[0].toUpperCase() + family.slice(1));
  $("join-audio").textContent = text(problem === "no-camera" ? "textJoinAudio" : "textJoinWithout");
}

async function switchDevice() {
  await preview(!audioOnly);
  // In a call, the peers get the new tracks without renegotiating.
  peers.forEach((entry) => {
    entry.pc.getSenders().forEach((sender) => {
      const kind = sender.track ? sender.track.kind : (sender === entry.videoSender ? "video" : null);
      const track = kind && localStream ? localStream.getTracks().find((t) => t.kind === kind) : null;
      if (track) sender.replaceTrack(track).catch(() => {});
    });
  });
}

// -- the signalling socket -------------------------------------------------------------------------------------
async function ticket() {
  const name = $("guest-name");
  const response = await fetch(root.dataset.ticketUrl, {
    method: "POST", credentials: "same-origin",
    headers: { "X-CSRF-Token": root.dataset.csrf, "Accept": "application/json" },
    body: name ? new URLSearchParams({ name: name.value }) : undefined,
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(body.message || text("textRefused"));
  rtcConfig = { iceServers: body.ice_servers || [], iceTransportPolicy: body.ice_transport_policy || "all" };
  return body.ticket;
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function open(first) {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  socket = new WebSocket(scheme + location.host + root.dataset.socket);
  socket.onopen = () => { send(first); };
  socket.onmessage = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch (e) { return; }
    handle(message).catch(() => {});
  };
  socket.onclose = (event) => closed(event.code);
}

// What a closed socket means (docs/signaling.md, close codes): stop, join again, or resume after a back-off.
function closed(code) {
  if (leaving || code === 1000) return;
  if (code === 4005) { finish(); return; }
  if (code === 4004) { stop(text("textElsewhere")); return; }
  if (code === 4010) { stop(text("textRemoved")); return; }
  if (code === 4006) { stop(text("textFull")); return; }
  if (code === 4001 || !resumeToken) { stop(text("textRefused")); return; }
  root.classList.add("call--reconnecting");
  say(text("textReconnecting"));
  const delay = Math.min(8000, 300 * 2 ** retries++);
  setTimeout(async () => {
    if (code === 4002) {  // our place was given up: join again (a guest waits to be let in again)
      try { open({ type: "join", ticket: await ticket() }); } catch (e) { closed(1006); }
    } else {
      open({ type: "resume", token: resumeToken });
    }
  }, delay);
}

// -- the mesh ----------------------------------------------------------------------------------------------------
function tile(id, name) {
  const figure = document.createElement("figure");
  figure.className = "call__tile";
  figure.id = "tile-" + id;
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute("aria-label", name);
  const caption = document.createElement("figcaption");
  caption.textContent = name;
  figure.append(video, caption);
  videos.append(figure);
  return figure;
}

function peer(id) {
  let entry = peers.get(id);
  if (entry) return entry;
  const name = roster.get(id) || "";
  const pc = new RTCPeerConnection(rtcConfig);
  entry = { pc, name, tile: tile(id, name), state: {}, videoSender: null };
  peers.set(id, entry);
  const tracks = localStream ? localStream.getTracks() : [];
  tracks.forEach((track) => {
    const sender = pc.addTrack(track, localStream);
    if (track.kind === "video") entry.videoSender = sender;
  });
  // Without a camera or microphone of our own we still receive the others' sound and picture.
  ["audio", "video"].forEach((kind) => {
    if (!tracks.some((t) => t.kind === kind)) pc.addTransceiver(kind, { direction: "recvonly" });
  });
  pc.onicecandidate = (event) => {
    send({ type: "candidate", to: id, candidate: event.candidate ? event.candidate.toJSON() : null });
  };
  pc.ontrack = (event) => { entry.tile.querySelector("video").srcObject = event.streams[0] || new MediaStream([event.track]); };
  pc.onconnectionstatechange = async () => {
    if (pc.connectionState === "connected") { root.classList.remove("call--reconnecting"); say(text("textInCall")); }
    if (pc.connectionState === "disconnected") say(text("textOtherReconnecting", entry.name));
    if (pc.connectionState === "failed" && self && self.id < id) {
      // The media path broke (network change): restart ICE; the lower id offers, so only one side does.
      await offer(id, { iceRestart: true });
    }
  };
  return entry;
}

async function offer(id, options) {
  const { pc } = peer(id);
  await pc.setLocalDescription(await pc.createOffer(options));
  send({ type: "offer", to: id, sdp: pc.localDescription.sdp });
}

function drop(id) {
  const entry = peers.get(id);
  if (!entry) return;
  entry.pc.close();
  entry.tile.remove();
  peers.delete(id);
  quality.forget(id);
}

async function enterCall(people) {
  // The newly admitted participant offers to those already in the call (docs/signaling.md).
  admitted = true;
  $("chat").hidden = false;
  if (isHost) waitingRoom.show();
  for (const person of people || []) {
    if (!peers.has(person.id)) await offer(person.id);
  }
  announceMedia();
  present();
}

function remember(people) {
  (people || []).forEach((person) => { if (person && person.id) roster.set(person.id, person.name || ""); });
}

// "In the call: You, Anna, Tolk" — who is present, in words.
function present() {
  const line = $("present");
  line.hidden = !admitted;
  const names = [...peers.values()].map((entry) => entry.name);
  line.textContent = names.length ? text("textPresent", names.join(", ")) : text("textPresentAlone");
}

// -- messages from the server -----------------------------------------------------------------------------------
async function handle(message) {
  const from = message.from;
  remember(message.participants);
  if (message.participant && message.participant.id) remember([message.participant]);
  switch (message.type) {
    case "joined": {
      const resumed = Boolean(self);
      self = message.self;
      resumeToken = message.resume || resumeToken;
      retries = 0;
      root.classList.remove("call--reconnecting");
      if (message.state === "waiting") say(text("textWaiting"));
      else if (resumed && admitted) say(text("textReconnected"));
      else say(isHost && !(message.participants || []).length ? text("textWaitingHost") : text("textConnecting"));
      if (message.state === "admitted" && !(resumed && admitted)) await enterCall(message.participants);
      break;
    }
    case "waiting": if (isHost) waitingRoom.add(message.participant, message.since); break;
    case "waiting_list": if (isHost) (message.participants || []).forEach((p) => waitingRoom.add(p, p.since)); break;
    case "admitted": say(text("textConnecting")); $("call-notice").hidden = true; await enterCall(message.participants); break;
    case "participant_joined":
      if (message.participant.id !== self.id) {
        say(text("textJoined", message.participant.name));
        if (isHost) waitingRoom.remove(message.participant.id);
      }
      break;
    case "offer": {
      const { pc } = peer(from);
      await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
      await pc.setLocalDescription(await pc.createAnswer());
      send({ type: "answer", to: from, sdp: pc.localDescription.sdp });
      present();
      announceMedia();
      break;
    }
    case "answer": { const entry = peers.get(from); if (entry) await entry.pc.setRemoteDescription({ type: "answer", sdp: message.sdp }); present(); break; }
    case "candidate": {
      const entry = peers.get(from);
      if (entry && message.candidate) await entry.pc.addIceCandidate(message.candidate);
      break;
    }
    case "participant_left": {
      const name = roster.get(message.participant) || "";
      if (isHost) waitingRoom.remove(message.participant);
      if (peers.has(message.participant) || isHost) say(text("textLeft", name));
      drop(message.participant);
      present();
      break;
    }
    case "participant_reconnecting": say(text("textOtherReconnecting", roster.get(message.participant))); break;
    case "participant_reconnected": say(text("textInCall")); break;
    case "notice": {
      const box = $("call-notice");
      const heading = document.createElement("strong");
      heading.textContent = text("textNoticeFrom") + " ";
      box.replaceChildren(heading, message.text || "");
      box.hidden = false;
      say(text("textNoticeFrom") + " " + (message.text || ""));
      break;
    }
    case "chat": addChat(roster.get(from) || "", message.text || ""); break;
    case "media": showMedia(from, message); break;
    case "ended": finish(); break;
    default: break;
  }
}

// -- chat (relayed, never stored) ---------------------------------------------------------------------------------
function addChat(name, words) {
  const item = document.createElement("li");
  const who = document.createElement("strong");
  who.textContent = name + ": ";
  item.append(who, document.createTextNode(words));
  $("chat-log").append(item);
}

$("chat-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("chat-text");
  const words = input.value.trim().slice(0, 500);
  if (!words || !admitted) return;
  send({ type: "chat", text: words });
  addChat(text("textChatYou"), words);
  input.value = "";
});

// -- microphone, camera, sound only ------------------------------------------------------------------------------
function tracks(kind) { return localStream ? localStream.getTracks().filter((t) => t.kind === kind) : []; }

function mediaState() {
  const on = (kind) => (tracks(kind).some((t) => t.enabled && t.readyState === "live") ? "on" : "off");
  return { audio: on("audio"), video: audioOnly ? "off" : on("video") };
}

function announceMedia() { if (admitted) send({ type: "media", ...mediaState(), audio_only: audioOnly ? "on" : "off" }); }

function showMedia(id, state) {
  const entry = peers.get(id);
  if (!entry) return;
  const notes = [];
  if (state.audio_only === "on") notes.push(text("textAudioOnlyState"));
  else if (state.video === "off") notes.push(text("textCameraOffState"));
  if (state.audio === "off") notes.push(text("textMutedState"));
  entry.tile.querySelector("figcaption").textContent = entry.name + (notes.length ? ` (${notes.join(", ")})` : "");
  entry.tile.classList.toggle("call__tile--no-video", state.video === "off");
}

function toggle(button, kind, onKey, offKey) {
  const off = button.getAttribute("aria-pressed") !== "true";
  tracks(kind).forEach((t) => { t.enabled = !off; });
  button.setAttribute("aria-pressed", String(off));
  button.textContent = text(off ? onKey : offKey);
  announceMedia();
}

async function setAudioOnly(on) {
  const button = $("audio-only");
  if (on) {
    tracks("video").forEach((track) => { track.stop(); localStream.removeTrack(track); });
    peers.forEach((entry) => { if (entry.videoSender) entry.videoSender.replaceTrack(null).catch(() => {}); });
  } else {
    const { stream } = await openMedia($("camera-select") && $("camera-select").value, null, true);
    const track = stream ? stream.getVideoTracks()[0] : null;
    stream && stream.getAudioTracks().forEach((t) => t.stop());
    if (!track) return;
    if (!localStream) localStream = new MediaStream();
    localStream.addTrack(track);
    selfVideo.srcObject = localStream;
    for (const [id, entry] of peers) {
      if (entry.videoSender) await entry.videoSender.replaceTrack(track);
      else { entry.videoSender = entry.pc.addTrack(track, localStream); await offer(id); }
    }
  }
  audioOnly = on;
  selfVideo.hidden = on;
  $("camera").hidden = on;
  $("self-caption").textContent = text("textYou") + (on ? ` (${text("textAudioOnlyState")})` : "");
  button.setAttribute("aria-pressed", String(on));
  button.textContent = text(on ? "textVideoBack" : "textAudioOnly");
  if (on) say(text("textYouAudioOnly"));
  announceMedia();
}

// -- connection quality ------------------------------------------------------------------------------------------
let lastType = null;
async function measure() {
  const result = await quality.measure(new Map([...peers].map(([id, entry]) => [id, entry.pc])));
  const line = $("quality");
  if (!result) { line.hidden = true; return; }
  line.hidden = false;
  line.dataset.level = result.level;
  $("quality-text").textContent = text("textQuality" + result.level[0].toUpperCase() + result.level.slice(1));
  const type = result.relayed ? "relayed" : "direct";
  if (type !== lastType) {
    lastType = type;
    send({ type: "stats", connection: type, rtt_ms: result.rttMs });
  }
}

// -- joining and leaving -----------------------------------------------------------------------------------------
async function join() {
  $("join").disabled = true;
  $("join-audio").disabled = true;
  say(text("textConnecting"));
  try {
    open({ type: "join", ticket: await ticket() });
  } catch (error) {
    say(error.message || text("textRefused"));
    $("join").disabled = false;
    $("join-audio").disabled = false;
    return;
  }
  $("prejoin").hidden = true;
  $("controls").hidden = false;
  const hasVideo = tracks("video").length > 0;
  $("camera").hidden = !hasVideo;
  $("audio-only").hidden = !hasVideo;
  $("mute").hidden = tracks("audio").length === 0;
  meter.detach();
  $("leave").focus();
}

function stop(message) {
  leaving = true;
  peers.forEach((entry, id) => drop(id));
  if (localStream) localStream.getTracks().forEach((track) => track.stop());
  if (socket) socket.close(1000);
  say(message);
}

function finish() {
  stop(text("textEnded"));
  window.location.assign(root.dataset.after);
}

if ($("prejoin")) {
  $("join").addEventListener("click", join);
  $("join-audio").addEventListener("click", join);
  $("camera-select").addEventListener("change", switchDevice);
  $("mic-select").addEventListener("change", switchDevice);
  document.addEventListener("pointerdown", () => meter.wake(), { once: true });
  document.addEventListener("keydown", () => meter.wake(), { once: true });
  preview();
}
$("leave").addEventListener("click", () => { send({ type: "leave" }); finish(); });
$("mute").addEventListener("click", (e) => toggle(e.currentTarget, "audio", "textUnmute", "textMute"));
$("camera").addEventListener("click", (e) => toggle(e.currentTarget, "video", "textCameraOn", "textCameraOff"));
$("audio-only").addEventListener("click", () => setAudioOnly(!audioOnly).catch(() => {}));
if (isHost) {
  $("end").addEventListener("click", () => { send({ type: "end" }); finish(); });
  enhanceGuestForms(root.dataset.csrf);
}
setInterval(() => send({ type: "ping" }), 20000);
setInterval(() => { measure().catch(() => {}); }, 3000);
