/* Error summaries: after a failed submit the summary at the top of the form takes the
 * focus, so a screen reader reads it and the keyboard starts there; each error's link
 * moves the focus to its field (a bare #id link only scrolls). A file, not an inline
 * script: the Content-Security-Policy allows scripts from this site only. */
(function () {
  "use strict";
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) { return; }
  summary.focus();
  summary.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[href^='#']") : null;
    if (!link) { return; }
    var name = link.getAttribute("href").slice(1);
    var field = document.getElementById(name) || document.getElementsByName(name)[0];
    if (!field || typeof field.focus !== "function") { return; }
    event.preventDefault();
    var label = field.id ? document.querySelector("label[for='" + field.id + "']") : null;
    (label || field).scrollIntoView({block: "center"});
    field.focus({preventScroll: true});
  });
})();
