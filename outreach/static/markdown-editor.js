/* The email step editor: Markdown or HTML mode, the Markdown toolbar, saved blocks and
   the live preview (rendered by the server with the sender's renderer). Loads after
   admin.js, whose DOM helpers it uses. */
(function () {
  "use strict";

  var $ = window.OutreachDom.$, $all = window.OutreachDom.$all;

  /* Replace the selection of a textarea (or insert at the cursor), selecting ``pick``
     characters of the inserted text from ``from`` so the person can type over them. */
  function replaceSelection(field, text, from, pick) {
    var start = field.selectionStart || 0, end = field.selectionEnd || 0;
    field.value = field.value.slice(0, start) + text + field.value.slice(end);
    field.focus();
    field.selectionStart = start + (from || 0);
    field.selectionEnd = start + (from || 0) + (pick === undefined ? text.length : pick);
    field.dispatchEvent(new Event("input", { bubbles: true }));
  }

  function selected(field) {
    return field.value.slice(field.selectionStart || 0, field.selectionEnd || 0);
  }

  /* Start the selection at the beginning of its first line (for headings and lists). */
  function selectLines(field) {
    var start = field.selectionStart || 0;
    var lineStart = field.value.lastIndexOf("\n", start - 1) + 1;
    field.selectionStart = lineStart;
  }

  function block(text, field) {
    var before = field.value.slice(0, field.selectionStart || 0);
    var gap = !before || /\n\n$/.test(before) ? "" : /\n$/.test(before) ? "\n" : "\n\n";
    return { text: gap + text + "\n\n", offset: gap.length };
  }

  var ACTIONS = {
    heading: function (field) {
      selectLines(field);
      var words = selected(field).replace(/^#+\s*/, "") || "Heading";
      replaceSelection(field, "## " + words, 3, words.length);
    },
    bold: function (field) {
      var words = selected(field) || "bold words";
      replaceSelection(field, "**" + words + "**", 2, words.length);
    },
    link: function (field) {
      var words = selected(field) || "link words";
      var text = "[" + words + "](https://)";
      replaceSelection(field, text, text.length - 9, 8);
    },
    list: function (field) {
      selectLines(field);
      var lines = (selected(field) || "First point\nSecond point").split("\n");
      var text = lines.map(function (line) { return "- " + line.replace(/^[-*]\s+/, ""); });
      replaceSelection(field, text.join("\n"));
    },
    button: function (field) {
      var words = selected(field) || "Request a free consultation";
      var made = block("[" + words + "]({{ request_url }} \"button\")", field);
      replaceSelection(field, made.text, made.offset + 1, words.length);
    },
    image: function (field) {
      var words = selected(field) || "what the image shows";
      var made = block("![" + words + "](https://)", field);
      replaceSelection(field, made.text, made.offset + 2, words.length);
    }
  };

  function toolbars() {
    $all("[data-toolbar-for]").forEach(function (bar) {
      var field = document.getElementById(bar.getAttribute("data-toolbar-for"));
      if (!field) return;
      $all("[data-md]", bar).forEach(function (button) {
        button.addEventListener("click", function () {
          ACTIONS[button.getAttribute("data-md")](field);
        });
      });
      var blocks = $("[data-block-select]", bar);
      if (blocks) {
        blocks.addEventListener("change", function () {
          var option = blocks.options[blocks.selectedIndex];
          if (!option || !option.value) return;
          var html = blocks.getAttribute("data-insert-as") === "html";
          var made = html ? { text: option.getAttribute("data-html") + "\n" }
            : block(option.getAttribute("data-markdown"), field);
          replaceSelection(field, made.text, made.text.length, 0);  /* cursor after it */
          blocks.selectedIndex = 0;
        });
      }
    });
  }

  /* ---- Markdown / HTML mode ---- */
  function modes(preview) {
    var radios = $all("input[name=writing]");
    function show(mode) {
      $all("[data-writing]").forEach(function (part) {
        part.hidden = part.getAttribute("data-writing") !== mode;
      });
    }
    radios.forEach(function (radio) {
      radio.addEventListener("change", function () {
        if (!radio.checked) return;
        if (radio.value === "html") {
          /* Start the HTML from what the Markdown makes, so nothing written is lost. */
          preview.bodies().then(function (bodies) {
            [["markdown", "html"], ["es_markdown", "es_html"]].forEach(function (pair) {
              var source = document.getElementById(pair[0]);
              var target = document.getElementById(pair[1]);
              if (source && target && source.value.trim()) target.value = bodies[pair[1]] || "";
            });
            show("html");
          });
        } else {
          show("markdown");
        }
      });
    });
  }

  /* ---- live preview ---- */
  function livePreview(form) {
    var panel = $("#live-preview");
    var none = { bodies: function () { return Promise.resolve({}); } };
    if (!panel || !window.fetch || !window.FormData) return none;
    var frame = $("#live-frame", panel), subject = $("#live-subject", panel);
    var problem = $("#live-error", panel), timer = null, shown = 0;
    function language() {
      var chosen = $("input[name=preview_lang]:checked", panel);
      return chosen ? chosen.value : "en";
    }
    function ask() {
      var data = new FormData(form);
      data.append("step_id", panel.getAttribute("data-step") || "");
      data.append("lang", language());
      return fetch(panel.getAttribute("data-url"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: { Accept: "application/json" }
      }).then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      });
    }
    function refresh() {
      ask().then(function (result) {
        problem.hidden = !result.error;
        problem.textContent = result.error || "";
        if (!result.error) frame.srcdoc = result.html;
        subject.textContent = result.subject;
        frame.setAttribute("lang", result.language);
        panel.setAttribute("data-shown", String(++shown));
      }).catch(function () { /* keep the last preview */ });
    }
    function later() {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 400);
    }
    form.addEventListener("input", later);
    form.addEventListener("change", later);
    $all("input[name=preview_lang]", panel).forEach(function (radio) {
      radio.addEventListener("change", refresh);
    });
    refresh();
    return { bodies: function () { return ask().then(function (r) { return r.bodies; }); } };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var form = $("#step-form");
    if (!form) return;
    toolbars();
    modes(livePreview(form));
  });
})();
