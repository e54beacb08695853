/* The subscribe form's hidden time zone field, from the browser (the server falls back
 * to the audience's zone when this does not run). A file, not an inline script: the
 * Content-Security-Policy allows scripts from this site only. */
(function () {
  "use strict";
  try {
    var tz = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var el = document.getElementById("timezone");
    if (tz && el && !el.value) { el.value = tz; }
  } catch (e) { /* no time zone from this browser: the server falls back */ }
})();
