// The call page: pre-join (own camera, device choice, microphone level), join with a single-use ticket, waiting
// room, a mesh of peer connections (up to four people), chat, mute / camera / sound only, connection quality,
// one-click Leave, and reconnecting with the resume token. Protocol: docs/signaling.md; the screen: docs/call-page.md.
// Plain JavaScript modules, no build step. Text from other people is only ever set with textContent.
// call.html preloads the modules imported here (rel=modulepreload): keep its list in step with these imports.
import { LevelMeter, browserFamily, canChooseSpeaker, listDevices, openMedia, otherFacing } from "./media.js";
import { QualityMeter } from "./quality.js";
import { WaitingRoom, enhanceGuestForms } from "./host.js";
import { KeepAwake, Overlays, showCount } from "./screen.js";
import { Chat } from "./chat.js";
import { ScreenShare, canShareScreen, showScreen } from "./share.js";
import { Blur, canBlur } from "./blur.js";

const root = document.getElementById("call");
const $ = (id) => document.getElementById(id);
const text = (key, name, n) => (root.dataset[key] || "").replace("{name}", name || "").replace("{n}", String(n));
const isHost = root.dataset.host === "true";
const status = $("call-status");
const videos = $("videos");
const selfVideo = $("self-video");
const peers = new Map(); // participant id -> {pc, name, tile, state, videoSender}
const roster = new Map(); // participant id -> display name, as the server announced them
const meter = new LevelMeter($("mic-level"));
const quality = new QualityMeter();
const overlays = new Overlays(root);
const awake = new KeepAwake();
let waitingRoom = null;
let chat = null;
let socket = null;
let socketUp = false; // a socket is open and has been answered with `joined`
let self = null;
let resumeToken = null;
let localStream = null;
let leaving = false;
let retries = 0; // reconnect tries since a socket last opened
const RETRY_MAX_MS = 1000; // the longest wait between two tries
let reconnectTimer = null;
let pongDue = null; // the heartbeat ping not answered yet
let admitted = false;
let audioOnly = false;
let micOff = false;
let cameraOff = false;
let previewing = Promise.resolve(); // the camera and microphone being opened for the pre-join preview
let mediaUp = Promise.resolve(); // resolved as soon as the preview has its camera and microphone (before the lists)
let mediaOpened = () => {};
let rtcConfig = { iceServers: [] }; // from the ticket: STUN/TURN with short-lived credentials, and the policy
let early = null; // the join ticket asked for while the camera starts: { at, ticket (a promise) }
let spare = null; // a peer connection made ahead (certificate made, candidates gathered) for the next peer
let primed = null; // while waiting to be let in: the spare with her tracks and an offer set (prime())
const EARLY_TICKET_MS = 40000; // a ticket is valid a minute (calls.TICKET_SECONDS); an older early one is not used

// The one status line (role=status): quiet while all is well; "alert" shows it as a card over the video.
// A quiet line in the call fades after a few seconds; it stays in the status line for screen readers.
let quietTimer = null;
function say(message, tone = "") {
  status.textContent = message;
  root.classList.toggle("call--alert", tone === "alert");
  root.classList.remove("call--quiet");
  clearTimeout(quietTimer);
  if (!tone) quietTimer = setTimeout(() => { if (root.dataset.state === "incall" && peers.size) root.classList.add("call--quiet"); }, 4000);
}

function setState(state) { root.dataset.state = state; }

// -- before joining ---------------------------------------------------------------------------------------------
async function preview(withVideo = true, facing = null) {
  if (localStream) localStream.getTracks().forEach((track) => track.stop());
  const camera = $("camera-select");
  const mic = $("mic-select");
  const { stream, problem, denied } = await openMedia(camera && camera.value, mic && mic.value, withVideo, facing);
  if (leaving) { // left while the browser was still asking: nothing may stay on
    if (stream) stream.getTracks().forEach((track) => track.stop());
    return;
  }
  localStream = stream;
  tracks("audio").forEach((t) => { t.enabled = !micOff; });
  tracks("video").forEach((t) => { t.enabled = !cameraOff; });
  selfVideo.srcObject = stream;
  selfVideo.hidden = !stream || stream.getVideoTracks().length === 0;
  mediaOpened();
  if (blur.on) { blur.source(tracks("video")[0]); selfVideo.srcObject = new MediaStream([blur.track]); }
  ["blur-prejoin", "blur"].forEach((id) => { $(id).hidden = !canBlur() || tracks("video").length === 0; });
  if (root.dataset.state === "prejoin") meter.attach(stream); // in the call the level meter is not shown
  const found = await listDevices(camera, mic, stream, $("speaker-select")).catch(() => ({ cameras: 0, speakers: 0 }));
  $("switch-camera").hidden = found.cameras < 2;
  $("speaker-field").hidden = found.speakers === 0;
  explain(problem, denied);
}

