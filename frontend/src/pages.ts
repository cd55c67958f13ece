// Entry for the server-rendered pages: hx-* attributes in Django templates need htmx,
// and htmx extensions look it up on window.
import htmx from "htmx.org";
import "./pages.css";

declare global {
  interface Window {
    htmx: typeof htmx;
  }
}

window.htmx = htmx;
