// The call page's own camera and microphone: asking for them (with fallbacks when one is refused or missing),
// the lists of cameras and microphones, the microphone level meter, and how to allow access in this browser.

// Which browser's help to show, roughly: the instructions differ, the rest of the page does not.
export function browserFamily(userAgent) {
  if (/iPhone|iPad|iPod/.test(userAgent)) return "safari";
  if (/Firefox\//.test(userAgent)) return "firefox";
  if (/Android/.test(userAgent)) return "android";
  if (/Edg\/|Chrome\//.test(userAgent)) return "chrome";
  if (/Safari\//.test(userAgent)) return "safari";
  return "other";
}

const VIDEO = { width: { ideal: 640 }, height: { ideal: 480 } }; // call.html's early request asks for the same

// The camera and microphone asked for by call.html's inline script as the page arrives (docs/call-page.md, Speed):
// taken once, by the first request for the default camera and microphone; any other request stops it unused.
function takeEarly(isDefault) {
  const early = window.vbEarlyMedia;
  window.vbEarlyMedia = null;
  if (!early || isDefault) return early || null;
  early.then((stream) => stream.getTracks().forEach((track) => track.stop()), () => {});
  return null;
}

// facing: "user" or "environment" to ask for the front or back camera of a phone instead of a given one.
function constraints(cameraId, micId, withVideo, facing) {
  let video = false;
  if (withVideo && facing) video = { ...VIDEO, facingMode: { exact: facing } };
  else if (withVideo) video = cameraId ? { ...VIDEO, deviceId: { exact: cameraId } } : VIDEO;
  return { audio: micId ? { deviceId: { exact: micId } } : true, video };
}

// The best we can get: camera and microphone, else the microphone alone, else nothing. Returns the stream (or
// null) and what went wrong: "" (nothing), "no-camera", "no-media"; and whether it was a refusal or no device.
export async function openMedia(cameraId, micId, withVideo = true, facing = null) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return { stream: null, problem: "no-media", denied: false };
  }
  let firstError = null;
  const early = takeEarly(withVideo && !cameraId && !micId && !facing);
  if (withVideo) {
    try {
      const asked = early || navigator.mediaDevices.getUserMedia(constraints(cameraId, micId, true, facing));
      return { stream: await asked, problem: "" };
    } catch (error) {
      firstError = error;
    }
  }
  try {
    const stream = await navigator.mediaDevices.getUserMedia(constraints(null, micId, false));
    return { stream, problem: withVideo ? "no-camera" : "", denied: isDenial(firstError) };
  } catch (error) {
    return { stream: null, problem: "no-media", denied: isDenial(firstError || error) };
  }
}

function isDenial(error) {
  return Boolean(error) && (error.name === "NotAllowedError" || error.name === "SecurityError");
}

// Fill the camera and microphone selects (labels are only known once access was granted), and the speaker select
// where the browser can choose where sound goes (setSinkId). Returns how many cameras and speakers there are.
export async function listDevices(cameraSelect, micSelect, stream, speakerSelect = null) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.enumerateDevices) return { cameras: 0, speakers: 0 };
  const devices = await navigator.mediaDevices.enumerateDevices();
  const inUse = new Set((stream ? stream.getTracks() : []).map((t) => t.getSettings().deviceId));
  const cameras = devices.filter((d) => d.kind === "videoinput");
  fill(cameraSelect, cameras, inUse);
  fill(micSelect, devices.filter((d) => d.kind === "audioinput"), inUse);
  const speakers = canChooseSpeaker() ? devices.filter((d) => d.kind === "audiooutput" && d.deviceId) : [];
  if (speakerSelect) {
    const chosen = new Set([speakerSelect.value]);
    fill(speakerSelect, speakers, chosen);
  }
  return { cameras: cameras.length, speakers: speakers.length };
}

export function canChooseSpeaker() {
  return typeof HTMLMediaElement !== "undefined" && "setSinkId" in HTMLMediaElement.prototype;
}

// The other way round from the camera in use: the back camera of a phone after the front one, and back again.
export function otherFacing(track) {
  const facing = track && track.getSettings ? track.getSettings().facingMode : "";
  if (facing === "user") return "environment";
  if (facing === "environment") return "user";
  return null; // not a phone's camera: the next camera in the list instead
}

function fill(select, devices, inUse) {
  if (!select) return;
  select.replaceChildren();
  devices.forEach((device, index) => {
    const option = document.createElement("option");
    option.value = device.deviceId;
    option.textContent = device.label || `${select.labels[0] ? select.labels[0].textContent : ""} ${index + 1}`;
    option.selected = inUse.has(device.deviceId);
    select.append(option);
  });
  select.disabled = devices.length === 0;
}

// The microphone level, 0–100, drawn into a <meter> while the stream has an audio track.
export class LevelMeter {
  constructor(meter) {
    this.meter = meter;
    this.context = null;
    this.source = null;
    this.timer = null;
  }

  attach(stream) {
    this.detach();
    const track = stream && stream.getAudioTracks()[0];
    const AudioContext = window.AudioContext || window.webkitAudioContext;
    if (!track || !AudioContext || !this.meter) return;
    this.context = this.context || new AudioContext();
    this.context.resume().catch(() => {});
    const analyser = this.context.createAnalyser();
    analyser.fftSize = 512;
    this.source = this.context.createMediaStreamSource(new MediaStream([track]));
    this.source.connect(analyser);
    const samples = new Uint8Array(analyser.fftSize);
    // A timer rather than requestAnimationFrame: it keeps measuring in a background tab and costs little.
    this.timer = setInterval(() => {
      analyser.getByteTimeDomainData(samples);
      let sum = 0;
      for (const s of samples) sum += ((s - 128) / 128) ** 2;
      this.meter.value = Math.min(100, Math.round(Math.sqrt(sum / samples.length) * 300));
    }, 100);
  }

  // Browsers start audio only after a user gesture; the first click or key press wakes the meter up.
  wake() { if (this.context) this.context.resume().catch(() => {}); }

  detach() {
    clearInterval(this.timer);
    if (this.source) this.source.disconnect();
    this.source = null;
    if (this.meter) this.meter.value = 0;
  }
}
