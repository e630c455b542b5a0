// sagate console: the copy buttons of the key page, and its secrets wiped when the page
// is left. Nothing else runs in the page.
"use strict";
// A page with a secret (the key page, shown once) is no-store, but a browser's
// back-forward cache may still keep it whole and show it again on Back then Forward,
// without asking the server. So the secrets leave the page as it is hidden, and a page
// restored from that cache is loaded afresh, which the server answers "Shown once".
window.addEventListener("pagehide", function () {
  document.querySelectorAll("[data-secret]").forEach(function (el) { el.textContent = "(shown once)"; });
});
window.addEventListener("pageshow", function (ev) {
  if (ev.persisted && document.querySelector("[data-secret]")) { location.reload(); }
});
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("button.copy[data-copy]").forEach(function (btn) {
    btn.addEventListener("click", function () {
      var el = document.getElementById(btn.getAttribute("data-copy"));
      if (!el) { return; }
      var done = function () { btn.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(el.textContent).then(done, function () { select(el); });
      } else {
        select(el);
      }
    });
  });
  // select leaves the text selected so that Ctrl+C copies it.
  function select(el) {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
  }
});
