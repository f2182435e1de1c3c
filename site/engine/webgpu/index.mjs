// The WebGPU engine: GGUF in, token ids in and out. Environment-agnostic: give it a GPUDevice
// (Dawn under Node, a page's device) or let it request one from navigator.gpu.
//
//   const engine = await createWebGPUEngine({device?, emulatedGPU?, precision?: "auto" | "f32" | "f16"})
//   await engine.load(source, {onProgress, nCtx, maxBindingBytes}) -> {arch, nCtx, nVocab, nLayer, nEmbd, engine, tensorTypes}
//   await engine.prefill(ids, {onProgress, returnLogits: "none" | "last" | "all"}) -> {nCached, nEvaluated, logits?}
//   await engine.generate({maxTokens, temperature, topK, topP, seed, stopIds, onToken}) -> {tokens, stopReason, stats}
//   engine.cancel(); engine.reset(); await engine.unload(); engine.stats() (speeds; gpuBytes: weights, working;
//   prefillTiles: int8 or float prefill tiles, as timed at load; shadowHead: the output head's shadow, if any)

import { EngineError, asEngineError } from "../errors.mjs";
import { openSource, readHeader } from "./gguf.mjs";
import { planWeights, planBytes, uploadWeights, destroyWeights } from "./weights.mjs";
import { describeModel, fusedGroups } from "./model.mjs";
import { checkBuffersFit, choosePrefillChunk } from "./fit.mjs";
import { ALL_LOGITS_ROWS, Graph } from "./graph.mjs";
import { uniformStream } from "./random.mjs";
import { DraftGate, lookupDraft } from "./prompt-lookup.mjs";
import { SAMPLE_ROWS } from "./kernels/sample.mjs";

const LOST_GRACE_MS = 100;
// Prompt lookup's drafts (generateTokens): the most tokens one pass checks beyond the next, the
// shortest n-gram looked up, and whether a step goes before the last one's id is read. An
// emulated GPU's pass of 4 tokens costs ~2.1 decode steps (SmolLM2 on SwiftShader), so it drafts
// less and only on longer matches; going ahead there read no faster (its host work is a few
// percent of a ~95 ms step) and guesses with one token less. Where drafts do not pay, DraftGate
// stops them.
const DRAFT = Object.freeze({ emulated: { tokens: 3, minNgram: 2, ahead: false }, gpu: { tokens: 15, minNgram: 1, ahead: true } });

async function requestDevice() {
  const gpu = globalThis.navigator?.gpu;
  const adapter = gpu ? await gpu.requestAdapter() : null;
  if (!adapter) throw new EngineError("no-webgpu", "WebGPU is not available in this browser");
  const emulated = adapter.isFallbackAdapter || isEmulated(adapter.info);
  const limits = {};
  for (const key of ["maxStorageBufferBindingSize", "maxBufferSize", "maxStorageBuffersPerShaderStage", "maxComputeWorkgroupStorageSize"]) {
    limits[key] = adapter.limits[key];
  }
  // Optional features, asked for where the adapter has them: subgroups (faster decode kernels on
  // real GPUs), shader-f16 (the f16 path), subgroup matrices (tensor cores for prefill on the f16
  // path) and timestamp-query (profiling in the benchmarks).
  const optional = ["subgroups", "shader-f16", "chromium-experimental-subgroup-matrix", "timestamp-query"];
  const requiredFeatures = optional.filter((f) => adapter.features.has(f));
  try {
    // adapter.info: Dawn's device.adapterInfo lacks the subgroup matrix configurations.
    return { device: await adapter.requestDevice({ requiredLimits: limits, requiredFeatures }), emulated, adapterInfo: adapter.info };
  } catch (err) {
    throw new EngineError("no-webgpu", `could not open the GPU: ${err.message}`);
  }
}

