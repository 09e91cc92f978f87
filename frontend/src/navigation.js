// The header's menus. Every group is a <details> disclosure, so it opens by mouse, Enter or
// Space with no script at all; this only adds what a menu is expected to do besides: one
// group open at a time, Escape and a click elsewhere close it, and on a narrow screen the
// "Menu" button shows or hides the whole menu (aria-expanded says which).

function groupsClose(except = null) {
  for (const group of document.querySelectorAll(".site-header details.nav-group[open]")) {
    if (group !== except) group.open = false;
  }
}

function navigationSetUp() {
  const header = document.querySelector(".site-header");
  if (!header) return;
  const toggle = header.querySelector(".nav-toggle");
  const menu = header.querySelector(".site-menu");

  const menuShow = (shown) => {
    menu.classList.toggle("open", shown);
    toggle.setAttribute("aria-expanded", shown ? "true" : "false");
  };
  toggle?.addEventListener("click", () => menuShow(!menu.classList.contains("open")));

  for (const group of header.querySelectorAll("details.nav-group")) {
    // "toggle" fires after the state changed: opening one closes the others.
    group.addEventListener("toggle", () => group.open && groupsClose(group));
  }
  document.addEventListener("keydown", (event) => {
    if (event.key !== "Escape") return;
    const open = event.target.closest?.("details.nav-group[open]");
    if (open) {
      open.open = false;
      open.querySelector("summary").focus();
    } else if (menu.classList.contains("open") && header.contains(event.target)) {
      menuShow(false);
      toggle.focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest?.("details.nav-group")) groupsClose();
  });
}

navigationSetUp();
