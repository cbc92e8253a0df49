// The citizen's start page while their video session's call is about to open: the page reloads itself the moment
// the call opens, so the big button to go in is there without the citizen having to do anything.
"use strict";

(function () {
  const card = document.querySelector("[data-reload-in]");
  if (!card) return;
  const seconds = Number(card.dataset.reloadIn);
  if (!(seconds > 0) || seconds > 3600) return;
  setTimeout(() => window.location.reload(), seconds * 1000);
})();