function commonPrefix(a, b) {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

// A GPU emulated on the CPU (SwiftShader, lavapipe) wants other kernel shapes than a real one;
// `emulatedGPU` overrides the guess from the adapter.
function isEmulated(info) {
  return Boolean(info?.isFallbackAdapter || /swiftshader|llvmpipe|lavapipe/i.test(`${info?.architecture} ${info?.description} ${info?.device}`));
}

// The arithmetic path: f16 where the device has shader-f16 ("auto" takes it there), else f32.
function choosePrecision(device, precision = "auto") {
  const hasF16 = device.features.has("shader-f16");
  if (precision === "f16" && !hasF16) throw new EngineError("no-webgpu", "this GPU has no shader-f16, so the f16 path cannot run");
  if (precision === "f32" || precision === "f16") return precision;
  return hasF16 ? "f16" : "f32";
}

// matvecBlock / matmulBlock / fusions / prefillChunk / activations / shadowHead override the
// decode mat-vec / prefill mat-mat kernel shapes, the decode fusions, the tokens per prefill
// pass, the decode mat-vecs' int8 activations ("f32" turns them off) and greedy steps' shadow of
// the output head (false: the exact head) (benchmarks, tests; see kernels/matmul.mjs,
// kernels/shadow-head.mjs, graph.mjs and fit.mjs).
export async function createWebGPUEngine({ device, emulatedGPU, precision, matvecBlock, matmulBlock, fusions, prefillChunk, activations, shadowHead } = {}) {
  const opened = device ? { device, emulated: isEmulated(device.adapterInfo), adapterInfo: device.adapterInfo } : await requestDevice();
  const engine = new WebGPUEngine(opened.device, emulatedGPU ?? opened.emulated);
  engine.graphOptions = {
    matvecBlock, matmulBlock, fusions, precision: choosePrecision(opened.device, precision), adapterInfo: opened.adapterInfo,
    prefillChunk, activations, shadowHead,
  };
  return engine;
}

class WebGPUEngine {
  constructor(device, emulatedGPU) {
    this.device = device;
    this.emulatedGPU = emulatedGPU;
    this.model = null;
    this.cancelled = false;
    this.totals = { prefillTokens: 0, prefillMs: 0, decodeTokens: 0, decodeMs: 0 };
    this.lost = null;
    device.lost?.then((info) => { this.lost = info; });
  }

  // nCtx caps the context (KV cache) length; maxBindingBytes caps each weight buffer below the
  // device's binding limit (tests, and simulating small GPUs).
  load(source, { onProgress, nCtx, maxBindingBytes } = {}) {
    return this.exclusive(async () => {
      await this.release();
      const { size, windows } = await openSource(source);
      const { header, seen } = await readHeader(windows);
      const hp = describeModel(header, { nCtx });
      const plan = planWeights(header.tensors, this.device.limits, maxBindingBytes, fusedGroups(hp));
      const { precision } = this.graphOptions;
      const prefillChunk = choosePrefillChunk(hp, this.device.limits, precision, this.emulatedGPU, this.graphOptions.prefillChunk);
      checkBuffersFit(hp, this.device.limits, precision, prefillChunk, this.emulatedGPU);
      if (size !== null) {
        const end = Math.max(0, ...header.tensors.map((t) => t.fileOffset + t.nbytes));
        if (end > size) throw new EngineError("bad-file", `the file is truncated: tensors end at byte ${end}, the file has ${size} bytes`);
      }
      this.device.pushErrorScope("out-of-memory");
      let graph = null;
      try {
        await uploadWeights(this.device, plan, seen, windows, size, onProgress);
        onProgress?.({ phase: "kernels", loaded: 0, total: 1 });
        graph = await Graph.create(this.device, hp, plan, this.emulatedGPU, { ...this.graphOptions, prefillChunk });
      } finally {
        const oom = await this.device.popErrorScope();
        if (oom || !graph) {
          graph?.destroy();
          destroyWeights(plan);
        }
        if (oom) throw new EngineError("out-of-memory", `the GPU ran out of memory loading the model: ${oom.message}`);
      }
      onProgress?.({ phase: "kernels", loaded: 1, total: 1 });
      this.model = { hp, plan, graph, gate: new DraftGate() };
      this.cached = [];
      return {
        arch: hp.arch,
        nCtx: hp.nCtx,
        nVocab: hp.nVocab,
        nLayer: hp.nLayer,
        nEmbd: hp.nEmbd,
        engine: `webgpu-${precision}`,
        tensorTypes: [...new Set(header.tensors.map((t) => t.type.name))],
      };
    });
  }

  // One call at a time (a second one while the first runs is a bug in the caller); every error
  // leaves as an EngineError.
  exclusive(work) {
    if (this.current) return Promise.reject(new EngineError("internal", "the engine is busy with another call"));
    this.current = (async () => {
      try {
        return await work();
      } catch (err) {
        if (this.lost || (!(err instanceof EngineError) && await this.lostSoon())) {
          throw new EngineError("device-lost", `the GPU device was lost: ${this.lost.message}`);
        }
        throw asEngineError(err);
      } finally {
        this.current = null;
      }
    })();
    return this.current;
  }

  // A step that fails because the device was lost (a buffer's mapAsync rejecting, say) can settle
  // before device.lost does; give the loss a moment to show before calling the error anything else.
  async lostSoon() {
    await new Promise((resolve) => setTimeout(resolve, LOST_GRACE_MS));
    return this.lost !== null;
  }

  requireModel() {
    if (this.lost) throw new EngineError("device-lost", `the GPU device was lost: ${this.lost.message}`);
    if (!this.model) throw new EngineError("internal", "no model is loaded");
    return this.model;
  }

  prefill(ids, options = {}) {
    return this.exclusive(() => this.prefillTokens(ids, options));
  }

  generate(options = {}) {
    return this.exclusive(() => this.generateTokens(options));
  }

  async prefillTokens(ids, { onProgress, returnLogits = "none" }) {
    const { hp, graph } = this.requireModel();
    const tokens = Array.from(ids, Number);
    if (!tokens.length) throw new EngineError("internal", "prefill needs at least one token");
    if (tokens.length > hp.nCtx) {
      throw new EngineError("context-overflow",
        `the prompt has ${tokens.length} tokens but the context holds ${hp.nCtx}`, { nTokens: tokens.length, nCtx: hp.nCtx });
    }
    for (const id of tokens) {
      if (!Number.isInteger(id) || id < 0 || id >= hp.nVocab) throw new EngineError("internal", `token id ${id} is outside the vocabulary`);
    }
    this.cancelled = false;
    // The last token is always evaluated: its logits seed generation.
    const reuse = returnLogits === "all" ? 0 : Math.min(commonPrefix(this.cached, tokens), tokens.length - 1);
    this.cached = tokens.slice(0, reuse);
    const started = performance.now();
    const all = returnLogits === "all" ? new Float32Array(tokens.length * hp.nVocab) : null;
    if (all) await graph.exactHeadPipelines();
    const prefillChunk = all ? Math.min(graph.prefillChunk, ALL_LOGITS_ROWS) : graph.prefillChunk;
    for (let pos = reuse; pos < tokens.length; pos += prefillChunk) {
      if (this.cancelled) throw new EngineError("cancelled", "Stopped.");
      const chunk = tokens.slice(pos, pos + prefillChunk);
      this.device.queue.writeBuffer(graph.buf.ids, 0, new Uint32Array(chunk));
      graph.writeStep(chunk.length, pos);
      const encoder = this.device.createCommandEncoder();
      graph.encodeForward(encoder, chunk.length, pos, all ? "all" : "last");
      this.device.queue.submit([encoder.finish()]);
      if (all) all.set(await graph.readLogits(chunk.length), pos * hp.nVocab);
      else await this.device.queue.onSubmittedWorkDone();
      this.cached.push(...chunk);
      onProgress?.({ phase: "prefill", loaded: pos + chunk.length - reuse, total: tokens.length - reuse });
    }
    this.logitsRow = all ? (tokens.length - 1) % prefillChunk : 0;
    const evaluated = tokens.length - reuse;
    const ms = performance.now() - started;
    this.totals.prefillTokens += evaluated;
    this.totals.prefillMs += ms;
    this.lastPrefill = { tokens: evaluated, ms };
    const result = { nCached: reuse, nEvaluated: evaluated };
    if (all) result.logits = all;
    else if (returnLogits === "last") result.logits = await graph.readLogits(1);
    return result;
  }

  // Decoding. A plain step samples the next token from the current logits row on the GPU and runs
  // it through the model, one submit, and the next step is submitted before this one's id is read,
  // so the GPU never waits for the host. Where prompt lookup (prompt-lookup.mjs) has a draft of
  // the tokens to come, one pass runs the sampled token and the draft, samples every row with the
  // random number its token would have had, and keeps the draft up to the first token the model
  // did not pick: the same tokens as plain steps, several per pass. `draft` caps the drafted
  // tokens per pass (0: plain steps only).
  async generateTokens({ maxTokens = 128, temperature = 0, topK = 0, topP = 1, seed = 0, stopIds = [], draft, onToken }) {
    const { hp, graph, gate } = this.requireModel();
    if (!this.cached.length) throw new EngineError("internal", "generate needs a prefill first");
    const room = hp.nCtx - this.cached.length;
    if (maxTokens > room) {
      throw new EngineError("context-overflow",
        `${this.cached.length} tokens in context + ${maxTokens} to generate exceed the context of ${hp.nCtx}`,
        { nCached: this.cached.length, maxTokens, nCtx: hp.nCtx });
    }
    this.cancelled = false;
    // The last token goes through the model again where the logits buffer does not hold its row
    // (a pass went ahead of the previous call's end) or holds it fit only for the argmax (greedy
    // passes take the head's shadow, Graph.encodeForward) and this call samples.
    const greedy = temperature <= 0;
    if (this.logitsRow === null || (!greedy && graph.argmaxRows)) await this.prefillTokens(this.cached, {});
    const stops = new Set(stopIds);
    const sampling = { temperature, topK, topP };
    const draws = [];
    const stream = uniformStream(seed);
    // The uniform number of the g-th token generated.
    const u = (g) => {
      while (draws.length <= g) draws.push(stream());
      return draws[g];
    };
    const lookup = this.emulatedGPU ? DRAFT.emulated : DRAFT.gpu;
    const maxDraft = Math.min(draft ?? lookup.tokens, SAMPLE_ROWS - 1, graph.prefillChunk - 1);
    // Sampled drafts' passes take every row's exact logits.
    if (!greedy && maxDraft > 0) await graph.exactHeadPipelines();
    const tokens = [];
    const counts = { passes: 0, drafted: 0, accepted: 0 };
    let stopReason = "length";
    const started = performance.now();
    let firstTokenMs = null;
    // The logits row the next token is sampled from, and that token where a pass that checked a
    // draft already sampled it (sampling that row again with its number gives the same id).
    let row = this.logitsRow;
    let known = null;
    this.logitsRow = null;
    // The row of the last pass that holds the logits after the last token taken.
    let lastRow = 0;
    // Takes a token whose pass has run; true when the generation ends with it.
    const take = (id) => {
      this.cached.push(id);
      firstTokenMs ??= performance.now() - started;
      if (stops.has(id)) { stopReason = "stop"; return true; }
      tokens.push(id);
      onToken?.(id);
      if (this.cancelled) { stopReason = "cancelled"; return true; }
      return tokens.length >= maxTokens;
    };
    // Prompt lookup's guess at the next `limit` tokens after `context` (the known one first) and
    // the length of the match it came from, where the gate lets it go.
    const noGuess = { guess: [], ngram: 0 };
    const guessAfter = (context, limit) => {
      if (maxDraft === 0 || limit < 2) return noGuess;
      const { guess, ngram } = lookupDraft(known === null ? context : [...context, known], limit - (known === null ? 0 : 1), lookup.minNgram);
      const tokens = known === null ? guess : [known, ...guess];
      return tokens.length >= 2 && gate.opens(ngram) ? { guess: tokens, ngram } : noGuess;
    };
    // A pass: the next token, sampled on the GPU from logits row `fromRow` with the g-th number,
    // then guess[1..], run through the model at positions pos..; with guesses every row is
    // sampled too (row i gives the token after the pass's i-th, so guess[i] is right where it
    // equals row i - 1's sample). Consecutive passes read their ids from alternate buffers.
    let submitted = 0;
    const submit = (draft, g, pos, fromRow) => {
      const { guess } = draft;
      const n = Math.max(guess.length, 1);
      const slot = submitted++ % 2;
      graph.writeSampleParams({ ...sampling, us: [u(g)], row: fromRow });
      if (n > 1) {
        graph.writeSampleParams({ ...sampling, us: Array.from({ length: n }, (_, i) => u(g + 1 + i)), rows: true });
        this.device.queue.writeBuffer(graph.buf.ids, 4, new Uint32Array(guess.slice(1)));
      }
      graph.writeStep(n, pos);
      const encoder = this.device.createCommandEncoder();
      graph.encodeSample(encoder, slot, n === 1);
      graph.encodeForward(encoder, n, pos, greedy ? "argmax" : n === 1 ? "last" : "all");
      if (n > 1) graph.encodeSampleRows(encoder, n, slot);
      this.device.queue.submit([encoder.finish()]);
      return { ...draft, reading: graph.readIds(slot, n === 1 ? 1 : SAMPLE_ROWS + n), submittedAt: performance.now() };
    };
    // Takes a pass's tokens (its sampled one, then each guess the model picked), times it for the
    // gate and sets the row and the known token for the next; true when the generation ends.
    // A plain step's time runs from its submission or, where it went ahead, from the previous
    // step's ids.
    let plainDoneAt = 0;
    const settle = async ({ guess, ngram, reading, submittedAt }) => {
      const ids = await reading;
      const now = performance.now();
      counts.passes++;
      row = 0;
      known = null;
      lastRow = 0;
      if (guess.length < 2) {
        gate.plainStep(now - Math.max(plainDoneAt, submittedAt));
        plainDoneAt = now;
        return take(ids[0]);
      }
      counts.drafted += guess.length - 1;
      const next = ids.subarray(SAMPLE_ROWS);
      let kept = 1;
      while (kept < guess.length && next[kept - 1] === guess[kept]) kept++;
      gate.draftPass(now - submittedAt, ngram, kept);
      if (take(ids[0])) return true;
      for (let i = 1; i < kept; i++) {
        counts.accepted++;
        lastRow = i;
        if (take(guess[i])) return true;
      }
      known = next[kept - 1];
      row = kept - 1;
      return false;
    };
    let ahead = null;
    try {
      for (let done = false; !done;) {
        const step = ahead ?? submit(guessAfter(this.cached, Math.min(maxDraft + 1, maxTokens - tokens.length)),
          tokens.length, this.cached.length, row);
        ahead = null;
        // After a one-token pass the next one samples row 0, so it goes before this one's ids are
        // read, guessing past the token this one samples.
        const left = maxTokens - tokens.length - 1;
        if (step.guess.length < 2 && lookup.ahead && left > 0 && !this.cancelled) {
          const { guess, ngram } = guessAfter(this.cached, Math.min(maxDraft + 1, left) + 1);
          ahead = submit({ guess: guess.slice(1), ngram }, tokens.length + 1, this.cached.length + 1, 0);
        }
        done = await settle(step);
      }
      if (!ahead) this.logitsRow = lastRow;
    } finally {
      await ahead?.reading.catch(() => {});
    }
    const ms = performance.now() - started;
    const steps = tokens.length + (stopReason === "stop" ? 1 : 0);
    this.totals.decodeTokens += steps;
    this.totals.decodeMs += ms;
    return {
      tokens,
      stopReason,
      stats: {
        decodeTokens: steps, decodeMs: ms, decodeTokPerS: steps ? (steps * 1000) / ms : 0, firstTokenMs,
        passes: counts.passes, draftedTokens: counts.drafted, acceptedTokens: counts.accepted,
      },
    };
  }

  cancel() {
    this.cancelled = true;
  }

  reset() {
    this.cached = [];
  }

  // Stops a running call, waits for it, then frees every GPU buffer of the model.
  async unload() {
    this.cancel();
    await this.current?.catch(() => {});
    await this.release();
  }

  async release() {
    if (!this.model) return;
    if (!this.lost) await this.device.queue.onSubmittedWorkDone(); // a lost device has no work left
    this.model.graph.destroy();
    destroyWeights(this.model.plan);
    this.model = null;
    this.cached = [];
  }

  stats() {
    const t = this.totals;
    return {
      ...t,
      prefillTokPerS: t.prefillMs ? (t.prefillTokens * 1000) / t.prefillMs : 0,
      decodeTokPerS: t.decodeMs ? (t.decodeTokens * 1000) / t.decodeMs : 0,
      nCached: this.cached?.length ?? 0,
      lastPrefill: this.lastPrefill ?? null,
      gpuBytes: this.model ? { weights: planBytes(this.model.plan), working: this.model.graph.workingBytes() } : null,
      // Whether prefill's mat-mats read int8 rows on this device, as timed at load (Graph.chooseTiles).
      prefillTiles: this.model?.graph.tileChoice ?? null,
      // Greedy steps' shadow of the output head (kernels/shadow-head.mjs), where it has one.
      shadowHead: this.model?.graph.shadow ? { type: this.model.graph.shadow.tensor.type.name, maxRowError: this.model.graph.shadow.maxError } : null,
    };
  }
}
