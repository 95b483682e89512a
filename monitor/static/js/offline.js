/* The installable app and the offline check-in (issue 13), on every page and the offline page.

   - Registers the service worker (/sw.js, monitor/shell), which keeps the app shell only.
   - The check-in form (form[data-outbox]) is sent by this script: now when the network answers;
     when it does not (no signal, or none within 15 seconds), it waits in this phone's queue,
     shown as "waiting to send", and is sent when the connection returns (the "online" event,
     every page of the app that opens, every 10 seconds while one waits). Each check-in carries a key made here
     (a UUID): however often it is sent, the server stores it once (monitor/submissions.py).
     The day is the one the patient chose; the server checks it when the check-in arrives, and
     a refusal (too late for its day) is shown on the item instead of "sent".
   - Each queued check-in belongs to the account that made it (the sign-out form's
     data-outbox-owner) and is sent only while that account is signed in on this phone.
   - Signing out discards this account's unsent check-ins, after a warning.

   The queue is in localStorage, not encrypted: see SECURITY.md. Without JavaScript none of this
   runs and the form is a plain form. No inline script anywhere (CSP). */
(function () {
  "use strict";
  var STORE = "monitor.outbox";
  var TIMEOUT_MS = 15000;
  var RETRY_MS = 10000;  // only while something waits: one small request per phone

  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/sw.js", {scope: "/"}).catch(function () {});
  }

  // --- The queue: [{key, owner, day, fields: [[name, value]...], state: "waiting"|"refused", message}]

  function load() {
    try { return JSON.parse(localStorage.getItem(STORE)) || []; } catch (e) { return []; }
  }
  function store(items) {
    if (items.length) { localStorage.setItem(STORE, JSON.stringify(items)); } else { localStorage.removeItem(STORE); }
  }
  function find(key) {
    return load().filter(function (item) { return item.key === key; })[0];
  }
  function change(key, values) {
    store(load().map(function (item) { return item.key === key ? Object.assign(item, values) : item; }));
  }
  function remove(key) {
    store(load().filter(function (item) { return item.key !== key; }));
  }

  function newKey() {
    if (window.crypto && crypto.randomUUID) { return crypto.randomUUID(); }
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;  // version 4, RFC 4122 variant
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function dayName(iso) {
    var d = new Date(iso + "T12:00:00");
    return isNaN(d) ? iso : d.toLocaleDateString("en-GB", {weekday: "long", day: "numeric", month: "long"});
  }

  // --- This page: who is signed in, where check-ins go, the form token.

  var signOut = document.querySelector("form[data-outbox-owner]");
  var owner = signOut ? signOut.getAttribute("data-outbox-owner") : "";
  var checkinUrl = signOut ? signOut.getAttribute("data-outbox-url") : "";
  var offlinePage = document.body.hasAttribute("data-offline-page");
  var sent = [];           // sent from this page: [{day, done}]
  var signInNeeded = false;

  function pageToken() {
    var input = signOut && signOut.querySelector("input[name=csrf_token]");
    return input ? input.value : "";
  }

  // --- Showing the queue: a status region at the top of the page.

  var region = null;
  function ensureRegion() {
    if (region) { return region; }
    var main = document.querySelector("main");
    if (!main) { return null; }
    region = document.createElement("div");
    region.className = "outbox";
    region.setAttribute("role", "status");
    region.setAttribute("tabindex", "-1");
    main.insertBefore(region, main.firstChild);
    return region;
  }

  function render(lead) {
    var mine = load().filter(function (item) { return offlinePage || item.owner === owner; });
    if (!mine.length && !sent.length && !lead) { if (region) { region.hidden = true; } return; }
    var box = ensureRegion();
    if (!box) { return; }
    box.hidden = false;
    box.textContent = "";
    if (lead) {
      var p = document.createElement("p");
      p.textContent = lead;
      box.appendChild(p);
    }
    var list = document.createElement("ul");
    mine.forEach(function (item) {
      var li = document.createElement("li");
      li.setAttribute("data-outbox-item", item.state);
      if (item.state === "refused") {
        li.className = "outbox-refused";
        li.textContent = "Check-in for " + dayName(item.day) + ": not sent. " + item.message + " ";
        var dismiss = document.createElement("button");
        dismiss.type = "button";
        dismiss.className = "secondary";
        dismiss.textContent = "Remove it from this phone";
        dismiss.addEventListener("click", function () { remove(item.key); render(); });
        li.appendChild(dismiss);
      } else {
        li.textContent = "Check-in for " + dayName(item.day) + ": waiting to send." +
          (signInNeeded ? " Sign in again to send it." : "");
      }
      list.appendChild(li);
    });
    sent.forEach(function (done) {
      var li = document.createElement("li");
      li.setAttribute("data-outbox-item", "sent");
      li.textContent = "Check-in for " + dayName(done.day) + ": sent. ";
      var link = document.createElement("a");
      link.href = done.done;
      link.textContent = "See it";
      li.appendChild(link);
      list.appendChild(li);
    });
    box.appendChild(list);
  }

  // --- Sending.

  function timed(promise, controller) {
    var timer = setTimeout(function () { controller.abort(); }, TIMEOUT_MS);
    return promise.finally(function () { clearTimeout(timer); });
  }

  function post(item, token) {
    var body = new URLSearchParams();
    body.append("csrf_token", token);
    item.fields.forEach(function (field) { body.append(field[0], field[1]); });
    var controller = new AbortController();
    return timed(fetch(checkinUrl, {method: "POST", body: body, credentials: "same-origin", redirect: "manual",
                                    headers: {Accept: "application/json"}, signal: controller.signal}), controller);
  }

  function freshToken() {
    // A form token from a fresh copy of the check-in page: the one on this page may be older
    // than the server accepts after a long time without signal.
    var controller = new AbortController();
    return timed(fetch(checkinUrl, {credentials: "same-origin", redirect: "manual", signal: controller.signal}),
                 controller)
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        var input = new DOMParser().parseFromString(html, "text/html").querySelector("input[name=csrf_token]");
        return input ? input.value : "";
      });
  }

  function isJson(response) {
    return (response.headers.get("Content-Type") || "").indexOf("application/json") === 0;
  }

  // Sends one check-in: "sent", "refused", "signed-out", "retry" (a form token refused), or
  // "later" (no network, a timeout, a server error: it stays waiting). The server's answer
  // decides; a network failure never does, since the check-in may have arrived anyway.
  function attempt(item, token) {
    return post(item, token).then(function (response) {
      if (response.type === "opaqueredirect") { return {outcome: "signed-out"}; }
      if (isJson(response)) {
        return response.json().then(function (data) {
          if (response.ok) { return {outcome: "sent", done: data.done}; }
          return {outcome: "refused", message: data.refused || "It could not be saved."};
        });
      }
      return {outcome: response.status === 400 ? "retry" : "later"};
    }, function () { return {outcome: "later"}; });
  }

  function send(item) {
    return attempt(item, pageToken()).then(function (result) {
      if (result.outcome !== "retry") { return result; }
      return freshToken().then(function (token) {
        return token ? attempt(item, token) : {outcome: "later"};
      }, function () { return {outcome: "later"}; });
    });
  }

  function settle(item, result) {
    if (result.outcome === "sent") {
      remove(item.key);
      sent.push({day: item.day, done: result.done});
      return true;
    }
    if (result.outcome === "refused") {
      change(item.key, {state: "refused", message: result.message});
      return true;
    }
    signInNeeded = result.outcome === "signed-out";
    return false;  // stop here: the rest wait for the next try, in order
  }

  var flushing = false;
  function flush() {
    if (flushing || !owner || !checkinUrl) { return Promise.resolve(); }
    var mine = function (item) { return item.owner === owner && item.state === "waiting"; };
    if (!load().some(mine)) { return Promise.resolve(); }  // nothing to send, nothing re-announced
    flushing = true;
    var run = function () {
      var waiting = load().filter(mine);
      return waiting.reduce(function (chain, item) {
        return chain.then(function (goOn) {
          // Another tab may have sent it meanwhile.
          var current = find(item.key);
          if (!goOn || !current || current.state !== "waiting") { return goOn; }
          return send(current).then(function (result) { return settle(current, result); });
        });
      }, Promise.resolve(true));
    };
    var done = navigator.locks ? navigator.locks.request("monitor-outbox", run) : run();
    return done.catch(function () {}).then(function () { flushing = false; render(); });
  }

  // --- The check-in form.

  var form = document.querySelector("form[data-outbox]");
  if (form && owner) {
    var busy = false;
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      if (busy) { return; }
      busy = true;
      var key = newKey();
      form.elements.submission_key.value = key;
      var fields = [];
      new FormData(form).forEach(function (value, name) { if (name !== "csrf_token") { fields.push([name, value]); } });
      var item = {key: key, owner: owner, day: form.elements.local_date.value, fields: fields, state: "waiting"};
      var queue = function (why) {
        store(load().concat([item]));
        form.reset();
        form.elements.submission_key.value = newKey();
        busy = false;
        render(why + " Your check-in for " + dayName(item.day) + " is kept on this phone, waiting to send." +
               " It is sent when the connection returns, while this app is open.");
        region.focus();
        region.scrollIntoView();
      };
      if (navigator.onLine === false) { queue("No connection."); return; }
      attempt(item, pageToken()).then(function (result) {
        if (result.outcome === "sent") { window.location.assign(result.done); return; }
        if (result.outcome === "signed-out") { signInNeeded = true; queue("You were signed out."); return; }
        if (result.outcome === "later") { queue("The connection failed."); return; }
        // Refused (its errors, a day out of reach, an old form token): the server's own page says why.
        form.submit();
      });
    });
  }

  // --- Signing out discards this account's unsent check-ins, after a warning.

  function confirmSignOut(count, proceed) {
    var words = (count === 1 ? "1 check-in has" : count + " check-ins have") + " not been sent. " +
      "Signing out deletes " + (count === 1 ? "it" : "them") + " from this phone, and your clinic will not get " +
      (count === 1 ? "it" : "them") + ".";
    if (typeof HTMLDialogElement !== "function") {
      if (window.confirm(words)) { proceed(); }
      return;
    }
    var dialog = document.createElement("dialog");
    dialog.className = "outbox-confirm";
    dialog.setAttribute("aria-labelledby", "outbox-confirm-title");
    var title = document.createElement("h2");
    title.id = "outbox-confirm-title";
    title.textContent = "Sign out and delete unsent check-ins?";
    var text = document.createElement("p");
    text.textContent = words;
    var stay = document.createElement("button");
    stay.type = "button";
    stay.className = "primary";
    stay.textContent = "Stay signed in";
    var leave = document.createElement("button");
    leave.type = "button";
    leave.className = "secondary";
    leave.textContent = count === 1 ? "Sign out and delete it" : "Sign out and delete them";
    stay.addEventListener("click", function () { dialog.close(); });
    leave.addEventListener("click", function () { dialog.close(); proceed(); });
    dialog.addEventListener("close", function () { dialog.remove(); });
    dialog.append(title, text, stay, leave);
    document.body.appendChild(dialog);
    dialog.showModal();
    stay.focus();
  }

  if (signOut && owner) {
    signOut.addEventListener("submit", function (event) {
      // Only the patient's own tap: a sign-out made by script (the idle sign-out) is a time-out,
      // which keeps the queue for when this account signs in again.
      if (!event.isTrusted) { return; }
      var mine = load().filter(function (item) { return item.owner === owner; });
      if (!mine.length) { return; }
      event.preventDefault();
      confirmSignOut(mine.length, function () {
        store(load().filter(function (item) { return item.owner !== owner; }));
        signOut.submit();
      });
    });
  }

  // --- When to send.

  if (offlinePage) {
    // Back to the page that was asked for as soon as the server answers: on the "online" event
    // (which may come before the network carries anything) and every few seconds, since a phone
    // on a bus can be "online" with nothing getting through.
    var probe = function () {
      var controller = new AbortController();
      timed(fetch("/manifest.webmanifest", {cache: "no-store", credentials: "omit", signal: controller.signal}),
            controller)
        .then(function (r) { if (r.ok) { window.location.reload(); } }, function () {});
    };
    render();
    window.addEventListener("online", probe);
    setInterval(probe, 5000);
  } else if (owner) {
    render();
    flush();
    window.addEventListener("online", flush);
    setInterval(function () { if (navigator.onLine !== false) { flush(); } }, RETRY_MS);
  }
})();