function explain(problem, denied) {
  const help = $("media-help");
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

async function switchDevice(facing = null) {
  await preview(!audioOnly, facing);
  // In a call, the peers get the new tracks without renegotiating.
  peers.forEach((entry) => {
    entry.pc.getSenders().forEach((sender) => {
      const kind = sender.track ? sender.track.kind : (sender === entry.videoSender ? "video" : null);
      const track = kind === "video" ? outgoingVideo() : kind && localStream ? localStream.getTracks().find((t) => t.kind === kind) : null;
      if (track) sender.replaceTrack(track).catch(() => {});
    });
  });
}

// The front or back camera of a phone (facingMode); elsewhere the next camera in the list.
async function switchCamera() {
  const facing = otherFacing(tracks("video")[0]);
  const select = $("camera-select");
  if (!facing && select.options.length > 1) select.selectedIndex = (select.selectedIndex + 1) % select.options.length;
  await switchDevice(facing);
}

function chooseSpeaker() {
  const id = $("speaker-select").value;
  videos.querySelectorAll("video:not(#self-video)").forEach((video) => { video.setSinkId(id).catch(() => {}); });
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

// Joining fast (docs/call-page.md, "Speed"): the ticket and the ICE servers are asked for while the camera starts,
// not after the tap on Join, and a peer connection is made ready meanwhile. The ticket stays single-use and bound to
// this browser session; the socket is only opened, and the waiting room only entered, on Join. A guest types her
// name first, so her ticket is asked for on Join.
function askEarly() {
  if ($("guest-name")) return;
  const asked = { at: Date.now(), ticket: ticket() };
  asked.ticket.then(() => { prepareSpare(); mediaUp.then(prime); }, () => {});
  early = asked;
}

function takeTicket() {
  const asked = early;
  early = null;
  if (asked && Date.now() - asked.at < EARLY_TICKET_MS) return asked.ticket.catch(() => ticket());
  return ticket();
}

function prepareSpare() {
  if (spare || leaving) return;
  spare = { config: rtcConfig, pc: new RTCPeerConnection({ ...rtcConfig, iceCandidatePoolSize: 1 }) };
}

function takeSpare() {
  const made = spare;
  spare = null;
  if (made && made.config === rtcConfig && made.pc.signalingState === "stable") return made.pc;
  if (made) made.pc.close();
  return new RTCPeerConnection(rtcConfig);
}

function send(message) {
  if (!socket || socket.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(message));
  return true;
}

function open(first) {
  const scheme = location.protocol === "https:" ? "wss://" : "ws://";
  const ws = new WebSocket(scheme + location.host + root.dataset.socket);
  socket = ws;
  ws.onopen = () => { retries = 0; send(first); }; // a socket that opens starts the back-off afresh
  ws.onmessage = (event) => {
    let message;
    try { message = JSON.parse(event.data); } catch (e) { return; }
    handle(message).catch(() => {});
  };
  ws.onclose = (event) => { if (ws === socket) closed(event.code); };
}

// A socket that stopped answering (the network went away without a close): give it up and reconnect now.
function abandon() {
  const ws = socket;
  socket = null;
  if (ws) { ws.onclose = null; ws.close(); }
  closed(1006);
}

// What a closed socket means (docs/signaling.md, close codes): stop, join again, or resume after a back-off.
function closed(code) {
  socketUp = false;
  pongDue = null;
  if (chat) chat.cutOff();
  if (leaving || code === 1000) return;
  if (code === 4005) { finish(); return; }
  if (code === 4004) { stop(text("textElsewhere")); return; }
  if (code === 4010) { stop(text("textRemoved")); return; }
  if (code === 4006) { stop(text("textFull")); return; }
  if (code === 4001 || !resumeToken) { stop(text("textRefused")); return; }
  root.classList.add("call--reconnecting");
  say(navigator.onLine ? text("textReconnecting") : text("textOffline"), "alert");
  // 0.3, 0.6 s, then every second: a server that restarts is found within a second of being back (an 8 s cap found
  // it up to 8 s late). The count starts again whenever a socket opens (open()); data-retry says which try this is.
  const delay = Math.min(RETRY_MAX_MS, 300 * 2 ** retries++) * (0.9 + Math.random() * 0.2);
  root.dataset.retry = String(retries);
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(() => reconnect(code), delay);
}

async function reconnect(code) {
  reconnectTimer = null;
  if (leaving) return;
  if (code === 4002) { // our place was given up: join again (a guest waits to be let in again)
    try { open({ type: "join", ticket: await ticket() }); } catch (e) { closed(1006); }
  } else {
    open({ type: "resume", token: resumeToken });
  }
}

// Our own network: when it goes, say so (not that the others lost theirs); when it is back, reconnect at once, or
// check that the socket still answers.
window.addEventListener("offline", () => {
  if (!leaving && socket && !["prejoin", "ended"].includes(root.dataset.state)) say(text("textOffline"), "alert");
});
window.addEventListener("online", () => {
  if (leaving) return;
  if (reconnectTimer) {
    clearTimeout(reconnectTimer);
    retries = 0;
    reconnect(1006);
    return;
  }
  if (socket && socketUp) probeServer(() => { if (status.textContent === text("textOffline")) say(text("textReconnected")); }, abandon);
});

// Does the server still answer? A ping with its own number; silent() when no pong comes within 3 s.
let probe = null;
function probeServer(answered, silent) {
  const number = Date.now();
  const timer = setTimeout(() => { if (probe && probe.number === number) { probe = null; silent(); } }, 3000);
  probe = { number, answered: () => { clearTimeout(timer); answered(); } };
  if (!send({ type: "ping", ts: number })) { clearTimeout(timer); probe = null; silent(); }
}

// A peer connection went "disconnected": is it them or us? Offline, or no answer from the server, means us.
// Otherwise it is them (the server tells us too, with participant_reconnecting, when their socket drops).
function whoseConnection(entry) {
  const ours = () => say(text("textOffline"), "alert");
  if (!navigator.onLine || !socketUp) { ours(); return; }
  probeServer(() => {
    if (entry.pc.connectionState === "disconnected") say(text("textOtherReconnecting", entry.name), "alert");
  }, ours);
}

// -- the mesh ----------------------------------------------------------------------------------------------------
function tile(id, name) {
  const figure = document.createElement("figure");
  figure.className = "call__tile";
  figure.id = "tile-" + id;
  figure.dataset.initial = (name || "?").trim().charAt(0).toUpperCase();
  const video = document.createElement("video");
  video.autoplay = true;
  video.playsInline = true;
  video.setAttribute("aria-label", name);
  const speaker = $("speaker-select");
  if (speaker && speaker.value && canChooseSpeaker()) video.setSinkId(speaker.value).catch(() => {});
  const caption = document.createElement("figcaption");
  caption.textContent = name;
  figure.append(video, caption);
  videos.append(figure);
  return figure;
}

function countTiles() { videos.dataset.count = String(peers.size); }

// What this page sends a new peer: the microphone, and the camera (or the shared screen, or the blurred camera).
function outgoing() {
  return localStream ? localStream.getTracks().map((track) => (track.kind === "video" ? outgoingVideo() || track : track)) : [];
}

function addOwnTracks(pc) {
  const sent = outgoing();
  let videoSender = null;
  sent.forEach((track) => {
    const sender = pc.addTrack(track, localStream);
    if (track.kind === "video") videoSender = sender;
  });
  // Without a camera or microphone of our own we still receive the others' sound and picture.
  ["audio", "video"].forEach((kind) => {
    if (!sent.some((t) => t.kind === kind)) pc.addTransceiver(kind, { direction: "recvonly" });
  });
  return { sent, videoSender };
}

// Before she is let in, her offer to the first person in the call is made ahead on the spare connection (her tracks
// added, the offer set, candidates gathered): from the moment the ICE servers and her camera are known, and again on
// entering the waiting room if what she sends changed meanwhile (another camera, sound only, blur, a new ticket).
// Admitted, it goes out at once (docs/call-page.md, Speed).
function fresh(made) {
  const now = outgoing();
  return made.config === rtcConfig && made.sent.length === now.length && made.sent.every((track, i) => track === now[i]);
}

function prime() {
  if (isHost || leaving || admitted || (primed && fresh(primed))) return;
  if (primed) primed.pc.close();
  const made = { config: rtcConfig, pc: takeSpare(), candidates: [] };
  Object.assign(made, addOwnTracks(made.pc));
  made.pc.onicecandidate = (event) => made.candidates.push(event.candidate ? event.candidate.toJSON() : null);
  made.ready = made.pc.setLocalDescription().catch(() => {}); // the offer, made and set in one step
  primed = made;
}

async function takePrimed() {
  const made = primed;
  primed = null;
  if (!made) return null;
  await made.ready; // admitted the moment she started waiting: the offer is a few ms from ready
  if (fresh(made) && made.pc.signalingState === "have-local-offer") return made;
  made.pc.close();
  return null;
}

function peer(id, made = null) {
  let entry = peers.get(id);
  if (entry) return entry;
  const name = roster.get(id) || "";
  const pc = made ? made.pc : takeSpare();
  entry = { pc, name, tile: tile(id, name), state: {}, videoSender: null };
  peers.set(id, entry);
  if (peers.size < 3) setTimeout(prepareSpare, 0); // ready for the next one (at most four people in a call)
  countTiles();
  entry.videoSender = (made || addOwnTracks(pc)).videoSender;
  pc.onicecandidate = (event) => {
    send({ type: "candidate", to: id, candidate: event.candidate ? event.candidate.toJSON() : null });
  };
  pc.ontrack = (event) => { entry.tile.querySelector("video").srcObject = event.streams[0] || new MediaStream([event.track]); };
  pc.onconnectionstatechange = async () => {
    if (pc.connectionState === "connected") {
      root.classList.remove("call--reconnecting");
      say(text("textInCall"));
    }
    if (pc.connectionState === "disconnected") whoseConnection(entry);
    if (pc.connectionState === "failed" && self && self.id < id) {
      // The media path broke (network change): restart ICE; the lower id offers, so only one side does.
      await offer(id, { iceRestart: true });
    }
  };
  return entry;
}

async function offer(id, options) {
  if (!options && !peers.has(id)) {
    const made = await takePrimed();
    if (leaving || peers.has(id)) { if (made) made.pc.close(); return; } // left, or they offered meanwhile
    if (made) { // the offer made while waiting, then the candidates gathered for it
      send({ type: "offer", to: id, sdp: peer(id, made).pc.localDescription.sdp });
      made.candidates.forEach((candidate) => send({ type: "candidate", to: id, candidate }));
      return;
    }
  }
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
  countTiles();
}

async function enterCall(people) {
  // The newly admitted participant offers to those already in the call (docs/signaling.md).
  admitted = true;
  chat.admitted = true;
  setState("incall");
  $("open-chat").hidden = false;
  if (isHost) waitingRoom.show();
  for (const person of people || []) {
    if (!peers.has(person.id)) await offer(person.id);
  }
  if (primed) { primed.pc.close(); primed = null; prepareSpare(); } // nobody to offer to yet: they will offer
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
      socketUp = true;
      root.classList.remove("call--reconnecting");
      if (message.state === "waiting") { setState("waiting"); say(text("textWaiting")); prime(); }
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
      await pc.setLocalDescription(); // the answer, made and set in one step
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
      if (peers.has(message.participant) || isHost) say(text("textLeft", name), peers.has(message.participant) ? "alert" : "");
      drop(message.participant);
      present();
      break;
    }
    case "participant_reconnecting": say(text("textOtherReconnecting", roster.get(message.participant)), "alert"); break;
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
    case "chat": chat.received(roster.get(from) || "", message.text || ""); break;
    case "media": showMedia(from, message); break;
    case "pong":
      pongDue = null;
      if (probe && message.ts === probe.number) { const answered = probe.answered; probe = null; answered(); }
      if (typeof message.ts === "number") chat.pong(message.ts);
      break;
    case "error": chat.error(message); break;
    case "ended": finish(); break;
    default: break;
  }
}

