/* The idle warning (WCAG 2.2.1 Timing Adjustable; HIPAA automatic logoff). The server ends a
   signed-in session after its idle limit whatever happens here (monitor/sessions.py); this
   script only makes that humane: IDLE_WARNING_SECONDS before it, a modal dialog (base.html's
   #idle-dialog) says so and offers "Stay signed in" (a CSRF-protected POST that counts as use on
   the server) or "Sign out"; when the time is up it signs out, so a screen left open on a bus
   stops showing patient data and lands on the sign-in page.

   Deadlines are kept as clock times and checked at least once a minute and whenever the page
   comes back into view: timers stop while a phone sleeps, and a 30-day "keep me signed in"
   limit would overflow a single setTimeout. Tabs of the same browser share one deadline
   (localStorage holds only that time), so using one tab keeps the others from signing out. */
(function () {
  "use strict";
  var dialog = document.getElementById("idle-dialog");
  if (!dialog || typeof dialog.showModal !== "function") { return; }  // the server's limit still applies
  var KEY = "monitor.signedOutAt";
  var warnMs = Number(dialog.getAttribute("data-warn-seconds")) * 1000;
  var loginUrl = dialog.getAttribute("data-login");
  var countdown = dialog.querySelector(".idle-countdown");
  var status = dialog.querySelector(".idle-status");
  var stayForm = dialog.querySelector("form.idle-stay");
  var outForm = dialog.querySelector("form.idle-sign-out");
  var deadline = Date.now() + Number(dialog.getAttribute("data-seconds-left")) * 1000;
  var timer = null;
  var ticking = null;
  var leaving = false;

  function share(value) {
    deadline = value;
    try { window.localStorage.setItem(KEY, String(value)); } catch (e) { /* private mode: this tab only */ }
  }

  function shared() {
    var stored = null;
    try { stored = Number(window.localStorage.getItem(KEY)); } catch (e) { stored = null; }
    // Another tab was used more recently: its deadline is this session's too.
    return stored && stored > deadline ? stored : deadline;
  }

  function spoken(ms) {
    var seconds = Math.max(0, Math.ceil(ms / 1000));
    if (seconds > 90) { return Math.round(seconds / 60) + " minutes"; }
    if (seconds >= 60) { return "1 minute " + (seconds - 60) + (seconds - 60 === 1 ? " second" : " seconds"); }
    return seconds + (seconds === 1 ? " second" : " seconds");
  }

  function signOut() {
    if (leaving) { return; }
    leaving = true;
    var reason = document.createElement("input");  // "signed out after a period of inactivity"
    reason.type = "hidden";
    reason.name = "reason";
    reason.value = "idle";
    outForm.appendChild(reason);
    outForm.submit();  // lands on the sign-in page, saying why
  }

  function check() {
    window.clearTimeout(timer);
    if (leaving) { return; }
    deadline = shared();
    var left = deadline - Date.now();
    if (left <= 0) { signOut(); return; }
    if (left <= warnMs) {
      open(left);
    } else if (dialog.open) {
      close();  // answered in another tab
    }
    timer = window.setTimeout(check, Math.min(dialog.open ? 1000 : left - warnMs, 60000));
  }

  function open(left) {
    countdown.textContent = spoken(left);
    if (dialog.open) { return; }
    status.textContent = "";
    dialog.showModal();  // focus moves to "Stay signed in" (autofocus); the rest of the page is inert
    ticking = window.setInterval(function () { countdown.textContent = spoken(deadline - Date.now()); }, 1000);
  }

  function close() {
    window.clearInterval(ticking);
    if (dialog.open) { dialog.close(); }
  }

  function stay() {
    status.textContent = "";
    window.fetch(stayForm.action, {
      method: "POST", body: new FormData(stayForm), credentials: "same-origin",
      headers: {"Accept": "application/json"}
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("application/json") !== 0) {
        // Already signed out on the server (the sign-in page answered): go there.
        window.location.assign(loginUrl);
        return null;
      }
      return response.json().then(function (answer) {
        share(Date.now() + answer.seconds_left * 1000);
        if (deadline - Date.now() <= warnMs) {
          status.textContent = "This sign-in has reached its time limit and cannot be extended. Please sign in again.";
        } else {
          close();
        }
        check();
      });
    }).catch(function () {
      status.textContent = "The clinic could not be reached. Check your connection and try again.";
    });
  }

  stayForm.addEventListener("submit", function (event) { event.preventDefault(); stay(); });
  // Escape is an answer too: someone is there. Treat it as "Stay signed in".
  dialog.addEventListener("cancel", function (event) { event.preventDefault(); stay(); });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) { check(); } });
  window.addEventListener("pageshow", check);
  window.addEventListener("storage", function (event) { if (event.key === KEY) { check(); } });
  share(deadline);  // this page was just served: the session was live a moment ago
  check();
})();
