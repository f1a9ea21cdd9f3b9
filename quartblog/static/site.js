// quartblog: small enhancements; every page works without this file.
(function () {
  "use strict";

  // Ask before destructive actions (forms marked data-confirm="...").
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });

  // The editor: the browser's time zone by default, and a live preview with a word
  // count from the server's renderer (POST /preview), at most one request per pause.
  var zone = document.querySelector("select#timezone[data-browser-default]");
  if (zone && window.Intl) {
    var own = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (own && Array.prototype.some.call(zone.options, function (o) { return o.value === own; })) {
      zone.value = own;
    }
  }
  var columns = document.querySelector(".editor-columns[data-preview-url]");
  var body = columns && columns.querySelector("textarea#body");
  if (body && window.fetch) {
    var pane = columns.querySelector(".live-preview");
    var counter = document.querySelector(".word-count");
    var token = body.form.querySelector("input[name=csrf_token]");
    var timer = null, sent = 0, shown = 0;
    var refresh = function () {
      var number = ++sent;
      var data = new URLSearchParams();
      data.set("body", body.value);
      fetch(columns.getAttribute("data-preview-url"), {
        method: "POST", body: data, credentials: "same-origin",
        headers: {"X-CSRF-Token": token ? token.value : "", "Accept": "application/json"}
      }).then(function (response) { return response.ok ? response.json() : null; })
        .then(function (result) {
          if (!result || number < shown) { return; }  // an older answer arriving late
          shown = number;
          pane.innerHTML = result.html;  // sanitized by the server (nh3)
          if (counter) {
            var form = counter.getAttribute(result.words === 1 ? "data-one" : "data-other");
            counter.textContent = form.replace("#", result.words.toLocaleString());
          }
        }).catch(function () { /* offline: the preview button still works */ });
    };
    pane.hidden = false;
    columns.classList.add("live");
    body.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 400);
    });
    refresh();
  }

  // A click dismisses a flash message.
  document.querySelectorAll(".flash").forEach(function (flash) {
    flash.addEventListener("click", function () { flash.remove(); });
  });
})();