// -- microphone, camera, sound only ------------------------------------------------------------------------------
function tracks(kind) { return localStream ? localStream.getTracks().filter((t) => t.kind === kind) : []; }

function mediaState() {
  const on = (kind) => (tracks(kind).some((t) => t.enabled && t.readyState === "live") ? "on" : "off");
  return { audio: on("audio"), video: audioOnly ? "off" : on("video") };
}

function announceMedia() {
  if (!admitted) return;
  const state = { ...mediaState(), audio_only: audioOnly ? "on" : "off", screen: share.active ? "on" : "off" };
  if (share.active) state.video = "on";
  send({ type: "media", ...state });
}

function showMedia(id, state) {
  const entry = peers.get(id);
  if (!entry) return;
  const notes = [];
  if (state.audio_only === "on") notes.push(text("textAudioOnlyState"));
  else if (state.video === "off") notes.push(text("textCameraOffState"));
  if (state.audio === "off") notes.push(text("textMutedState"));
  entry.tile.querySelector("figcaption").textContent = entry.name + (notes.length ? ` (${notes.join(", ")})` : "");
  entry.tile.classList.toggle("call__tile--no-video", state.video === "off");
  showScreen(entry.tile, state.screen === "on", text("textShareOther", entry.name), text("textShareOtherOff", entry.name), say);
}

