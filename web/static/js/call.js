// The call page: camera preview, join with a single-use ticket, waiting room, a mesh of peer
// connections (up to four people), one-click Leave, reconnect with the resume token.
// Plain JavaScript, no build step. Text from other people is only ever set with textContent.
"use strict";

(function () {
  const root = document.getElementById("call");
  if (!root) return;
  const $ = (id) => document.getElementById(id);
  const text = (key, name) => (root.dataset[key] || "").replace("{name}", name || "");
  const isHost = root.dataset.host === "true";
  const status = $("call-status");
  const videos = $("videos");
  const peers = new Map(); // participant id -> {pc, name, tile}
  const roster = new Map(); // participant id -> display name, as the server announced them
  let socket = null;
  let self = null;
  let resumeToken = null;
  let localStream = null;
  let leaving = false;
  let retries = 0;
  let rtcConfig = { iceServers: [] }; // from the ticket: STUN/TURN with short-lived credentials, and the policy

  function say(message) { status.textContent = message; }

  async function preview() {
    try {
      localStream = await navigator.mediaDevices.getUserMedia({ audio: true, video: { width: 640, height: 480 } });
      $("self-video").srcObject = localStream;
    } catch (error) {
      say(text("textNoCamera"));
    }
  }

  async function ticket() {
    const response = await fetch(root.dataset.ticketUrl, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRF-Token": root.dataset.csrf, "Accept": "application/json" },
    });
    if (!response.ok) throw new Error("ticket " + response.status);
    const body = await response.json();
    rtcConfig = { iceServers: body.ice_servers || [], iceTransportPolicy: body.ice_transport_policy || "all" };
    return body.ticket;
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function open(first) {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + root.dataset.socket);
    socket.onopen = () => { retries = 0; send(first); };
    socket.onmessage = (event) => {
      let message;
      try { message = JSON.parse(event.data); } catch (e) { return; }
      handle(message).catch(() => {});
    };
    socket.onclose = (event) => {
      if (leaving || event.code === 1000 || event.code === 4000) return;
      if (!resumeToken) { say(text("textRefused")); return; }
      say(text("textReconnecting"));
      const delay = Math.min(10000, 500 * 2 ** retries++);
      setTimeout(() => open({ type: "resume", token: resumeToken }), delay);
    };
  }

  function tile(id, name) {
    const figure = document.createElement("figure");
    figure.className = "call__tile";
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

  function peer(id, name) {
    let entry = peers.get(id);
    if (entry) return entry;
    const pc = new RTCPeerConnection(rtcConfig);
    entry = { pc, name, tile: tile(id, name) };
    peers.set(id, entry);
    if (localStream) localStream.getTracks().forEach((track) => pc.addTrack(track, localStream));
    pc.onicecandidate = (event) => {
      send({ type: "candidate", to: id, candidate: event.candidate ? event.candidate.toJSON() : null });
    };
    pc.ontrack = (event) => { entry.tile.querySelector("video").srcObject = event.streams[0]; };
    pc.onconnectionstatechange = async () => {
      if (pc.connectionState === "connected") say(text("textInCall"));
      if (pc.connectionState === "failed" && self && self.id < id) {
        // The media path broke (network change): restart ICE; the lower id offers, so only one side does.
        await pc.setLocalDescription(await pc.createOffer({ iceRestart: true }));
        send({ type: "offer", to: id, sdp: pc.localDescription.sdp });
      }
    };
    return entry;
  }

  function drop(id) {
    const entry = peers.get(id);
    if (!entry) return;
    entry.pc.close();
    entry.tile.remove();
    peers.delete(id);
  }

  async function offerToEveryone(people) {
    // The newly admitted participant offers to those already in the call (docs/signaling.md).
    for (const person of people || []) {
      if (!peers.has(person.id)) await offerTo(person.id, person.name);
    }
  }

  async function offerTo(id, name) {
    const { pc } = peer(id, name);
    await pc.setLocalDescription(await pc.createOffer());
    send({ type: "offer", to: id, sdp: pc.localDescription.sdp });
  }

  function showWaiting(person) {
    const list = $("waiting-list");
    if (!list || document.getElementById("waiting-" + person.id)) return;
    $("waiting-panel").hidden = false;
    const item = document.createElement("li");
    item.id = "waiting-" + person.id;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button";
    button.textContent = text("textAdmit", person.name);
    button.addEventListener("click", () => { send({ type: "admit", participant: person.id }); item.remove(); });
    item.append(button);
    list.append(item);
    say(text("textSomeoneWaiting", person.name));
  }

  function remember(people) {
    (people || []).forEach((person) => { if (person && person.id) roster.set(person.id, person.name || ""); });
  }

  async function handle(message) {
    const from = message.from;
    remember(message.participants);
    if (message.participant && message.participant.id) remember([message.participant]);
    switch (message.type) {
      case "joined":
        self = message.self;
        resumeToken = message.resume || resumeToken;
        say(message.state === "waiting" ? text("textWaiting") : (isHost ? text("textWaitingHost") : text("textConnecting")));
        if (message.state === "admitted") await offerToEveryone(message.participants);
        break;
      case "waiting": if (isHost) showWaiting(message.participant); break;
      case "waiting_list": if (isHost) (message.waiting || message.participants || []).forEach(showWaiting); break;
      case "admitted":
        say(text("textConnecting"));
        await offerToEveryone(message.participants);
        break;
      case "participant_joined":
        if (message.participant && message.participant.id !== self.id) say(text("textJoined", message.participant.name));
        break;
      case "offer": {
        const { pc } = peer(from, roster.get(from) || "");
        await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
        await pc.setLocalDescription(await pc.createAnswer());
        send({ type: "answer", to: from, sdp: pc.localDescription.sdp });
        break;
      }
      case "answer": {
        const entry = peers.get(from);
        if (entry) await entry.pc.setRemoteDescription({ type: "answer", sdp: message.sdp });
        break;
      }
      case "candidate": {
        const entry = peers.get(from);
        if (entry && message.candidate) await entry.pc.addIceCandidate(message.candidate);
        break;
      }
      case "participant_left": {
        const entry = peers.get(message.participant);
        if (entry) say(text("textLeft", entry.name));
        drop(message.participant);
        break;
      }
      case "participant_reconnecting": say(text("textReconnecting")); break;
      case "participant_reconnected": say(text("textInCall")); break;
      case "notice": say(message.text || ""); break;
      case "ended": finish(); break;
      case "ping": send({ type: "pong" }); break;
      default: break;
    }
  }

  function finish() {
    leaving = true;
    peers.forEach((entry, id) => drop(id));
    if (localStream) localStream.getTracks().forEach((track) => track.stop());
    if (socket) socket.close(1000);
    say(text("textEnded"));
    window.location.assign(root.dataset.after);
  }

  async function join() {
    $("join").hidden = true;
    say(text("textConnecting"));
    try {
      open({ type: "join", ticket: await ticket() });
    } catch (error) {
      say(text("textRefused"));
      $("join").hidden = false;
      return;
    }
    ["leave", "mute", "camera"].forEach((id) => { $(id).hidden = false; });
    $("leave").focus();
  }

  function toggle(button, kind, onKey, offKey) {
    if (!localStream) return;
    const on = button.getAttribute("aria-pressed") !== "true";
    localStream.getTracks().filter((t) => t.kind === kind).forEach((t) => { t.enabled = !on; });
    button.setAttribute("aria-pressed", String(on));
    button.textContent = text(on ? onKey : offKey);
  }

  const joinButton = $("join");
  if (joinButton) joinButton.addEventListener("click", join);
  $("leave").addEventListener("click", () => { send({ type: "leave" }); finish(); });
  $("mute").addEventListener("click", (e) => toggle(e.currentTarget, "audio", "textUnmute", "textMute"));
  $("camera").addEventListener("click", (e) => toggle(e.currentTarget, "video", "textCameraOn", "textCameraOff"));
  const end = $("end");
  if (end) end.addEventListener("click", () => { send({ type: "end" }); finish(); });
  setInterval(() => send({ type: "ping" }), 20000);
  if (joinButton) preview();
})();
