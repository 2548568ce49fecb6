// The pages work without this file; it only makes them quicker (DESIGN 9). No inline script:
// the CSP allows scripts from this site alone.
import { initAll } from "/static/govuk-frontend/govuk-frontend.min.js";

document.body.classList.add("js-enabled", "govuk-frontend-supported");
initAll();

// A field's group is checked by the server when it changes (HTMX) and swapped for the
// answer. Never swap a group while the person is still in it (between the day, month and
// year of a date, or among radios): what they typed since would be lost. It is checked
// again when they leave it.
document.body.addEventListener("htmx:beforeSwap", (event) => {
  const target = event.detail.target;
  if (target && target.id.startsWith("group-") && target.contains(document.activeElement)) {
    event.detail.shouldSwap = false;
  }
});

// A group swapped in brings GOV.UK Frontend's components (radios, checkboxes) with it.
document.body.addEventListener("htmx:afterSettle", (event) => {
  const swapped = document.getElementById(event.detail.target.id);
  if (swapped) {
    initAll({ scope: swapped });
  }
});