// The microphone and camera buttons are named for what they do ("Turn microphone off"); the icon is crossed out
// and the button light while the microphone or camera is off.
function showToggle(button, off, onKey, offKey, icon) {
  button.setAttribute("aria-label", text(off ? onKey : offKey));
  button.classList.toggle("call__button--off", off);
  button.querySelector("use").setAttribute("href", off ? `#i-${icon}-off` : `#i-${icon}`);
}

function toggleMic() {
  micOff = !micOff;
  tracks("audio").forEach((t) => { t.enabled = !micOff; });
  showToggle($("mute"), micOff, "textUnmute", "textMute", "mic");
  announceMedia();
}

function toggleCamera() {
  cameraOff = !cameraOff;
  tracks("video").forEach((t) => { t.enabled = !cameraOff; });
  showToggle($("camera"), cameraOff, "textCameraOn", "textCameraOff", "camera");
  $("self-tile").classList.toggle("call__tile--no-video", cameraOff || audioOnly);
  announceMedia();
}

async function setAudioOnly(on) {
  const button = $("audio-only");
  if (on) {
    await share.stop();
    tracks("video").forEach((track) => { track.stop(); localStream.removeTrack(track); });
    blur.source(null);
    peers.forEach((entry) => { if (entry.videoSender) entry.videoSender.replaceTrack(null).catch(() => {}); });
  } else {
    const { stream } = await openMedia($("camera-select").value, null, true);
    const track = stream ? stream.getVideoTracks()[0] : null;
    if (stream) stream.getAudioTracks().forEach((t) => t.stop());
    if (leaving && track) track.stop();
    if (!track || leaving) return;
    track.enabled = !cameraOff;
    if (!localStream) localStream = new MediaStream();
    localStream.addTrack(track);
    selfVideo.srcObject = localStream;
    if (blur.on) { blur.source(track); selfVideo.srcObject = new MediaStream([blur.track]); }
    for (const [id, entry] of peers) {
      if (entry.videoSender) await entry.videoSender.replaceTrack(outgoingVideo());
      else { entry.videoSender = entry.pc.addTrack(outgoingVideo(), localStream); await offer(id); }
    }
  }
  audioOnly = on;
  selfVideo.hidden = on;
  $("camera").hidden = on || tracks("video").length === 0;
  $("self-tile").classList.toggle("call__tile--no-video", on || cameraOff);
  $("self-caption").textContent = text("textYou") + (on ? ` (${text("textAudioOnlyState")})` : "");
  button.setAttribute("aria-pressed", String(on));
  $("audio-only-word").textContent = text(on ? "textVideoBack" : "textAudioOnly");
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
  // A quick tap on Join still joins with the camera and microphone; it does not wait for the device lists.
  await Promise.race([previewing, mediaUp]).catch(() => {});
  try {
    open({ type: "join", ticket: await takeTicket() });
  } catch (error) {
    say(error.message || text("textRefused"));
    $("join").disabled = false;
    $("join-audio").disabled = false;
    return;
  }
  setState("connecting");
  $("devices-in-call").append($("devices")); // the device choice moves into "More"
  $("controls").hidden = false;
  const hasVideo = tracks("video").length > 0;
  $("camera").hidden = !hasVideo;
  $("audio-only").hidden = !hasVideo;
  $("share-screen").hidden = !canShareScreen();
  $("mute").hidden = tracks("audio").length === 0;
  meter.detach();
  awake.start();
  const first = [$("mute"), $("camera"), $("more")].find((button) => !button.hidden);
  first.focus();
}

