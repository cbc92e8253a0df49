// A blurred background, in the browser: the camera's picture → MediaPipe selfie segmentation (served by the app from
// /static/vendor/mediapipe/, Apache-2.0; no third-party host) → a canvas where the person is drawn sharp over a
// blurred copy of the picture → the canvas's own track (captureStream), which the page sends and shows instead of
// the camera. The canvas is only ever painted with a finished, blurred frame, so once blur is on the raw camera
// picture never leaves the device: until the model works the track carries no picture at all.
//
// The cost is measured per frame (segmentation and drawing, averaged over WINDOW frames; `msPerFrame`). When a
// device cannot keep up, the picture gets smaller and slower (LEVELS); when even the last level is too slow, blur
// stops and the page is told ("slow"), and turns the camera off rather than sending it unblurred.

const VENDOR = "/static/vendor/mediapipe/";
export const LEVELS = [
  { width: 480, height: 360, fps: 15 },
  { width: 320, height: 240, fps: 10 },
  { width: 224, height: 168, fps: 6 },
];
const WINDOW = 20; // frames averaged before deciding that a level is too slow
const WARM_UP = 3; // the first frames compile shaders: not counted
const READY_WITHIN_MS = 30000; // the model must give its first frame within this

export function canBlur() {
  return typeof WebAssembly === "object" && typeof HTMLCanvasElement !== "undefined"
    && typeof HTMLCanvasElement.prototype.captureStream === "function";
}

let loading = null;
function loadLibrary() {
  if (window.SelfieSegmentation) return Promise.resolve();
  if (!loading) {
    loading = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = VENDOR + "selfie_segmentation.js";
      script.onload = resolve;
      script.onerror = () => { loading = null; reject(new Error("blur library")); };
      document.head.append(script);
    });
  }
  return loading;
}

const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

export class Blur {
  // problem(reason): blur stopped by itself — "failed" (the model did not load) or "slow" (the device is too slow).
  constructor({ problem }) {
    this.problem = problem;
    this.on = false;
    this.level = 0;
    this.frames = 0; // frames measured since blur was turned on (all levels)
    this.totalMs = 0;
    this.window = [];
    this.segmenter = null;
    this.output = null;
    this.track = null; // the canvas's track: what is sent and shown while blur is on
    this.video = null;
    this.ready = null;
  }

  // Average milliseconds per processed frame since blur was turned on (0 before the first).
  get msPerFrame() { return this.frames ? this.totalMs / this.frames : 0; }

  // The longest a frame may take at this level before the picture gets smaller: three quarters of the frame time,
  // unless the page set another budget (globalThis.vbBlurBudgetMs; the browser tests' software graphics need it).
  budget() { return globalThis.vbBlurBudgetMs || (750 / LEVELS[this.level].fps); }

  // Turn blur on for this camera track. The canvas track exists at once (send it right away: it carries no picture
  // until the first blurred frame); `ready` resolves true with the first blurred frame, false when it failed.
  start(camera) {
    if (this.on) { this.source(camera); return this.ready; }
    this.on = true;
    this.level = 0;
    this.frames = 0;
    this.totalMs = 0;
    this.window = [];
    this.output = document.createElement("canvas");
    this.input = document.createElement("canvas");
    this.size();
    this.context = this.output.getContext("2d");
    this.track = this.output.captureStream().getVideoTracks()[0];
    this.video = document.createElement("video");
    this.video.muted = true;
    this.video.playsInline = true;
    this.source(camera);
    this.ready = this.run();
    return this.ready;
  }

  // Another camera (a device change, the back camera, video after sound only): the same outgoing track goes on.
  source(camera) {
    if (!this.video) return;
    this.video.srcObject = camera ? new MediaStream([camera]) : null;
    if (camera) this.video.play().catch(() => {});
  }

  stop() {
    if (!this.on) return;
    this.on = false;
    if (this.video) { this.video.srcObject = null; this.video = null; }
    if (this.track) this.track.stop();
    this.track = null;
  }

  size() {
    const { width, height } = LEVELS[this.level];
    this.output.width = width;
    this.output.height = height;
    this.input.width = width;
    this.input.height = height;
  }

  async model() {
    await loadLibrary();
    if (this.segmenter) return this.segmenter;
    const segmenter = new window.SelfieSegmentation({ locateFile: (file) => VENDOR + file });
    segmenter.setOptions({ modelSelection: 0, selfieMode: false });
    segmenter.onResults((results) => this.paint(results));
    await segmenter.initialize();
    this.segmenter = segmenter;
    return segmenter;
  }

  // The person (where the mask is) sharp, over the blurred picture, drawn a little larger so the blur has no edge.
  paint(results) {
    if (!this.on) return;
    const ctx = this.context;
    const { width, height } = this.output;
    ctx.save();
    ctx.clearRect(0, 0, width, height);
    ctx.drawImage(results.segmentationMask, 0, 0, width, height);
    ctx.globalCompositeOperation = "source-in";
    ctx.drawImage(results.image, 0, 0, width, height);
    ctx.globalCompositeOperation = "destination-over";
    ctx.filter = "blur(12px)";
    ctx.drawImage(results.image, -24, -24, width + 48, height + 48);
    ctx.restore();
    this.painted = true;
  }

  async run() {
    let segmenter;
    try {
      segmenter = await Promise.race([this.model(), sleep(READY_WITHIN_MS).then(() => { throw new Error("timeout"); })]);
    } catch (error) {
      if (this.on) { this.stop(); this.problem("failed"); }
      return false;
    }
    this.painted = false;
    let readyAnswer = null;
    const readyOnce = new Promise((resolve) => { readyAnswer = resolve; });
    (async () => {
      let count = 0;
      while (this.on) {
        const level = LEVELS[this.level];
        const started = performance.now();
        const video = this.video;
        if (video && video.readyState >= 2 && video.videoWidth) {
          try {
            this.input.getContext("2d").drawImage(video, 0, 0, this.input.width, this.input.height);
            await segmenter.send({ image: this.input });
          } catch (error) {
            if (this.on) { this.stop(); this.problem("failed"); }
            readyAnswer(false);
            return;
          }
          if (this.painted) readyAnswer(true);
          count += 1;
          if (count > WARM_UP) this.measure(performance.now() - started);
        }
        // The rest of the frame time, and never less than the frame took: the page stays free half the time at
        // least (buttons, the call itself), however slow the device.
        const spent = performance.now() - started;
        await sleep(Math.max(1000 / level.fps - spent, spent));
      }
      readyAnswer(false);
    })();
    return readyOnce;
  }

  // One frame's cost: smaller and slower when the last WINDOW frames were over budget; off when nothing helps.
  measure(ms) {
    this.frames += 1;
    this.totalMs += ms;
    this.window.push(ms);
    // For the bench and the tests (bench/blur_bench.py): the cost so far, in the page's own words.
    globalThis.vbBlurStats = { frames: this.frames, msPerFrame: this.msPerFrame, level: this.level, ...LEVELS[this.level] };
    if (this.window.length < WINDOW) return;
    const average = this.window.reduce((a, b) => a + b, 0) / this.window.length;
    this.window = [];
    if (average <= this.budget()) return;
    if (this.level < LEVELS.length - 1) {
      this.level += 1;
      this.size();
      return;
    }
    this.stop();
    this.problem("slow");
  }
}
