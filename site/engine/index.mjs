// The inference module's one entry point, called from Python (pyapp/engine/bridge.py).
//
// Everything that crosses into Python is small: numbers, strings, token ids, and callbacks that
// receive {phase, loaded, total} progress or {id, text} pieces. Model bytes never enter Python's
// heap; Python only asks for the first megabytes (the GGUF header) through readBytes().

import { EngineError, asEngineError } from "./errors.mjs";
import { WllamaEngine } from "./wllama-engine.mjs";

const PROGRESS_INTERVAL_MS = 100;

// Fetch a model with byte-level progress; returns a Blob (kept out of the JS heap where the
// browser can). Errors become EngineError("download-failed").
export async function fetchModel(url, { onProgress, signal } = {}) {
  let response;
  try {
    response = await fetch(url, { signal });
  } catch (err) {
    throw new EngineError("download-failed", `Could not download the model (${err.message || err}).`);
  }
  if (!response.ok) {
    throw new EngineError("download-failed", `Could not download the model: HTTP ${response.status}.`);
  }
  const total = Number(response.headers.get("Content-Length")) || 0;
  const reader = response.body.getReader();
  const parts = [];
  let loaded = 0;
  let lastReport = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.byteLength;
    const now = performance.now();
    if (now - lastReport > PROGRESS_INTERVAL_MS) {
      lastReport = now;
      onProgress?.({ phase: "download", loaded, total });
    }
  }
  onProgress?.({ phase: "download", loaded, total: total || loaded });
  return new Blob(parts, { type: "application/octet-stream" });
}

export async function readBytes(blob, start, end) {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

export function webgpuAvailable() {
  return typeof navigator !== "undefined" && "gpu" in navigator;
}

// Pick an engine. prefer: "auto" | "webgpu" | "wllama". Returns {engine, kind, reason}.
export async function createEngine({ prefer = "auto", wllamaAssets, nCtx } = {}) {
  const reasons = [];
  if (prefer === "webgpu" || prefer === "auto") {
    try {
      const webgpu = await import("./webgpu/index.mjs");
      const engine = await webgpu.createWebGPUEngine({ nCtx });
      engine.acceptsTokens = true;
      return engine;
    } catch (err) {
      const e = asEngineError(err, "no-webgpu");
      if (prefer === "webgpu") throw e;
      reasons.push(e.message);
    }
  }
  const reason = reasons.length ? `WebGPU engine unavailable: ${reasons.join("; ")}` : "CPU engine requested";
  return new WllamaEngine({ assetsBase: wllamaAssets, nCtx, reason });
}

export { EngineError };