// Everything off: peers, camera and microphone, the socket, the wake lock. Nothing turns them on again.
function stop(message) {
  leaving = true;
  clearTimeout(reconnectTimer);
  overlays.close({ restore: false });
  peers.forEach((entry, id) => drop(id));
  [spare, primed].forEach((made) => { if (made) made.pc.close(); });
  spare = null;
  primed = null;
  share.stop().catch(() => {});
  blur.stop();
  if (localStream) localStream.getTracks().forEach((track) => track.stop());
  localStream = null;
  selfVideo.srcObject = null;
  meter.detach();
  awake.stop();
  if (socket) socket.close(1000);
  setState("stopped");
  say(message);
  if (!$("controls").hidden) $("leave").focus(); // the one button left: back to your page
}

// Leave the call for the page after it (the citizen's page, the session note). The call page is replaced in the
// history, so Back does not open it again with the camera on.
function finish() {
  stop(text("textEnded"));
  window.location.replace(root.dataset.after);
}

// -- sharing the screen, a blurred background (share.js, blur.js) ---------------------------------------------------
// What goes to the others as video: the shared screen, else the blurred camera, else the camera.
function outgoingVideo() { return share.track || (blur.on ? blur.track : tracks("video")[0] || null); }

function videoSenders() { return [...peers.values()].map((entry) => entry.videoSender).filter(Boolean); }

