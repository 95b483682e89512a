/* The device's own time zone, suggested on a time zone <select data-device-zone> (issue 13).
   "default" (a form shown for the first time, untouched): the select is set to the device's
   zone, and a note says so. "offer" (a saved setting): a button offers the device's zone,
   since changing a saved zone unasked would move the patient's check-in days. Without
   JavaScript the select works as it is; the server checks any zone it receives. */
(function () {
  "use strict";
  var select = document.querySelector("select[data-device-zone]");
  var zone = null;
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone; } catch (e) { return; }
  if (!select || !zone || select.value === zone) { return; }
  var known = Array.prototype.some.call(select.options, function (o) { return o.value === zone; });
  if (!known) { return; }
  var note = document.createElement("p");
  note.className = "hint device-zone";
  note.id = select.id + "-device";
  note.setAttribute("role", "status");
  select.insertAdjacentElement("afterend", note);
  if (select.getAttribute("data-device-zone") === "default") {
    // Untouched: still showing the option the page came with (a slow load may have let a
    // person choose already; their choice stays).
    var untouched = Array.prototype.some.call(select.options, function (o) {
      return o.defaultSelected && o.value === select.value;
    });
    if (untouched) {
      select.value = zone;
      note.textContent = "Set to this device's time zone, " + zone.replace(/_/g, " ") +
        ". Choose another if that is not where the patient lives.";
      select.addEventListener("change", function () { note.textContent = ""; });
    }
    return;
  }
  var button = document.createElement("button");
  button.type = "button";
  button.textContent = "Use this device's time zone: " + zone.replace(/_/g, " ");
  button.addEventListener("click", function () {
    select.value = zone;
    note.textContent = "Time zone set to " + zone.replace(/_/g, " ") + ". Save to keep it.";
    select.focus();
  });
  note.insertAdjacentElement("beforebegin", button);
}());
