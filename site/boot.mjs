// Boot: load Pyodide and wordcalc's wheels from this site (never a CDN), then hand over to Python.
// This file owns the progress bar only until Python starts; from then on pyapp drives the page.

import { loadPyodide } from "./pyodide/pyodide.mjs";
import * as engineModule from "./engine/index.mjs";
import * as pdfModule from "./pdf-text.mjs";
import { startOffline, whenControlled } from "./offline.mjs";

const siteBase = new URL("./", import.meta.url);
const bar = document.getElementById("boot-progress");
const text = document.getElementById("boot-text");
const bootStarted = performance.now();

function progress(label, fraction = null) {
  text.textContent = label;
  if (fraction === null || fraction === undefined) bar.removeAttribute("value");
  else bar.value = Math.max(0, Math.min(1, fraction));
}

function fail(message) {
  document.getElementById("boot").classList.add("failed");
  bar.hidden = true;
  text.textContent = message;
  window.wordcalcBoot.failed = message;
}

async function fetchJSON(path) {
  const response = await fetch(new URL(path, siteBase));
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

async function boot() {
  progress("Loading Python (Pyodide)…", 0.02);
  const buildInfo = await fetchJSON("build-info.json");
  window.wordcalcBoot.version = buildInfo.version;
  if (Object.keys(buildInfo.split ?? {}).length) {
    progress("Saving wordcalc for offline use (its large files need it)…", 0.03);
    await whenControlled(siteBase);
  }
  const pyodide = await loadPyodide({ indexURL: new URL("pyodide/", siteBase).href });
  progress("Loading Python packages (numpy, micropip)…", 0.1);
  await pyodide.loadPackage(buildInfo.pyodidePackages, { messageCallback: () => {} });
  progress("Installing wordcalc…", 0.15);
  const micropip = pyodide.pyimport("micropip");
  const wheelUrls = buildInfo.wheels.map((name) => new URL(`wheels/${name}`, siteBase).href);
  await micropip.install(wheelUrls, { deps: false });
  window.wordcalcBoot.pythonReadyMs = performance.now() - bootStarted;
  // For eval/ and bench/ scripts driving the page (same origin only, like everything on window).
  window.wordcalcBoot.runPython = (code) => pyodide.runPythonAsync(code);
  const app = pyodide.pyimport("pyapp.app");
  await app.start({
    progress,
    fail,
    buildInfo,
    siteBase: siteBase.href,
    engineModule,
    pdfModule,
    bootStarted,
    params: Object.fromEntries(new URLSearchParams(location.search)),
  });
}

window.wordcalcBoot = { failed: null, pythonReadyMs: null, version: null };
boot().catch((err) => {
  console.error(err);
  fail(`wordcalc could not start: ${err.message || err}`);
}).finally(() => startOffline(siteBase, window.wordcalcBoot.version)); // after boot: no competing for bandwidth
