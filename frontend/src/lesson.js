// A lesson's reader's own parts (labs, quizzes, viewers, completion) are fetched after the
// page (curriculum.lesson_shell). If that request fails, each placeholder says so instead
// of "Loading…" for ever.

function readerPartsFailed(event) {
  if (!event.detail.elt.matches?.("[data-reader-parts]")) return;
  for (const pending of document.querySelectorAll("[data-reader-part-pending]")) {
    pending.removeAttribute("aria-busy");
    pending.setAttribute("role", "alert");
    pending.textContent = pending.dataset.failedText;
  }
}

document.addEventListener("htmx:responseError", readerPartsFailed);
document.addEventListener("htmx:sendError", readerPartsFailed);

// A link into one of those parts (a reader study's "#reader-study-1" after it was submitted,
// say) found nothing to scroll to while the page loaded: once the parts are in, go there.
document.addEventListener("htmx:afterOnLoad", (event) => {
  if (!event.detail.elt.matches?.("[data-reader-parts]") || !location.hash) return;
  document.getElementById(decodeURIComponent(location.hash.slice(1)))?.scrollIntoView();
});
