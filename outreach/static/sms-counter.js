/* SMS character and segment counter: a mirror of outreach.rendering.sms_segments.
 *
 * GSM-7: up to 160 septets in one segment, else 153 per segment; extension characters
 * (^ { } \ [ ~ ] | EUR and form feed) take two septets. Anything outside GSM-7 makes the
 * whole text UCS-2: 70 UTF-16 units in one segment, else 67; characters outside the Basic
 * Multilingual Plane (emoji) take two. A character is never split between segments.
 * Plain JavaScript, no dependencies; one counter per textarea[data-sms-body] (the English
 * and Spanish versions each have theirs). Exposes window.smsSegments(body) for tests.
 */
(function () {
  "use strict";
  // Generated from outreach/rendering.py (GSM7_BASIC, GSM7_EXTENSION).
  var GSM7_BASIC = "\n\r !\"#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz\u00a1\u00a3\u00a4\u00a5\u00a7\u00bf\u00c4\u00c5\u00c6\u00c7\u00c9\u00d1\u00d6\u00d8\u00dc\u00df\u00e0\u00e4\u00e5\u00e6\u00e8\u00e9\u00ec\u00f1\u00f2\u00f6\u00f8\u00f9\u00fc\u0393\u0394\u0398\u039b\u039e\u03a0\u03a3\u03a6\u03a8\u03a9";
  var GSM7_EXTENSION = "\f[\\]^{|}~\u20ac";

  function pack(units, single, part) {
    var total = 0, i;
    for (i = 0; i < units.length; i++) total += units[i];
    if (total === 0) return 0;
    if (total <= single) return 1;
    var count = 1, used = 0;
    for (i = 0; i < units.length; i++) {
      if (used + units[i] > part) { count += 1; used = 0; }
      used += units[i];
    }
    return count;
  }

  function smsSegments(body) {
    var chars = Array.from(body || "");
    var gsm = chars.every(function (ch) {
      return GSM7_BASIC.indexOf(ch) !== -1 || GSM7_EXTENSION.indexOf(ch) !== -1;
    });
    var units;
    if (gsm) {
      units = chars.map(function (ch) { return GSM7_EXTENSION.indexOf(ch) !== -1 ? 2 : 1; });
      return { encoding: "GSM-7", characters: sum(units), segments: pack(units, 160, 153) };
    }
    units = chars.map(function (ch) { return ch.codePointAt(0) > 0xFFFF ? 2 : 1; });
    return { encoding: "UCS-2", characters: sum(units), segments: pack(units, 70, 67) };
  }

  function sum(list) { return list.reduce(function (a, b) { return a + b; }, 0); }

  // What the sender sends for a campaign's first text (consent/wording.with_brand_and_stop):
  // the brand in front, and the STOP sentence of the copy's language at the end.
  function withBrandAndStop(body, brand, language) {
    if (brand && body.toLowerCase().indexOf(brand.toLowerCase()) !== 0) body = brand + ": " + body;
    var lower = body.toLowerCase();
    if (language === "es") {
      if (lower.indexOf("alto") === -1 && lower.indexOf("stop") === -1) {
        body = body + " Responde ALTO para cancelar.";
      }
    } else if (lower.indexOf("stop") === -1) {
      body = body + " Reply STOP to opt out.";
    }
    return body;
  }

  // What click tracking sends for each link staff wrote (tracking/links.py, preflight's
  // with_tracked_links): BASE/r/ and the longest code, so the count is never too low.
  var SAMPLE_CODE = "xxxxxxxxxxxxxxxxxxxxxxxx";
  var OWN_PATHS = ["/unsubscribe/", "/preferences/", "/confirm/", "/r/"];
  function withTrackedLinks(body, base) {
    if (!base) return body;
    base = base.replace(/\/+$/, "");
    return body.replace(/https?:\/\/[^\s<>"']+/gi, function (match) {
      var url = match.replace(/[.,;:!?)\]}'"]+$/, "");
      var rest = match.slice(url.length);
      if (url.indexOf("[%") !== -1) return match;
      if (url.indexOf(base) === 0) {
        var path = url.slice(base.length);
        for (var i = 0; i < OWN_PATHS.length; i++) {
          if (path.indexOf(OWN_PATHS[i]) === 0) return match;
        }
      }
      return base + "/r/" + SAMPLE_CODE + rest;
    });
  }

  window.smsSegments = smsSegments;
  window.smsWithBrandAndStop = withBrandAndStop;
  window.smsWithTrackedLinks = withTrackedLinks;

  // One counter per text field: data-counter names its box (default #sms-counter),
  // data-language the copy's language (en, es), data-track-base the tracked links' base
  // address when the campaign counts clicks (the counts are then of the links as sent).
  function attach(area) {
    var box = document.getElementById(area.getAttribute("data-counter") || "sms-counter");
    if (!box) return;
    var first = area.getAttribute("data-first") === "yes";
    var brand = area.getAttribute("data-brand") || "";
    var language = area.getAttribute("data-language") || "en";
    var trackBase = area.getAttribute("data-track-base") || "";
    function set(name, value) {
      var el = box.querySelector('[data-sms="' + name + '"]');
      if (el) el.textContent = value;
      return el;
    }
    function update() {
      var body = withTrackedLinks(area.value.replace(/\r\n?/g, "\n").trim(), trackBase);
      var seg = smsSegments(body);
      set("characters", seg.characters);
      set("segments", seg.segments).className = seg.segments > 3 ? "over" : "";
      set("encoding", seg.encoding === "GSM-7" ? "GSM-7" : "UCS-2 (a character outside GSM-7)");
      if (first && body) {
        var sent = smsSegments(withBrandAndStop(body, brand, language));
        set("sent-segments", sent.segments).className = sent.segments > 3 ? "over" : "";
      }
    }
    area.addEventListener("input", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    Array.prototype.forEach.call(document.querySelectorAll("textarea[data-sms-body]"), attach);
  });
})();
