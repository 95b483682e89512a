/* The service worker (monitor/shell): keeps the app shell so that the app opens without
   signal, and nothing else. Written out by monitor/shell/views.py with this release's addresses.

   Kept: the offline page and the fingerprinted static files (their names change with their
   content, so a kept copy is never stale). Never kept: any page (each may carry a patient's
   data and is sent no-store), any answer to a form or to the check-in, anything not GET, not
   ours, not OK, or marked no-store or private. A page that cannot be reached is answered with
   the offline page, which holds no one's data. */
"use strict";
const CACHE = "shell-{{ version }}";
const SHELL = {{ shell_urls|tojson }};
const OFFLINE = SHELL[0];
const FINGERPRINTED = /^\/static\/.+\.[0-9a-f]{12}\.[A-Za-z0-9]+$/;

self.addEventListener("install", (event) => {
  // Fetched without cookies: what is kept cannot depend on who is signed in.
  event.waitUntil(caches.open(CACHE)
    .then((cache) => cache.addAll(SHELL.map((url) => new Request(url, {credentials: "omit"}))))
    .then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((names) => Promise.all(names.filter((name) => name !== CACHE).map((name) => caches.delete(name))))
    .then(() => self.clients.claim()));
});

function storable(response) {
  const control = (response.headers.get("Cache-Control") || "").toLowerCase();
  return response.ok && response.type === "basic" && !control.includes("no-store") && !control.includes("private");
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;  // the check-in's POST goes to the network, always
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    // The network's page, never kept; the offline page only when there is no network at all.
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE)));
    return;
  }
  if (FINGERPRINTED.test(url.pathname)) {
    event.respondWith(caches.match(request).then((kept) => kept || fetch(request).then((response) => {
      if (storable(response)) {
        const copy = response.clone();
        caches.open(CACHE).then((cache) => cache.put(request, copy));
      }
      return response;
    })));
  }
  // Anything else: the browser's own handling, nothing kept.
});
