// The inference module's one entry point, called from Python (pyapp/engine/bridge.py).
//
// Everything that crosses into Python is small: numbers, strings, token ids, and callbacks that
// receive {phase, loaded, total} progress or {id, text} pieces. Model bytes never enter Python's
// heap; Python only asks for the first megabytes (the GGUF header) through readBytes().

import { EngineError, asEngineError } from "./errors.mjs";
import { WllamaEngine } from "./wllama-engine.mjs";

// Fetching a model, and the models kept in this browser: see model-store.mjs.
export { fetchModel, listStoredModels, deleteStoredModel, storageEstimate } from "../model-store.mjs";

export async function readBytes(blob, start, end) {
  return new Uint8Array(await blob.slice(start, end).arrayBuffer());
}

// Why the WebGPU engine should not run here, or null when it should. A software adapter
// (SwiftShader) emulates the GPU on the CPU cores, where llama.cpp's wasm build is faster.
async function webgpuObstacle() {
  if (typeof navigator === "undefined" || !("gpu" in navigator)) return "this browser offers no WebGPU";
  const adapter = await navigator.gpu.requestAdapter();
  if (!adapter) return "this browser offers no WebGPU adapter";
  if (adapter.isFallbackAdapter || adapter.info?.isFallbackAdapter) {
    return "the only WebGPU adapter is a software emulation, where the CPU engine is faster";
  }
  return null;
}

// How many threads llama.cpp's wasm build may use. More than one needs SharedArrayBuffer, which a
// browser grants only to a cross-origin isolated page (COOP/COEP headers, which GitHub Pages cannot
// send); past 4 threads a small model gains little and the page's own work would starve.
const MAX_CPU_THREADS = 4;

function cpuThreads() {
  if (!globalThis.crossOriginIsolated) return 1;
  return Math.max(1, Math.min(globalThis.navigator?.hardwareConcurrency || 1, MAX_CPU_THREADS));
}

// Pick an engine. prefer: "auto" | "webgpu" | "wllama". The engine has `kind` and `reason`;
// `reason` says why the CPU engine runs when the caller knows better (the GPU engine refused the model).
export async function createEngine({ prefer = "auto", wllamaAssets, nCtx, reason: given } = {}) {
  let reason = given ?? "the CPU engine was requested";
  if (prefer === "auto") {
    const obstacle = await webgpuObstacle();
    if (obstacle === null) prefer = "webgpu";
    else reason = `CPU engine: ${obstacle}`;
  }
  if (prefer === "webgpu") {
    try {
      const webgpu = await import("./webgpu/index.mjs");
      return new WebGPUCompletion(await webgpu.createWebGPUEngine(), nCtx);
    } catch (err) {
      reason = `CPU engine: the GPU engine could not start (${asEngineError(err, "no-webgpu").message})`;
    }
  }
  return new WllamaEngine({ assetsBase: wllamaAssets, nThreads: cpuThreads(), nCtx, reason });
}

// Gives the WebGPU engine's prefill/generate pair the one-call complete() interface the CPU engine
// has, so Python drives both the same way (token ids in and out here).
class WebGPUCompletion {
  constructor(inner, nCtx) {
    this.inner = inner;
    this.nCtx = nCtx;
    this.kind = "webgpu";
    this.acceptsTokens = true;
    this.reason = "GPU engine: WebGPU is available";
  }

  async load(blob, { onProgress } = {}) {
    const info = await this.inner.load(blob, { onProgress, nCtx: this.nCtx });
    this.kind = info.engine;
    return info;
  }

  async complete(request) {
    const started = performance.now();
    let firstTokenAt = null;
    let nGenerated = 0;
    let prefill;
    try {
      prefill = await this.inner.prefill(request.tokens, { onProgress: request.onProgress });
    } catch (err) {
      const e = asEngineError(err);
      if (e.kind !== "cancelled") throw e;
      return { stopReason: "cancelled", nPrompt: request.tokens.length, nCached: 0, nGenerated: 0,
               firstTokenMs: null, totalMs: performance.now() - started };
    }
    const out = await this.inner.generate({
      maxTokens: request.maxTokens,
      temperature: request.temperature,
      topK: request.topK,
      topP: request.topP,
      seed: request.seed,
      stopIds: request.stopIds,
      onToken: (id) => {
        firstTokenAt ??= performance.now();
        nGenerated += 1;
        request.onPiece({ id, text: null });
      },
    });
    return {
      stopReason: out.stopReason,
      nPrompt: request.tokens.length,
      nCached: prefill.nCached,
      nGenerated,
      firstTokenMs: firstTokenAt === null ? null : firstTokenAt - started,
      totalMs: performance.now() - started,
    };
  }

  cancel() {
    this.inner.cancel();
  }

  async unload() {
    await this.inner.unload();
  }
}

export { EngineError };
