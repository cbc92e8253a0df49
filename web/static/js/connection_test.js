// The connection test: send the camera and microphone to the server's echo peer, show what comes back,
// and report camera, microphone, connection (direct or via the relay server) and round-trip time.
// Plain JavaScript, no build step; every text comes from the page's data attributes and is set with textContent.
"use strict";

(function () {
  const root = document.getElementById("connection-test");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const text = (key, value) => (root.dataset[key] || "").replace("{ms}", value === undefined ? "" : value);
  const status = $("test-status");
  const video = $("echo-video");
  const startButton = $("start");
  const stopButton = $("stop");
  const MEASURE_MS = 10000;
  let pc = null;
  let localStream = null;
  let timers = [];
  let running = false;

  function say(message) { status.textContent = message; }
  const sleep = (ms) => new Promise((resolve) => { timers.push(setTimeout(resolve, ms)); });

  function iceServers() {
    try { return JSON.parse(root.dataset.iceServers || "[]"); } catch (e) { return []; }
  }

  function gathered(connection, timeoutMs) {
    // Non-trickle: the server answers once, so the offer carries all our candidates.
    if (connection.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => { connection.removeEventListener("icegatheringstatechange", check); resolve(); };
      const check = () => { if (connection.iceGatheringState === "complete") done(); };
      connection.addEventListener("icegatheringstatechange", check);
      timers.push(setTimeout(done, timeoutMs));
    });
  }

  async function playing(timeoutMs) {
    const until = Date.now() + timeoutMs;
    while (running && Date.now() < until) {
      if (video.videoWidth > 0 && video.currentTime > 0) return true;
      await sleep(200);
    }
    return false;
  }

  async function measure() {
    const stats = await pc.getStats();
    let pair = null;
    let audioBack = false;
    let sound = false;
    let seen = false;
    stats.forEach((report) => {
      if (report.type === "transport" && report.selectedCandidatePairId) pair = stats.get(report.selectedCandidatePairId) || pair;
    });
    stats.forEach((report) => {
      if (!pair && report.type === "candidate-pair" && report.nominated && report.state === "succeeded") pair = report;
      // The echoed sound is not played (the video is muted, against feedback), so Chromium may report no level
      // for it: the microphone works when sound is captured here and the echoed audio arrives back.
      if (report.type === "inbound-rtp" && report.kind === "audio" && report.packetsReceived > 0) {
        audioBack = true;
        if (report.audioLevel > 0 || report.totalAudioEnergy > 0) sound = true;
      }
      if (report.type === "media-source" && report.kind === "audio" && report.totalAudioEnergy > 0) sound = true;
      if (report.type === "inbound-rtp" && report.kind === "video" && report.framesDecoded > 0) seen = true;
    });
    const local = pair ? stats.get(pair.localCandidateId) : null;
    let rtt = pair ? pair.currentRoundTripTime : undefined;
    if (rtt === undefined && pair && pair.responsesReceived > 0) rtt = pair.totalRoundTripTime / pair.responsesReceived;
    return { camera: seen || video.videoWidth > 0, microphone: audioBack && sound, relay: local ? local.candidateType === "relay" : null,
             rtt: rtt === undefined ? null : Math.round(rtt * 1000) };
  }

  function show(result) {
    $("report").hidden = false;
    $("report-camera").textContent = text(result.camera ? "textWorks" : "textNotWorking");
    $("report-microphone").textContent = text(result.microphone ? "textWorks" : "textNotWorking");
    $("report-connection").textContent = result.relay === null ? text("textUnknown")
      : text(result.relay ? "textRelay" : "textDirect");
    $("report-rtt").textContent = result.rtt === null ? text("textUnknown") : milliseconds(result.rtt);
  }

  // "1 millisekund", "1.250 millisekunder": the page's language picks the plural form and writes the number.
  function milliseconds(ms) {
    const lang = document.documentElement.lang || "da";
    const one = new Intl.PluralRules(lang).select(ms) === "one";
    return text(one ? "textMsOne" : "textMs", ms.toLocaleString(lang));
  }

  function stop(message) {
    running = false;
    timers.forEach(clearTimeout);
    timers = [];
    if (pc) pc.close();
    pc = null;
    if (localStream) localStream.getTracks().forEach((track) => track.stop());
    localStream = null;
    video.srcObject = null;
    stopButton.hidden = true;
    startButton.hidden = false;
    if (message) say(message);
    startButton.focus();
  }

  async function connect() {
    pc = new RTCPeerConnection({ iceServers: iceServers() });
    const echoed = new MediaStream();
    pc.ontrack = (event) => { echoed.addTrack(event.track); video.srcObject = echoed; };
    localStream.getTracks().forEach((track) => pc.addTrack(track, localStream));
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 5000);
    const response = await fetch(root.dataset.offerUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json", "X-CSRF-Token": root.dataset.csrf },
      body: JSON.stringify({ sdp: pc.localDescription.sdp }),
    });
    if (response.status === 503) throw new Error("busy");
    if (!response.ok) throw new Error("offer " + response.status);
    const body = await response.json();
    await pc.setRemoteDescription({ type: "answer", sdp: body.sdp });
  }

  async function start() {
    running = true;
    startButton.hidden = true;
    stopButton.hidden = false;
    stopButton.focus();
    $("report").hidden = true;
    say(text("textStarting"));
    try {
      localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
    } catch (error) {
      stop(text("textNoCamera"));
      return;
    }
    try {
      await connect();
    } catch (error) {
      if (running) stop(text(error.message === "busy" ? "textBusy" : "textFailed"));
      return;
    }
    if (!(await playing(15000))) {
      if (running) stop(text("textFailed"));
      return;
    }
    say(text("textMeasuring"));
    const until = Date.now() + MEASURE_MS;
    while (running && pc && Date.now() < until) {
      show(await measure());
      await sleep(1000);
    }
    if (running) stop(text("textDone"));
  }

  startButton.addEventListener("click", () => { start().catch(() => { if (running) stop(text("textFailed")); }); });
  stopButton.addEventListener("click", () => stop(text("textDone")));
})();