const share = new ScreenShare({
  senders: videoSenders,
  camera: outgoingVideo,
  changed: (on) => {
    root.classList.toggle("call--sharing", on);
    $("stop-share").hidden = !on;
    $("share-screen").setAttribute("aria-pressed", String(on));
    say(text(on ? "textShareOn" : "textShareOff"));
    announceMedia();
    if (on) $("stop-share").focus();
  },
});

async function toggleShare() {
  if (share.active) { await share.stop(); return; }
  overlays.close({ restore: false });
  if (!(await share.start())) say(text("textShareFailed"));
}

const blur = new Blur({ problem: (reason) => blurStopped(reason) });

function showBlur(state) {
  root.dataset.blur = state;
  ["blur-prejoin", "blur"].forEach((id) => { $(id).setAttribute("aria-pressed", String(state !== "off")); });
}

// The camera as it is (no blur): in the preview and, unless a screen is shared, to the others.
function sendCamera() {
  selfVideo.srcObject = localStream;
  if (!share.active) videoSenders().forEach((sender) => sender.replaceTrack(tracks("video")[0] || null).catch(() => {}));
}

async function toggleBlur() {
  if (blur.on) {
    blur.stop();
    showBlur("off");
    sendCamera();
    say(text("textBlurOff"));
    return;
  }
  const camera = tracks("video")[0];
  if (!camera) return;
  const ready = blur.start(camera);
  // From now on only the canvas's track is shown and sent: it has no picture until the first blurred frame.
  selfVideo.srcObject = new MediaStream([blur.track]);
  if (!share.active) videoSenders().forEach((sender) => sender.replaceTrack(blur.track).catch(() => {}));
  showBlur("starting");
  say(text("textBlurStarting"));
  if (await ready) { showBlur("on"); say(text("textBlurOn")); }
}

