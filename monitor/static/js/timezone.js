/* The device's own time zone, suggested on a time zone <select data-device-zone> (issue 13).
   "default" (a form shown for the first time, untouched): the select is set to the device's
   zone, and a note says so. "offer" (a saved setting): a button offers the device's zone,
   since changing a saved zone unasked would move the patient's check-in days. Without
   JavaScript the select works as it is; the server checks any zone it receives. */
(function () {
  "use strict";
  var select = document.querySelector("select[data-device-zone]");
  if (select) { addSearch(select); }
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

  /* The full IANA list behind a search: typing narrows the select to the zones whose name has
     every word typed ("kolk", "new york", "paris"), and picks the first of them when the one
     chosen is filtered out; a status line says how many match and which is chosen. Without
     JavaScript the select lists every zone, the common ones first. */
  function addSearch(select) {
    var box = document.createElement("div");
    box.className = "zone-search";
    var label = document.createElement("label");
    label.htmlFor = select.id + "-search";
    label.textContent = "Search every time zone";
    var input = document.createElement("input");
    input.type = "search";
    input.id = select.id + "-search";
    input.autocomplete = "off";
    input.setAttribute("aria-controls", select.id);
    var status = document.createElement("p");
    status.className = "hint";
    status.id = select.id + "-search-status";
    status.setAttribute("role", "status");
    input.setAttribute("aria-describedby", status.id);
    box.appendChild(label);
    box.appendChild(input);
    box.appendChild(status);
    select.insertAdjacentElement("beforebegin", box);
    input.addEventListener("input", function () {
      var words = input.value.toLowerCase().replace(/_/g, " ").split(/[\s\/]+/).filter(Boolean);
      var first = null, shown = 0;
      Array.prototype.forEach.call(select.options, function (option) {
        var text = (option.value + " " + option.text).toLowerCase().replace(/_/g, " ");
        var match = words.every(function (word) { return text.indexOf(word) !== -1; });
        option.hidden = !match;
        if (match) { shown += 1; if (first === null) { first = option; } }
      });
      var chosen = select.options[select.selectedIndex];
      if (first !== null && (!chosen || chosen.hidden)) { select.value = first.value; }
      if (!words.length) { status.textContent = ""; return; }
      status.textContent = shown === 0 ? "No time zone matches." :
        (shown === 1 ? "1 zone matches" : shown + " zones match") + "; chosen: " +
        select.options[select.selectedIndex].text + ".";
    });
  }
}());
