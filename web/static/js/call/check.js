// Before the call and while waiting (docs/call-page.md, "The guided check" and "The waiting room"):
// * the guided check in the pre-join panel — your picture, a microphone that visibly reacts, a short test sound
//   answered "Ja" / "Nej" ("Nej" gives short help), then "Du er klar". It only watches and advises: Join works at any
//   moment, and a refused camera or microphone keeps main.js's help and its sound-only way in;
// * the waiting room's "what if nobody comes": after a few minutes of waiting, whom to call.
// It reads what main.js shows (the own picture's stream, the level meter, the page's state) and changes nothing of
// main.js's, so the two can change apart.
import { canChooseSpeaker } from "./media.js";

const root = document.getElementById("call");
const $ = (id) => document.getElementById(id);
const list = $("check");
const text = (key) => (list ? list.dataset[key] || "" : "");
// A meter value (0–100) that means the microphone picks up sound, in this many readings (a tenth of a second apart, not
// necessarily in a row). Low on purpose: the check shows that the microphone is live and hears the room (Chromium's
// fake microphone reaches 3–4), not how well; a voice at a normal distance reads 15–60.
const HEARD = 2;
const HEARD_TIMES = 3;

const state = { picture: "no", mic: "no", sound: "no", heard: 0 };

function mark(item, done, says) {
  const element = $("check-" + item);
  if (!element || state[item] === done) return;
  state[item] = done;
  element.dataset.done = done;
  const line = element.querySelector(".call__check-says");
  if (says && line) line.textContent = says;
  ready();
}

// "Du er klar" when each part is either fine or not there at all (then the help above says what to do).
function ready() {
  const settled = (value) => value === "ok" || value === "none";
  const done = settled(state.picture) && settled(state.mic) && state.sound === "ok";
  $("check-ready").hidden = !done;
  return done;
}

// The own picture and the microphone, as main.js opened them: read from the preview's stream and the meter.
function watch() {
  if (root.dataset.state !== "prejoin") return;
  const video = $("self-video");
  const stream = video.srcObject;
  const live = (tracks) => tracks.some((t) => t.readyState === "live");
  const problem = !$("media-help").hidden; // main.js could not open the camera or the microphone
  if (stream && live(stream.getVideoTracks()) && video.videoWidth > 0 && !video.hidden) mark("picture", "ok", text("textPictureOk"));
  else if (problem && !(stream && live(stream.getVideoTracks()))) mark("picture", "none", text("textPictureNone"));
  if (stream && live(stream.getAudioTracks())) {
    state.heard = $("mic-level").value >= HEARD ? state.heard + 1 : state.heard;
    if (state.heard >= HEARD_TIMES) mark("mic", "ok", text("textMicOk"));
  } else if (problem) {
    mark("mic", "none", text("textMicNone"));
  }
}

// A short, friendly three-note chime made here (no file to load), played through the chosen speaker where the
// browser lets the page choose one (setSinkId), else through the default one. Resolves when it has played.
async function chime() {
  const AudioContext = window.AudioContext || window.webkitAudioContext;
  if (!AudioContext) throw new Error("no audio");
  const context = new AudioContext();
  await context.resume().catch(() => {});
  const gain = context.createGain();
  gain.gain.value = 0;
  let player = null;
  const speaker = $("speaker-select");
  if (speaker && speaker.value && canChooseSpeaker()) {
    const out = context.createMediaStreamDestination();
    gain.connect(out);
    player = new Audio();
    player.srcObject = out.stream;
    await player.setSinkId(speaker.value).catch(() => {});
    await player.play().catch(() => {});
  } else {
    gain.connect(context.destination);
  }
  const start = context.currentTime + 0.05;
  [523.25, 659.25, 783.99].forEach((frequency, i) => {
    const note = context.createOscillator();
    note.type = "sine";
    note.frequency.value = frequency;
    note.connect(gain);
    const at = start + i * 0.28;
    gain.gain.setValueAtTime(0, at);
    gain.gain.linearRampToValueAtTime(0.35, at + 0.03);
    gain.gain.exponentialRampToValueAtTime(0.001, at + 0.26);
    note.start(at);
    note.stop(at + 0.27);
  });
  await new Promise((resolve) => setTimeout(resolve, 950));
  if (player) { player.pause(); player.srcObject = null; }
  await context.close().catch(() => {});
}

async function playSound() {
  const item = $("check-sound");
  const play = $("sound-play");
  play.disabled = true;
  item.dataset.sound = "playing";
  try {
    await chime();
  } catch (error) {
    // No Web Audio here: the question is still asked, so the person is not stuck at this step.
  }
  play.disabled = false;
  item.dataset.sound = "asked";
  $("sound-question").hidden = false;
  $("sound-yes").focus();
}

function answer(heard) {
  $("sound-question").hidden = true;
  $("sound-help").hidden = heard;
  $("check-sound").dataset.sound = heard ? "heard" : "not-heard";
  $("sound-play").textContent = text("textPlayAgain");
  if (heard) {
    mark("sound", "ok", text("textSoundOk"));
    // Ready: straight on to Join (the one that shows: with a refused camera, "Join with sound only").
    const join = [$("join"), $("join-audio")].find((button) => !button.hidden);
    if (join) join.focus();
  } else {
    mark("sound", "no", "");
    $("sound-play").focus();
  }
}

// -- the waiting room: after a while, whom to call ----------------------------------------------------------------
let helpTimer = null;
function waitingChanged() {
  const lobby = $("lobby");
  if (!lobby) return;
  const waiting = root.dataset.state === "waiting";
  if (waiting && helpTimer === null) {
    const seconds = Number(lobby.dataset.helpAfter || "300");
    helpTimer = setTimeout(() => {
      if (root.dataset.state !== "waiting") return;
      $("lobby-help").hidden = false;
      const link = $("lobby-help").querySelector("a");
      $("lobby-news").textContent = $("lobby-help-text").textContent + (link ? " " + link.textContent : "");
    }, seconds * 1000);
  } else if (!waiting) {
    clearTimeout(helpTimer);
    helpTimer = null;
    $("lobby-help").hidden = true;
  }
}

if (list && root.classList.contains("call--screen")) {
  $("sound-play").addEventListener("click", () => { playSound().catch(() => {}); });
  $("sound-yes").addEventListener("click", () => answer(true));
  $("sound-no").addEventListener("click", () => answer(false));
  setInterval(watch, 100); // as often as the meter is drawn (media.js), so a short sound is not missed
  new MutationObserver(waitingChanged).observe(root, { attributes: true, attributeFilter: ["data-state"] });
  waitingChanged();
}
