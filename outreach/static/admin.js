/* Staff workspace helpers (plain JavaScript, no dependencies):
 * - insert a template variable at the cursor of the field last focused,
 * - show the calendar date of a step while its day offset is typed,
 * - live counts on a campaign page (polls counts.json),
 * - import progress (polls progress.json),
 * - the step editor's checks as you type (posts the form to steps/check, shows warnings),
 * - "are you sure?" on forms with data-confirm, select-on-focus fields (no inline
 *   handlers: the Content-Security-Policy allows no inline script).
 * Every page works without this file; it only saves reloads.
 */
(function () {
  "use strict";

  function $(selector, root) { return (root || document).querySelector(selector); }
  function $all(selector, root) { return Array.prototype.slice.call((root || document).querySelectorAll(selector)); }
  // Shared with the pages' other scripts (markdown-editor.js), which load after this one.
  window.OutreachDom = { $: $, $all: $all };

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
  }

  /* ---- template variables ---- */
  function variables() {
    var fields = $all("[data-template]");
    if (!fields.length) return;
    var last = fields[fields.length > 2 ? 2 : 0];
    fields.forEach(function (field) {
      field.addEventListener("focus", function () { last = field; });
    });
    $all("[data-insert]").forEach(function (button) {
      button.addEventListener("click", function () {
        var text = button.getAttribute("data-insert");
        var start = last.selectionStart || 0, end = last.selectionEnd || 0;
        last.value = last.value.slice(0, start) + text + last.value.slice(end);
        last.focus();
        last.selectionStart = last.selectionEnd = start + text.length;
        last.dispatchEvent(new Event("input"));
      });
    });
  }

  /* ---- "day 3" -> "Thu 4 Jun 2027" ---- */
  function sendDate() {
    var label = $("#send-date"), input = $("#day_offset");
    if (!label || !input || !label.getAttribute("data-anchor")) return;
    var parts = label.getAttribute("data-anchor").split("-").map(Number);
    function update() {
      var offset = parseInt(input.value, 10);
      if (isNaN(offset)) { label.textContent = ""; return; }
      var day = new Date(Date.UTC(parts[0], parts[1] - 1, parts[2] + offset));
      label.textContent = "= " + day.toLocaleDateString(undefined, {
        weekday: "short", day: "numeric", month: "short", year: "numeric", timeZone: "UTC"
      });
    }
    input.addEventListener("input", update);
    update();
  }

  /* ---- live campaign counts ---- */
  function campaignCounts() {
    var totals = $("#totals");
    if (!totals || totals.getAttribute("data-live") !== "yes") return;
    var url = totals.getAttribute("data-url");
    function apply(data) {
      Object.keys(data.totals).forEach(function (state) {
        var el = $('[data-total="' + state + '"]', totals);
        if (el) el.textContent = data.totals[state];
      });
      $all(".counts[data-step]").forEach(function (box) {
        var row = data.steps[box.getAttribute("data-step")] || {};
        var any = false;
        $all("[data-state]", box).forEach(function (span) {
          var n = row[span.getAttribute("data-state")] || 0;
          span.hidden = !n;
          any = any || n > 0;
          span.querySelector("b").textContent = n;
        });
        var empty = $("[data-empty]", box);
        if (empty) empty.hidden = any;
      });
      var status = $("#campaign-status");
      if (status && status.textContent !== data.status) {
        status.textContent = data.status;
        status.className = "badge " + data.status;
      }
      var paused = $("#paused-reason");
      if (paused) {
        paused.hidden = !data.paused_reason;
        $("span", paused).textContent = data.paused_reason || "";
      }
    }
    function tick() {
      if (document.hidden) return;
      getJSON(url).then(apply).catch(function () { /* keep the last numbers */ });
    }
    setInterval(tick, 5000);
  }

  /* ---- import progress ---- */
  function importProgress() {
    var box = $("#import-progress");
    if (!box) return;
    var state = box.getAttribute("data-state");
    if (state === "done" || state === "failed" || state === "uploaded") return;
    var url = box.getAttribute("data-url");
    var labels = { queued: "Starting…", running: "Importing…", done: "Finished", failed: "Stopped" };
    var timer = null;
    function apply(data) {
      $("#import-state").textContent = labels[data.state] || data.state;
      $("#import-percent").textContent = data.percent + "%";
      $("#import-bar").style.width = data.percent + "%";
      var result = data.result || {};
      $all("[data-count]", box).forEach(function (el) {
        var value = result[el.getAttribute("data-count")];
        if (value !== undefined) el.textContent = value.toLocaleString();
      });
      if (result.pending) {
        $("#import-confirmations").textContent = "Confirmation messages sent: " +
          result.confirmations_sent + "; texts waiting for the morning where the person lives: " +
          (result.confirmations_deferred || 0) + "; not sent: " + result.confirmations_not_sent + ".";
      }
      if (data.error) {
        $("#import-error").textContent = data.error;
        $("#import-error").hidden = false;
      }
      if (data.summary && data.summary.length) {
        var list = $("#import-summary");
        list.textContent = "";
        data.summary.forEach(function (line) {
          var item = document.createElement("li");
          item.textContent = line;
          list.appendChild(item);
        });
        $("#import-confirmations").hidden = true;
      }
      if (data.state === "done" || data.state === "failed") {
        $("#import-report").hidden = false;
        box.setAttribute("data-state", data.state);
        clearInterval(timer);
      }
    }
    function tick() {
      getJSON(url).then(apply).catch(function () { /* try again on the next tick */ });
    }
    timer = setInterval(tick, 1000);
    tick();
  }

  /* ---- data-confirm forms, data-select-on-focus fields ---- */
  function confirmations() {
    $all("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
    $all("[data-select-on-focus]").forEach(function (field) {
      field.addEventListener("focus", function () { field.select(); });
    });
  }

  /* ---- step editor: preflight's warnings as you type ---- */
  function stepChecks() {
    var panel = $("#step-checks"), form = $("#step-form");
    if (!panel || !form || !window.fetch || !window.FormData) return;
    var list = $("#step-checks-list", panel), none = $("#step-checks-none", panel);
    var timer = null, sent = 0;
    function show(checks) {
      while (list.firstChild) list.removeChild(list.firstChild);
      checks.forEach(function (check) {
        var item = document.createElement("li"), where = document.createElement("span");
        item.className = "warning";
        where.className = "where";
        where.textContent = (check.field || "step") + ":";
        item.appendChild(where);
        item.appendChild(document.createTextNode(" " + check.message));
        list.appendChild(item);
      });
      none.hidden = checks.length > 0;
      panel.setAttribute("data-checked", String(++sent));
    }
    function check() {
      var data = new FormData(form);
      data.append("number", panel.getAttribute("data-number") || "1");
      fetch(panel.getAttribute("data-url"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { Accept: "application/json" }
      }).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      }).then(function (result) { show(result.checks); })
        .catch(function () { /* keep the last list; saving still shows them */ });
    }
    form.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(check, 600);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    stepChecks();
    confirmations();
    variables();
    sendDate();
    campaignCounts();
    importProgress();
  });
})();
