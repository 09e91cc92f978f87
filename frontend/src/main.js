// Entry point for every page: the design system and htmx for the live parts
// (lab progress, later the grading queue and threshold sliders).
import "./styles.css";
import htmx from "htmx.org";
import "./navigation.js";
import "./lesson.js";

// No evaluated strings from the page: authored and submitted text must never become code.
htmx.config.allowEval = false;
htmx.config.includeIndicatorStyles = false;
window.htmx = htmx;
