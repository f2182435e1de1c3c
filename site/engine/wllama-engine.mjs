// CPU fallback engine: llama.cpp compiled to wasm (@wllama/wllama), behind the same interface as
// the WebGPU engine. wllama's public API is text in / text out, so this engine reports
// `acceptsTokens: false` and streams text pieces instead of token ids.

import { EngineError, asEngineError } from "./errors.mjs";

const DEFAULT_CONTEXT = 4096;

export class WllamaEngine {
  constructor({ assetsBase, nThreads = 1, nCtx = DEFAULT_CONTEXT, reason = "" }) {
    this.assetsBase = assetsBase;
    this.nThreads = nThreads;
    this.nCtx = nCtx;
    this.kind = "wllama-cpu";
    this.acceptsTokens = false;
    this.reason = [reason, threadsNote(nThreads)].filter(Boolean).join("; ");
    this.wllama = null;
    this.running = Promise.resolve();
    this.cancelCurrent = null;
  }

  async load(blob, { onProgress } = {}) {
    const { Wllama } = await import(new URL("index.js", this.assetsBase).href);
    this.wllama = new Wllama(
      { default: new URL("wllama.wasm", this.assetsBase).href },
      { suppressNativeLog: true, logger: quietLogger },
    );
    onProgress?.({ phase: "engine", loaded: 0, total: 1 });
    try {
      await this.wllama.loadModel([blob], { n_ctx: this.nCtx, n_threads: this.nThreads, n_batch: 512 });
    } catch (err) {
      throw new EngineError("bad-file", `The CPU engine could not load this model: ${err.message || err}`);
    }
    onProgress?.({ phase: "engine", loaded: 1, total: 1 });
    const meta = this.wllama.getModelMetadata();
    return {
      arch: meta.meta["general.architecture"] || "unknown",
      nCtx: this.nCtx,
      nVocab: meta.hparams.nVocab,
      nLayer: meta.hparams.nLayer,
      engine: this.kind,
    };
  }

  // request: {text, maxTokens, temperature, topK, topP, seed, onPiece({id, text})}
  // Stop must feel instant, but wllama only notices an abort between its steps (a long prompt is
  // one step), so cancel() settles this call at once and the next call waits for wllama to finish.
  async complete(request) {
    if (!this.wllama) throw new EngineError("internal", "complete() before load()");
    await this.running;
    const abort = new AbortController();
    let settleCancelled;
    const cancelled = new Promise((resolve) => { settleCancelled = resolve; });
    this.cancelCurrent = () => { abort.abort(); settleCancelled(); };
    const started = performance.now();
    const run = { firstPieceAt: null, nGenerated: 0, finishReason: null, usage: null };
    const work = this.wllama.createCompletion({
      prompt: request.text,
      max_tokens: request.maxTokens,
      temperature: request.temperature ?? 0,
      top_k: request.topK || 0,
      top_p: request.topP ?? 1,
      seed: request.seed ?? 0,
      stream: true,
      abortSignal: abort.signal,
      onData: (chunk) => {
        if (abort.signal.aborted) return;
        const choice = chunk.choices && chunk.choices[0];
        if (chunk.usage) run.usage = chunk.usage;
        if (!choice) return;
        if (choice.finish_reason) run.finishReason = choice.finish_reason;
        if (choice.text) {
          run.firstPieceAt ??= performance.now();
          run.nGenerated += 1;
          request.onPiece({ id: null, text: choice.text });
        }
      },
    });
    this.running = work.catch(() => {});
    try {
      await Promise.race([work, cancelled]);
    } catch (err) {
      const e = asEngineError(err);
      if (e.kind !== "cancelled") throw e;
    } finally {
      this.cancelCurrent = null;
    }
    const ended = performance.now();
    const stopReason = abort.signal.aborted ? "cancelled" : run.finishReason === "length" ? "length" : "stop";
    return {
      stopReason,
      nPrompt: run.usage ? run.usage.prompt_tokens : null,
      nGenerated: run.usage && !abort.signal.aborted ? run.usage.completion_tokens : run.nGenerated,
      firstTokenMs: run.firstPieceAt === null ? null : run.firstPieceAt - started,
      totalMs: ended - started,
    };
  }

  cancel() {
    this.cancelCurrent?.();
  }

  async unload() {
    await this.wllama?.exit();
    this.wllama = null;
  }
}

// Says how many threads run, and why only one when the page could have more elsewhere.
function threadsNote(nThreads) {
  if (nThreads > 1) return `${nThreads} threads`;
  return globalThis.crossOriginIsolated ? "1 thread" : "1 thread (the page is not cross-origin isolated)";
}

const quietLogger = {
  debug() {},
  log() {},
  warn: (...args) => console.warn("[wllama]", ...args),
  error: (...args) => console.error("[wllama]", ...args),
};
