// wordcalc's service worker: the whole app (page, Pyodide, wheels, engine, embedded model) from one
// versioned cache, so it starts offline and a new deploy replaces the old one in a single step.
//
// build/pwa.py fills in BUILD (this build's version and every file's URL, size and sha256), so each
// deploy changes this script's bytes, which is how the browser notices an update. A new worker
// installs next to the old one (copying files whose sha256 did not change instead of downloading
// them again), waits until the page asks it to take over, then deletes the older caches.
// Files over GitHub Pages' size limit ship as parts (BUILD.joined); they are served joined
// under their own name.

const BUILD = {"version": "unbuilt", "files": [], "joined": {}};

const SCOPE = new URL("./", self.location.href);
// The scope is in the name because one origin can host several copies (user.github.io/a/, /b/).
const CACHE_PREFIX = `wordcalc app ${SCOPE.pathname} `;
const CACHE_NAME = CACHE_PREFIX + BUILD.version;
const INTEGRITY_HEADER = "X-Wordcalc-Integrity";
const APP_PAGE = new URL("index.html", SCOPE).href;
const BYTES = new Map(BUILD.files.map(({ url, bytes }) => [new URL(url, SCOPE).href, bytes]));
const JOINED = new Map(Object.entries(BUILD.joined).map(
  ([url, parts]) => [new URL(url, SCOPE).href, parts.map((part) => new URL(part, SCOPE).href)]));

self.addEventListener("install", (event) => event.waitUntil(precache()));

self.addEventListener("activate", (event) => event.waitUntil((async () => {
  for (const name of await olderCaches()) await caches.delete(name);
  await self.clients.claim();
})()));

self.addEventListener("message", (event) => {
  if (event.data?.type === "activate-update") self.skipWaiting();
  else if (event.data?.type === "claim") event.waitUntil(self.clients.claim());
});

// The page's CSP connect-src list, enforced again for every request that passes through here.
const ALLOWED_HOSTS = [/^huggingface\.co$/, /\.huggingface\.co$/, /\.hf\.co$/];

function mayLeave(url) {
  const target = new URL(url);
  return target.origin === self.location.origin
    || (target.protocol === "https:" && ALLOWED_HOSTS.some((host) => host.test(target.hostname)));
}

self.addEventListener("fetch", (event) => {
  const { request } = event;
  if (!mayLeave(request.url)) {
    event.respondWith(Response.error());
    return;
  }
  if (request.method !== "GET" || !request.url.startsWith(SCOPE.href)) return;
  event.respondWith(fromCache(request));
});

async function olderCaches() {
  return (await caches.keys()).filter((name) => name.startsWith(CACHE_PREFIX) && name !== CACHE_NAME);
}

async function precache() {
  const cache = await caches.open(CACHE_NAME);
  const older = await Promise.all((await olderCaches()).map((name) => caches.open(name)));
  await Promise.all(BUILD.files.map(async ({ url, integrity }) => {
    const href = new URL(url, SCOPE).href;
    if (await cache.match(href)) return; // an interrupted install resumes where it stopped
    await cache.put(href, (await storedCopy(older, href, integrity)) || (await download(href, integrity)));
  }));
}

async function storedCopy(older, href, integrity) {
  for (const cache of older) {
    const response = await cache.match(href);
    if (response?.headers.get(INTEGRITY_HEADER) === integrity) return response;
  }
  return null;
}

async function download(href, integrity) {
  // "no-cache" revalidates with the server: an HTTP-cached copy from an older deploy would fail
  // the integrity check and with it the whole install.
  const response = await fetch(href, { integrity, cache: "no-cache" });
  if (!response.ok) throw new Error(`${href}: HTTP ${response.status}`);
  const headers = new Headers(response.headers);
  headers.set(INTEGRITY_HEADER, integrity);
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

async function fromCache(request) {
  const cache = await caches.open(CACHE_NAME);
  const parts = JOINED.get(request.url);
  const response = parts ? joined(cache, parts) : (await cache.match(isAppPage(request) ? APP_PAGE : request)) || (await fetch(request));
  return ISOLATED_DESTINATIONS.has(request.destination) ? isolated(response, !isBookmarkletLaunch(request)) : response;
}

// The isolation headers that let the CPU engine run on several threads (SharedArrayBuffer), which
// GitHub Pages cannot send: added here to the app's page and its workers. Not on a page the
// bookmarklet opened: Cross-Origin-Opener-Policy would cut its link to the opener. Data (models,
// wasm, wheels) passes untouched: re-wrapped here, a download the network cut at 40 MB reached
// the page with only its first 2 MB (the chunks still queued seem to go with the error).
const ISOLATED_DESTINATIONS = new Set(["document", "worker", "sharedworker"]);

function isolated(response, isolateOpener) {
  if (response.type === "opaque" || response.type === "error") return response;
  const headers = new Headers(response.headers);
  headers.set("Cross-Origin-Embedder-Policy", "require-corp");
  if (isolateOpener) headers.set("Cross-Origin-Opener-Policy", "same-origin");
  return new Response(response.body, { status: response.status, statusText: response.statusText, headers });
}

function isBookmarkletLaunch(request) {
  return isAppPage(request) && new URL(request.url).searchParams.has("from");
}

// One response streaming the parts in order, each from the cache or else the network.
function joined(cache, parts) {
  const { readable, writable } = new TransformStream();
  (async () => {
    for (const href of parts) {
      const part = (await cache.match(href)) || (await fetch(href));
      if (!part.ok) throw new Error(`${href}: HTTP ${part.status}`);
      await part.body.pipeTo(writable, { preventClose: true });
    }
    await writable.close();
  })().catch((err) => writable.abort(err));
  const total = parts.reduce((sum, href) => sum + BYTES.get(href), 0);
  return new Response(readable, {
    headers: { "Content-Type": "application/octet-stream", "Content-Length": String(total) },
  });
}

// The app's page under any query string (?from=bookmarklet, ?engine=...).
function isAppPage(request) {
  const { pathname } = new URL(request.url);
  return request.mode === "navigate" && (pathname === SCOPE.pathname || pathname === `${SCOPE.pathname}index.html`);
}
