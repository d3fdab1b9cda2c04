/* Moves focus to what a form's answer asks the reader to see first (an error, or the
   confirmation of what will be recorded): the element marked data-focus-on-load. Focusing
   scrolls it into view, and a screen reader reads it. */
(function () {
  "use strict";
  var focus = function () {
    var target = document.querySelector("[data-focus-on-load]");
    if (!target) { return; }
    target.focus({ preventScroll: true });
    target.scrollIntoView({ block: "center" });
  };
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", focus);
  } else {
    focus();
  }
})();
