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
