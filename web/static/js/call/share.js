// Sharing your screen (getDisplayMedia): the screen's track takes the place of the camera's in every video sender
// (replaceTrack, no renegotiation), and the camera comes back when sharing stops — from the "Stop sharing" button
// or from the browser's own stop (the track ends). The others are told with the `media` message's `screen` field
// (docs/signaling.md) and show a label over the picture (main.js). docs/call-page.md describes the screen.

// Only where the browser can: getDisplayMedia must exist, and phones and tablets (which expose the function on some
// browsers but always refuse) do not see the item at all.
export function canShareScreen(nav = navigator) {
  const devices = nav.mediaDevices;
  if (!devices || typeof devices.getDisplayMedia !== "function") return false;
  const ua = nav.userAgent || "";
  if (/Android|iPhone|iPad|iPod|Mobile/i.test(ua)) return false;
  // An iPad asking for the desktop site says "Macintosh", but has a touch screen and no fine pointer.
  if (/Macintosh/.test(ua) && nav.maxTouchPoints > 1) return false;
  return true;
}

export class ScreenShare {
  // senders(): the video senders now (one per peer); camera(): the track to send when sharing stops;
  // changed(on): sharing started or stopped (the page shows it and tells the others).
  constructor({ senders, camera, changed }) {
    this.senders = senders;
    this.camera = camera;
    this.changed = changed;
    this.track = null;
  }

  get active() { return Boolean(this.track); }

  // Ask the browser for a screen, a window or a tab. Returns false when the person cancelled or it failed.
  async start() {
    if (this.track) return true;
    let stream;
    try {
      stream = await navigator.mediaDevices.getDisplayMedia({ video: { frameRate: { ideal: 10, max: 15 } }, audio: false });
    } catch (error) {
      return false; // cancelled in the browser's dialogue, or not allowed
    }
    const track = stream.getVideoTracks()[0];
    if (!track) return false;
    if ("contentHint" in track) track.contentHint = "detail"; // text stays sharp rather than smooth
    track.onended = () => this.stop(); // the browser's own "Stop sharing"
    this.track = track;
    await Promise.all([...this.senders()].map((sender) => sender.replaceTrack(track).catch(() => {})));
    this.changed(true);
    return true;
  }

  // Stop sharing: the screen track ends and the camera (or the blurred camera) is sent again.
  async stop() {
    const track = this.track;
    if (!track) return;
    this.track = null;
    track.onended = null;
    track.stop();
    const camera = this.camera();
    await Promise.all([...this.senders()].map((sender) => sender.replaceTrack(camera || null).catch(() => {})));
    this.changed(false);
  }
}

// The others' side: the tile of someone sharing shows the whole screen (contain, not cropped) under a label that says
// so, and the change is said in the status line (role=status, so screen readers hear it).
export function showScreen(tile, on, startedWords, stoppedWords, announce) {
  const was = tile.classList.contains("call__tile--screen");
  tile.classList.toggle("call__tile--screen", on);
  let label = tile.querySelector(".call__screen-label");
  if (on && !label) {
    label = document.createElement("p");
    label.className = "call__screen-label";
    tile.append(label);
  }
  if (label) {
    label.textContent = startedWords;
    label.hidden = !on;
  }
  if (on !== was) announce(on ? startedWords : stoppedWords);
}
