// The attempt page's countdown. Display only: the server keeps the deadline and refuses
// answers after it. The server's clock is used (its "now" when the page was rendered) so
// a wrong clock on the resident's computer does not shift the countdown.
(function () {
  const element = document.querySelector("[data-countdown]");
  if (!element) return;
  const deadline = Date.parse(element.dataset.deadline);
  const skew = Date.parse(element.dataset.serverNow) - Date.now();
  function tick() {
    const left = Math.max(0, Math.round((deadline - (Date.now() + skew)) / 1000));
    const minutes = Math.floor(left / 60);
    const seconds = String(left % 60).padStart(2, "0");
    element.textContent = `${minutes}:${seconds}`;
    if (left === 0) {
      element.textContent = "Time is up";
      // The server closes the attempt when the page asks for it again.
      setTimeout(() => window.location.reload(), 1500);
      return;
    }
    setTimeout(tick, 1000);
  }
  tick();
})();

// Save states. A changed answer shows "Saving…" at once, and keeps showing it until the
// server has answered for the newest change: answers of one question are posted one after
// another (hx-sync), and the reply to an older one must not say that the newest is saved.
(function () {
  function savingShow(form) {
    const status = form.querySelector(".save-status");
    if (!status) return;
    const line = document.createElement("p");
    line.className = "muted";
    line.dataset.saveState = "saving";
    line.textContent = form.dataset.savingText || "Saving…";
    status.replaceChildren(line);
  }
  document.addEventListener("change", (event) => {
    const form = event.target.closest?.("form.answer-form");
    if (!form) return;
    form.dataset.changes = String(Number(form.dataset.changes || 0) + 1);
    savingShow(form);
  });
  document.body.addEventListener("htmx:beforeRequest", (event) => {
    const form = event.detail.elt.closest?.("form.answer-form");
    if (form) form.dataset.posted = form.dataset.changes || "0";
  });
  document.body.addEventListener("htmx:afterSwap", (event) => {
    const form = event.detail.elt.closest?.("form.answer-form");
    if (form && (form.dataset.changes || "0") !== form.dataset.posted) savingShow(form);
  });
})();
