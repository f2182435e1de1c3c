// One page, one model, the same prompts: our WebGPU engine and wllama (1 and 2 threads, and with
// n_gpu_layers: 99, which asks llama.cpp's own WebGPU backend to take the layers).
// Driven by bench/engines_side_by_side.py, which passes the prompts (text and token ids) in
// window.BENCH and reads window.RESULTS. Ours runs every prompt once with prompt lookup's drafts
// (the default) and once without. Task prompts (the app's own, with stopIds) are decoded to their
// end of generation; cut prompts run to decodeTokens tokens past any end.

import { createWebGPUEngine } from "/dist/engine/webgpu/index.mjs";
import { Wllama } from "/dist/vendor/wllama/index.js";

const { modelUrl, prompts, decodeTokens, tasks } = window.BENCH;
const results = [];
const log = (row) => { results.push(row); console.log(JSON.stringify(row)); };

// Each engine first runs the shortest prompt once unmeasured (kernel compilation, first-use
// allocations), then every prompt once.
const warmUpThenEach = async (runOne) => {
  await runOne(prompts[0]);
  for (const prompt of prompts) await runOne(prompt, true);
};

async function ours(blob) {
  const engine = await createWebGPUEngine();
  await engine.load(blob);
  for (const draft of [undefined, 0]) {
    await warmUpThenEach(async (prompt, measured) => {
      engine.reset();
      const t0 = performance.now();
      await engine.prefill(prompt.ids);
      const prefillMs = performance.now() - t0;
      let first = null;
      let n = 0;
      const out = await engine.generate({ maxTokens: decodeTokens, stopIds: prompt.stopIds, draft, onToken: () => { first ??= performance.now(); n++; } });
      const end = performance.now();
      if (measured) {
        log({ engine: draft === 0 ? "wordcalc-webgpu-nodraft" : "wordcalc-webgpu", task: prompt.task, promptTokens: prompt.ids.length,
              prefillTokPerS: prompt.ids.length * 1000 / prefillMs, decodeTokPerS: (n - 1) * 1000 / (end - first), ttftMs: first - t0,
              tokens: n, passes: out.stats.passes, kept: out.stats.acceptedTokens });
      }
    });
  }
  await engine.unload();
}

async function wllama(blob, nThreads, nGpuLayers = 0) {
  const w = new Wllama({ default: "/dist/vendor/wllama/wllama.wasm" }, { suppressNativeLog: true });
  await w.loadModel([blob], { n_ctx: 2048, n_threads: nThreads, n_batch: 512, n_gpu_layers: nGpuLayers });
  await warmUpThenEach(async (prompt, measured) => {
    const t0 = performance.now();
    let first = null;
    let n = 0;
    await w.createCompletion({
      prompt: prompt.text, max_tokens: decodeTokens, temperature: 0, stream: true, cache_prompt: false,
      ignore_eos: !prompt.stopIds, onData: (c) => { if (c.choices?.[0]?.text) { first ??= performance.now(); n++; } },
    });
    const end = performance.now();
    if (measured) {
      // wllama reports no prefill timing of its own: prompt tok/s here includes the first token.
      log({ engine: `wllama-${nGpuLayers ? `ngl${nGpuLayers}` : "cpu"}-${nThreads}t`, threads: w.getNumThreads(), task: prompt.task, promptTokens: prompt.ids.length,
            prefillTokPerS: prompt.ids.length * 1000 / (first - t0), decodeTokPerS: (n - 1) * 1000 / (end - first),
            ttftMs: first - t0 });
    }
  });
  await w.exit();
}

const blob = await (await fetch(modelUrl)).blob();
const adapter = await navigator.gpu?.requestAdapter();
const info = adapter?.info;
window.ADAPTER = info ? { vendor: info.vendor, architecture: info.architecture, isFallbackAdapter: info.isFallbackAdapter } : null;
try {
  await ours(blob);
  await wllama(blob, 1);
  if (crossOriginIsolated) await wllama(blob, 2);
  if (!tasks) await wllama(blob, crossOriginIsolated ? 2 : 1, 99);
} catch (err) {
  log({ error: String(err && err.stack || err) });
}
window.RESULTS = results;
