// Injected before every page's own script by bench/call_screen_bench.py and bench/firefox_citizen_bench.mjs.
// - The taps are instant and made by the page itself (no driver round trip): on the citizen's start page the link
//   to the call (the first /calls/ link), on the call page Join as soon as her own picture shows.
// - window.__firstFrame: when the first video frame from anyone else has been decoded (getStats every 10 ms).
// - window.__t: when each step of joining happened (Date.now()): the call page's navigation (origin) and its last
//   script, getUserMedia, the ticket, the socket and its messages (m_*) and sends (s_*), the peer connection and ICE.
(() => {
  const t = (window.__t = {});
  const mark = (k) => { if (!(k in t)) t[k] = Date.now(); };
  t.origin = Math.round(performance.timeOrigin);
  document.addEventListener("DOMContentLoaded", () => {
    mark("dom");
    const nav = performance.getEntriesByType("navigation")[0];
    if (nav) t.html = Math.round(performance.timeOrigin + nav.responseEnd);
    const scripts = performance.getEntriesByType("resource").filter((r) => r.initiatorType === "script" || r.name.endsWith(".js"));
    if (scripts.length) t.scripts = Math.round(performance.timeOrigin + Math.max(...scripts.map((r) => r.responseEnd)));
    const call = document.querySelector('a[href^="/calls/"]');
    // Not on the page she comes back to after leaving (?done=call_ended): the run is over.
    if (call && !document.getElementById("call") && !location.search.includes("done=")) { mark("tap_call"); call.click(); }
    const self = document.getElementById("self-video");
    const join = document.getElementById("join");
    if (self && join && document.getElementById("call").dataset.host !== "true") {
      const tap = () => { if (self.videoWidth > 0 && !join.disabled && !join.hidden && !("join_click" in t)) join.click(); };
      self.addEventListener("loadedmetadata", tap);
      self.addEventListener("resize", tap);
      const poll = () => { tap(); if (!("join_click" in t)) setTimeout(poll, 10); };
      poll();
    }
  });
  const gum = navigator.mediaDevices && navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
  if (gum) navigator.mediaDevices.getUserMedia = (c) => { mark("gum_start"); return gum(c).then((s) => { mark("gum_done"); return s; }); };
  const f = window.fetch;
  window.fetch = (u, o) => { mark("ticket_start"); return f(u, o).then((r) => { mark("ticket_done"); return r; }); };
  document.addEventListener("click", (e) => { if (e.target.closest && e.target.closest("#join")) mark("join_click"); }, true);
  const W = window.WebSocket;
  window.WebSocket = class extends W {
    constructor(...a) {
      super(...a);
      mark("ws_new");
      this.addEventListener("open", () => mark("ws_open"));
      this.addEventListener("message", (e) => { try { const m = JSON.parse(e.data); mark("m_" + m.type + (m.state ? "_" + m.state : "")); } catch (x) { /* not JSON */ } });
    }
    send(d) { try { mark("s_" + JSON.parse(d).type); } catch (x) { /* not JSON */ } return super.send(d); }
  };
  const Pc = window.RTCPeerConnection, pcs = [];
  window.RTCPeerConnection = class extends Pc {
    constructor(...a) {
      super(...a);
      pcs.push(this);
      mark("pc_new");
      this.addEventListener("iceconnectionstatechange", () => mark("ice_" + this.iceConnectionState));
      this.addEventListener("connectionstatechange", () => mark("pc_" + this.connectionState));
      this.addEventListener("track", () => mark("track"));
    }
  };
  const poll = async () => {
    for (const pc of pcs.filter((p) => p.signalingState !== "closed")) {
      for (const s of (await pc.getStats()).values()) {
        if (s.type === "inbound-rtp" && s.kind === "video" && s.framesDecoded > 0) { window.__firstFrame = Date.now(); mark("frame"); return; }
      }
    }
    setTimeout(poll, 10);
  };
  poll();
})();
