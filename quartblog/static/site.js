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

  // A click dismisses a flash message.
  document.querySelectorAll(".flash").forEach(function (flash) {
    flash.addEventListener("click", function () { flash.remove(); });
  });
})();
