// A steady tick for the waiting notice (waiting_notice.js): a dedicated worker's timers keep their pace when the
// tab is in the background, where the page's own would be slowed to once a minute.
"use strict";

let timer = null;
self.onmessage = (event) => {
  clearInterval(timer);
  timer = setInterval(() => self.postMessage(0), Math.max(1000, Number(event.data) || 3000));
};
