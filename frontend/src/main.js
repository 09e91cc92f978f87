// Entry point for every page: the design system and htmx for the live parts
// (lab progress, later the grading queue and threshold sliders).
import "./styles.css";
import htmx from "htmx.org";

window.htmx = htmx;