// Blur could not start, or the device is too slow: the camera goes off rather than showing the room unblurred.
function blurStopped(reason) {
  if (!cameraOff) toggleCamera();
  showBlur("off");
  sendCamera();
  say(text(reason === "slow" ? "textBlurSlow" : "textBlurFailed"), "alert");
}

// -- the screen: "More", the chat, the worker's panel -------------------------------------------------------------
function openChat() {
  overlays.show("chat", $("chat"), { returnTo: $("more"), focus: $("chat-text") });
  chat.seen();
}

function unread(n) {
  const words = text("textUnread", "", n);
  showCount($("more-unread"), n, words);
  showCount($("chat-unread"), n, words);
}

function init() {
  chat = new Chat({
    log: $("chat-log"), form: $("chat-form"), input: $("chat-text"), text, send,
    isOpen: () => overlays.isOpen("chat"), unread, announce: (words) => { $("chat-news").textContent = words; },
  });
  if (isHost) {
    waitingRoom = new WaitingRoom(text, send, say, (n) => showCount($("panel-count"), n, text("textWaitingCount", "", n)));
    enhanceGuestForms(root.dataset.csrf);
    const panel = $("side-panel");
    $("open-panel").addEventListener("click", (e) => overlays.toggle("panel", panel, { trigger: e.currentTarget, className: "call--panel-open" }));
    $("panel-close").addEventListener("click", () => overlays.close());
    $("end").addEventListener("click", () => { send({ type: "end" }); finish(); });
  }
  $("join").addEventListener("click", join);
  $("join-audio").addEventListener("click", join);
  $("camera-select").addEventListener("change", () => switchDevice());
  $("mic-select").addEventListener("change", () => switchDevice());
  $("speaker-select").addEventListener("change", chooseSpeaker);
  $("switch-camera").addEventListener("click", () => switchCamera().catch(() => {}));
  $("leave").addEventListener("click", () => { send({ type: "leave" }); finish(); });
  $("mute").addEventListener("click", toggleMic);
  $("camera").addEventListener("click", toggleCamera);
  $("audio-only").addEventListener("click", () => setAudioOnly(!audioOnly).catch(() => {}));
  $("more").addEventListener("click", (e) => {
    const first = [...$("more-sheet").querySelectorAll(".call__item")].find((item) => !item.hidden);
    overlays.toggle("more", $("more-sheet"), { trigger: e.currentTarget, focus: first });
  });
  $("more-close").addEventListener("click", () => overlays.close());
  $("open-chat").addEventListener("click", openChat);
  $("share-screen").addEventListener("click", () => toggleShare().catch(() => {}));
  $("stop-share").addEventListener("click", () => share.stop().catch(() => {}));
  ["blur-prejoin", "blur"].forEach((id) => $(id).addEventListener("click", () => toggleBlur().catch(() => {})));
  $("chat-close").addEventListener("click", () => overlays.close());
  document.addEventListener("pointerdown", () => meter.wake(), { once: true });
  document.addEventListener("keydown", () => meter.wake(), { once: true });
  const again = $("join-again");
  if (again) {
    // After leaving, the page does not turn the camera on by itself: only "Join again" does.
    again.addEventListener("click", () => {
      again.parentElement.hidden = true;
      $("prejoin").hidden = false;
      setState("prejoin");
      askEarly();
      mediaUp = new Promise((resolve) => { mediaOpened = resolve; });
      previewing = preview();
      previewing.then(() => $("join").focus());
    });
  } else {
    askEarly();
    mediaUp = new Promise((resolve) => { mediaOpened = resolve; });
    previewing = preview();
  }
  setInterval(() => {
    if (!socketUp) return;
    if (pongDue !== null && Date.now() - pongDue > 15000) { abandon(); return; } // no answer to the last ping
    if (pongDue === null) pongDue = Date.now();
    send({ type: "ping" });
  }, 20000);
  setInterval(() => { measure().catch(() => {}); }, 3000);
}

if (root.classList.contains("call--screen")) init();
else if (isHost) enhanceGuestForms(root.dataset.csrf);
