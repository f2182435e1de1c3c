// The page's side of offline use: register sw.js, offer a new version with a Reload button, ask
// for persistent storage and show how much the offline copy takes.
//
// JavaScript, not Python, on purpose: it must work even when a deploy's Python fails to start,
// because the next deploy is how such a failure gets fixed.

const UPDATE_CHECK_MS = 60 * 60 * 1000;

function showStorage(text) {
  document.getElementById("storage-info").textContent = text;
}

function size(bytes) {
  return bytes >= 1e9 ? `${(bytes / 1e9).toFixed(1)} GB` : `${Math.round(bytes / 1e6)} MB`;
}

async function showStorageEstimate() {
  if (!navigator.storage?.estimate) return;
  const persistent = await navigator.storage.persist().catch(() => false);
  const { usage = 0, quota = 0 } = await navigator.storage.estimate();
  showStorage(`Saved for offline use · ${size(usage)} stored, ${size(quota)} allowed`
    + (persistent ? "" : " · the browser may clear it when space runs low"));
}

function offerReload(worker) {
  const button = document.getElementById("update-reload");
  document.getElementById("update-banner").hidden = false;
  button.onclick = () => {
    button.disabled = true;
    if (worker.state === "activated") {
      location.reload(); // another tab already switched to the new version
      return;
    }
    navigator.serviceWorker.addEventListener("controllerchange", () => location.reload());
    worker.postMessage({ type: "activate-update" });
  };
}

function watch(worker) {
  if (!worker) return;
  showStorage(navigator.serviceWorker.controller ? "Downloading a new version for offline use…"
    : "Saving wordcalc for offline use…");
  let installed = false;
  worker.addEventListener("statechange", () => {
    if (worker.state === "installed") {
      installed = true;
      if (navigator.serviceWorker.controller) offerReload(worker);
    } else if (worker.state === "activated") {
      showStorageEstimate();
    } else if (worker.state === "redundant" && !installed) {
      showStorage("wordcalc could not be saved for offline use (is the disk full?); it still works online.");
    }
  });
}

// Files split into parts (over GitHub Pages' size limit) can only be fetched through the service
// worker, so the first visit to such a build waits here until the worker has stored everything
// and controls the page.
export async function whenControlled(siteBase) {
  if (navigator.serviceWorker?.controller) return;
  if (!("serviceWorker" in navigator)) {
    throw new Error("this browser does not run service workers (is this a private window?), "
      + "which this copy of wordcalc needs for its large files");
  }
  const controlled = new Promise((resolve) => {
    navigator.serviceWorker.addEventListener("controllerchange", resolve, { once: true });
  });
  const registration = await navigator.serviceWorker.register(new URL("sw.js", siteBase));
  const failed = new Promise((_, reject) => registration.installing?.addEventListener("statechange", (event) => {
    if (event.target.state === "redundant") reject(new Error("its files could not be stored (is the disk full?)"));
  }));
  // A hard reload bypasses an already active worker: ask it to take this page.
  registration.active?.postMessage({ type: "claim" });
  await Promise.race([controlled, failed]);
}

export async function startOffline(siteBase, version) {
  document.getElementById("app-version").textContent = version ? `version ${version}` : "";
  if (!("serviceWorker" in navigator)) {
    showStorage("This browser cannot keep wordcalc for offline use.");
    return;
  }
  let registration;
  try {
    registration = await navigator.serviceWorker.register(new URL("sw.js", siteBase));
  } catch (err) {
    showStorage(`wordcalc could not be saved for offline use: ${err.message || err}`);
    return;
  }
  if (registration.waiting && navigator.serviceWorker.controller) offerReload(registration.waiting);
  watch(registration.installing);
  registration.addEventListener("updatefound", () => watch(registration.installing));
  setInterval(() => registration.update().catch(() => {}), UPDATE_CHECK_MS);
  if (registration.active) showStorageEstimate();
}
