// quartblog: images in the post editor (templates/site/_upload.html). The "Add an image"
// button, or an image pasted or dropped into the text, is sent to the site's /uploads
// (with the form's CSRF token); the answer's Markdown ![](url) goes in at the cursor.
// Without this script the editor works as before, without the button.
(function () {
  "use strict";

  var tools = document.querySelector(".upload-tools[data-upload-url]");
  if (!tools || !window.fetch || !window.FormData) { return; }
  var textarea = document.getElementById(tools.getAttribute("data-target"));
  var button = tools.querySelector("[data-upload-button]");
  var input = tools.querySelector("[data-upload-input]");
  var status = tools.querySelector("[data-upload-status]");
  if (!textarea) { return; }
  tools.hidden = false;

  function say(message, isError) {
    status.textContent = message;
    status.classList.toggle("field-error", Boolean(isError));
  }

  function firstError(body) {
    var errors = body && body.errors;
    if (!errors) { return null; }
    for (var field in errors) {
      if (errors[field] && errors[field].length) { return errors[field][0]; }
    }
    return null;
  }

  // The Markdown as a paragraph of its own (a blank line either side), where the cursor
  // is (or in place of the selection); the cursor goes after it.
  function insertAtCursor(markdown) {
    var start = textarea.selectionStart, end = textarea.selectionEnd, value = textarea.value;
    var before = value.slice(0, start), after = value.slice(end);
    var lead = !before || /\n\n$/.test(before) ? "" : (/\n$/.test(before) ? "\n" : "\n\n");
    var tail = !after ? "\n" : (/^\n\n/.test(after) ? "" : (/^\n/.test(after) ? "\n" : "\n\n"));
    var text = lead + markdown + tail;
    textarea.value = before + text + after;
    var caret = before.length + text.length;
    textarea.focus();
    textarea.setSelectionRange(caret, caret);
    textarea.dispatchEvent(new Event("input", { bubbles: true }));  // e.g. a live preview
  }

  function isImage(file) { return /^image\//.test(file.type || "") || !file.type; }

  function upload(file) {
    var data = new FormData();
    data.append("file", file, file.name || "image");
    say(tools.getAttribute("data-uploading"));
    return fetch(tools.getAttribute("data-upload-url"), {
      method: "POST",
      body: data,
      credentials: "same-origin",
      headers: { "X-CSRF-Token": tools.getAttribute("data-csrf"), "Accept": "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (body) {
        if (response.ok && body.upload) {
          insertAtCursor(body.upload.markdown);
          say(tools.getAttribute("data-done"));
        } else {
          say(firstError(body) || tools.getAttribute("data-failed"), true);
        }
      });
    }, function () {
      say(tools.getAttribute("data-failed"), true);
    });
  }

  // One after the other, in the order given: each goes in after the one before.
  function uploadAll(files) {
    var queue = Array.prototype.filter.call(files, isImage);
    if (!queue.length) { return false; }
    button.disabled = true;
    queue.reduce(function (done, file) {
      return done.then(function () { return upload(file); });
    }, Promise.resolve()).then(function () { button.disabled = false; });
    return true;
  }

  button.addEventListener("click", function () { input.click(); });
  input.addEventListener("change", function () {
    uploadAll(input.files);
    input.value = "";
  });

  textarea.addEventListener("paste", function (event) {
    var files = event.clipboardData && event.clipboardData.files;
    if (files && files.length && uploadAll(files)) { event.preventDefault(); }
  });
  textarea.addEventListener("dragover", function (event) {
    if (event.dataTransfer && Array.prototype.indexOf.call(event.dataTransfer.types, "Files") >= 0) {
      event.preventDefault();
    }
  });
  textarea.addEventListener("drop", function (event) {
    var files = event.dataTransfer && event.dataTransfer.files;
    if (files && files.length && uploadAll(files)) { event.preventDefault(); }
  });
})();
