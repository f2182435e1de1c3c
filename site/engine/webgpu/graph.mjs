// The forward pass as a list of compute dispatches over persistent GPU buffers: pipelines and
// bind groups are made once at load; a step only writes its small "step" uniform, encodes the
// dispatches for its token count and submits.

import { EngineError } from "../errors.mjs";
import {
  matvecWGSL, getRowsWGSL, matvecDispatch, getRowsDispatch, EMULATED_BLOCKS, GPU_BLOCKS, GPU_BLOCKS_Q8, MODE, TALL_ROWS,
  WIDE_K, Q8_ACTIVATION_TYPES, matvecWarpWorkgroupBytes, matvecBlockFor, emulatedWorkgroup,
} from "./kernels/matmul.mjs";
import { QUANTIZE_Q8_WGSL, QUANTIZE_WORKGROUP, q8RowBytes } from "./kernels/activations-q8.mjs";
import {
  prefillMatmulWGSL, prefillMatmulDispatch, tiledBlocksFor,
} from "./kernels/matmul-tiled.mjs";
import { subgroupMatrixSupport, subgroupMatrixBlocksFor } from "./kernels/matmul-subgroup-matrix.mjs";
import { TILED_Q8_BLOCK, TILED_Q8_TALL_BLOCK } from "./kernels/matmul-tiled-q8.mjs";
import {
  attentionSubgroupMatrixWGSL, attentionSubgroupMatrixFits, attentionSubgroupMatrixBytes, attentionSubgroupMatrixDispatch,
} from "./kernels/attention-subgroup-matrix.mjs";
import { rmsnormWGSL, rmsnormWgWGSL, NORM_WORKGROUP } from "./kernels/norm.mjs";
import { ropeWGSL, ropeDispatch } from "./kernels/rope.mjs";
import {
  ATTENTION_EXPS_WGSL, softmaxWgWGSL, SOFTMAX_WG, SOFTMAX_WG_EMULATED, attentionDispatch, scoresTokensWGSL, mixTokensWGSL, emulatedTokensBlock,
  scoresWGSL, emulatedDecodeScores, mixOneWGSL, groupSize, SCORES_BLOCK_GPU, attentionMixWgWGSL, attentionDecodeWGSL, attentionCombineWGSL, mixWgFits, decodeSplit, attentionTiledWGSL,
  attentionQ8Fits,
} from "./kernels/attention.mjs";
import { SAMPLE_ROWS, SAMPLE_WORKGROUP, sampleWGSL } from "./kernels/sample.mjs";
import {
  SHADOW_TYPE, SHADOW_Z, SHADOW_LIST_WORDS, SHADOWED_TYPES, shadowCandidatesWGSL, shadowQuantizeWGSL, shadowQuantizeDispatch,
  shadowCandidatesDispatch, shadowRescoreWGSL, shadowRescoreDispatch,
} from "./kernels/shadow-head.mjs";
import { TENSOR_TYPES, rowBytes } from "./tensor-types.mjs";
import { layerTensorNames } from "./model.mjs";
import { contiguousSpan } from "./weights.mjs";

// Tokens per prefill pass. Real GPUs take the largest chunk whose working buffers fit the
// device's limits: fewer passes over the weights and more workgroups per dispatch (H200, 1024
// tokens, chunks of 64 / 256 / 512: SmolLM2 9.8k / 24.8k / 33.7k tok/s, Llama-3-8B 1.6k / 2.1k /
// 2.2k; H100 with session 8's kernels, 512 / 1024, alternating: SmolLM2 48.6k, 47.7k / 62.3k,
// 58.8k, 8B 5.5k, 5.3k / 6.0k, 6.0k). An emulated GPU keeps 64: its speed is per token, and small
// chunks report progress and answer a cancel sooner.
export const PREFILL_CHUNKS = Object.freeze({ gpu: [1024, 512, 256, 128, 64], emulated: [64] });
// Chunks past `above` tokens only where the buffers that grow with the chunk stay within
// `maxBytes` in all (WebGPU does not say how much memory the GPU has, and these come on top of
// the weights): at 1024 tokens SmolLM2 needs 36 MB, Llama-3-8B 0.23 GB; an FFN of 65536 would
// pass it and keep 512.
export const LARGE_CHUNKS = Object.freeze({ above: 512, maxBytes: 512 * 2 ** 20 });
// Rows of the logits buffer. Only a prefill that returns every position's logits (tests, the
// quality eval) fills more than one, and it runs in passes of at most this many tokens: sized for
// the whole chunk, the buffer took 0.2 GB for SmolLM2 and 0.5 GB for the 8B at 1024 tokens.
export const ALL_LOGITS_ROWS = 64;
// The narrowest model (nEmbd) whose passes of a few tokens take int8 activations (Graph.fewQ8).
const FEW_Q8_MIN_WIDTH = 2048;
// Graph.chooseTiles: the pass it times (tokens), and how long each timing should run (ms; the
// repetitions double up to TILE_PROBE_MAX_REPS until one takes that long). Without timestamps a
// submit's completion is seen some milliseconds late (in steps of ~4 ms under Node's Dawn on the
// H100), so a timing must be long beside that.
const TILE_PROBE_TOKENS = 256;
const TILE_PROBE_MS = 20;
const TILE_PROBE_MAX_REPS = 256;
// The sampler's parameters: 8 words, then a uniform number per row (kernels/sample.mjs).
const SAMPLE_PARAMS_BYTES = 32 + SAMPLE_ROWS * 4;
const ID_READ_BYTES = 2 * SAMPLE_ROWS * 4;

// Bytes of the working buffers that grow with the context, the vocabulary or the prefill chunk
// (they cannot be split like the weights; fit.mjs checks them against the device's limits). The
// attention scores hold a row per token of a chunk where the GPU is emulated; real GPUs' prefill
// attention keeps them in workgroup memory, and their decode needs one row at most.
export function growingBufferBytes(hp, kvType, chunk, emulated) {
  return {
    kvLayer: hp.nCtx * hp.nKv * hp.headDim * (kvType === "f16" ? 2 : 4),
    scores: (emulated ? chunk : 1) * hp.nHead * hp.nCtx * 4,
    logits: Math.min(chunk, ALL_LOGITS_ROWS) * hp.nVocab * 4,
    ffn: chunk * hp.nFf * 4,
  };
}

// Bytes of all the buffers that grow with the prefill chunk on a real GPU (as Graph allocates them).
export function chunkBufferBytes(hp, chunk) {
  const { scores, logits, ffn } = growingBufferBytes(hp, "f32", chunk, false);
  const rows = 2 * hp.nEmbd + 2 * hp.nHead * hp.headDim + 2 * hp.nKv * hp.headDim;
  return scores + logits + 2 * ffn + chunk * (rows * 4 + 4);
}

const STORAGE = GPUBufferUsage.STORAGE;
const ceilDiv = (a, b) => Math.ceil(a / b);

// All small constant uniforms in one buffer, each at its own 256-byte-aligned offset.
class UniformArena {
  constructor(align) {
    this.align = align;
    this.entries = [];
    this.size = 0;
  }

  add(build, size = 32) {
    const data = new ArrayBuffer(size);
    build(new Uint32Array(data), new Float32Array(data));
    const entry = { data, offset: this.size, size, buffer: null };
    this.size += Math.ceil(size / this.align) * this.align;
    this.entries.push(entry);
    return entry;
  }

  finalize(device) {
    this.buffer = device.createBuffer({ size: Math.max(this.size, 256), usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    for (const e of this.entries) {
      e.buffer = this.buffer;
      device.queue.writeBuffer(this.buffer, e.offset, e.data);
    }
  }
}

function whole(buffer) {
  return { buffer };
}

// A weight part, or any {arena, offset, size} (weights.mjs contiguousSpan).
function range(part) {
  return { buffer: part.arena.buffer, offset: part.offset, size: part.size };
}

// Floats [first, first + count) of a buffer.
function slice(buffer, first, count) {
  return { buffer, offset: first * 4, size: count * 4 };
}

const matmulLayoutEntries = [
  "read-only-storage", "read-only-storage", "storage", "read-only-storage", "read-only-storage", "uniform", "uniform",
].map((type, binding) => ({
  binding,
  visibility: GPUShaderStage.COMPUTE,
  buffer: { type },
}));

// Fusions of the one-token (decode) pass on real GPUs, where each dependent dispatch costs
// several microseconds: `attention` runs scores, softmax and mix as one dispatch per head; `qkv`
// runs the q, k and v projections as one mat-vec where their weights lie back to back (one
// type; weights.mjs packs them so) into one output buffer that RoPE and attention read in thirds;
// `gateUp` runs the FFN gate and up projections and SwiGLU as one mat-vec where they lie so.
// (RMSNorm folded into the following mat-vecs was measured slower on an H100 twice: every
// workgroup re-reading the input row, and, session 4, the sum of squares taken on the way through
// x with x scaled by the norm weight as it is read; bench/GPU_NOTES.md.)
export const GPU_FUSIONS = Object.freeze({ attention: true, qkv: true, gateUp: true });
const NO_FUSIONS = Object.freeze({ attention: false, qkv: false, gateUp: false });

// Whether a large prefill block (if any) serves a part of `rows` rows in a pass of n tokens: the
// part reaches its minRows (else TALL_ROWS) and its tiles still make its minWorkgroups, if it has
// one (larger tiles do less work per product but leave a GPU idle when they are few).
function fills(block, rows, n) {
  return Boolean(block) && rows >= (block.minRows ?? TALL_ROWS) && n >= (block.minTokens ?? 0)
    && prefillMatmulDispatch(rows, n, block).reduce((x, y) => x * y) >= (block.minWorkgroups ?? 0);
}

// A matrix's parts as [type, rows].
const partShapes = (t) => t.parts.map((p) => [t.type.name, p.rowCount]);

// The output head's shadow (kernels/shadow-head.mjs): Q4_1 rows in parts of the head's rows (a
// part's shadow is smaller than the part, so it fits wherever the part does), their buffers made
// and filled in Graph.buildShadow, and delta's factor zE (SHADOW_Z * the largest row error /
// sqrt(k)) set there.
function shadowOf(head) {
  const type = [...TENSOR_TYPES.values()].find((t) => t.name === SHADOW_TYPE);
  const bytesPerRow = rowBytes(type, head.rowLength);
  const parts = head.parts.map(({ rowStart, rowCount }) => ({ rowStart, rowCount, arena: { buffer: null }, offset: 0, size: rowCount * bytesPerRow }));
  return { head, tensor: { name: "output.shadow", type, rowLength: head.rowLength, bytesPerRow, parts }, maxError: 0, zE: 0 };
}

// emulatedGPU picks the kernel shapes (kernels/matmul.mjs) for a GPU emulated on the CPU;
// precision "f16" (the device has shader-f16) stores the KV cache as f16 and runs prefill on
// f16 subgroup matrices where the device has them. By default (real GPUs whose WGSL has
// dot4I8Packed) the one-token pass's mat-vecs of Q8_ACTIVATION_TYPES take their input as int8
// (kernels/activations-q8.mjs), so do those of few-token passes on wide models, and those of
// longer prefill passes where their mat-mats are tiled (kernels/matmul-tiled-q8.mjs: GPUs
// without subgroup matrices, which is Chrome without its experimental flag) if the int8 tiles
// are the faster ones on this device (chooseTiles). activations "q8" takes all of them on any
// GPU without asking; "f32" keeps them float. shadowHead false: greedy steps run the exact head
// even where it has a shadow.
export class Graph {
  static async create(device, hp, weights, emulatedGPU, options = {}) {
    const graph = new Graph(device, hp, weights, emulatedGPU, { precision: "f32", ...options });
    await graph.build();
    if (options.activations !== "q8") await graph.chooseTiles();
    return graph;
  }

  // matvecBlock / matmulBlock / fusions override the decode / prefill kernel shapes and the
  // decode fusions (benchmarks).
  constructor(device, hp, weights, emulatedGPU, { matvecBlock, matmulBlock, fusions, precision, adapterInfo, prefillChunk, activations, shadowHead }) {
    this.device = device;
    this.hp = hp;
    this.prefillChunk = prefillChunk;
    this.weights = weights;
    this.emulated = emulatedGPU;
    // The CPU threads an emulated GPU runs its workgroups on (SwiftShader takes one per core).
    this.threads = globalThis.navigator?.hardwareConcurrency || 2;
    this.kvType = precision;
    this.mixWg = !emulatedGPU && mixWgFits(hp.headDim);
    // Prefill tiles: the fastest shapes the device's workgroup memory allows; on the f16 path,
    // tensor cores through subgroup matrices where the device has them (makePipelines falls back
    // to the tiles if those kernels do not compile).
    const workgroupBytes = device.limits.maxComputeWorkgroupStorageSize;
    this.tiledBlocks = tiledBlocksFor(workgroupBytes);
    const matrices = precision === "f16" && subgroupMatrixSupport(device.features, adapterInfo).ok;
    // Where the mat-mats are tiled (no subgroup matrices), prefill passes past the few-token
    // blocks take the int8-activation tiles (matmulQ8, matmulQ8Tall: q8RowsBlock).
    const q8Tiles = { matmulQ8: TILED_Q8_BLOCK, matmulQ8Tall: TILED_Q8_TALL_BLOCK };
    // Subgroup reductions where the device has them and a subgroup fits in a warp of 32 lanes.
    const subgroups = device.features.has("subgroups") && (device.adapterInfo?.subgroupMaxSize ?? 32) <= 32;
    // The emulated kernels share their loads of x across a subgroup where subgroups are exactly
    // 4 invocations (SwiftShader's SIMD groups).
    const quads = subgroups && device.adapterInfo?.subgroupMinSize === 4 && device.adapterInfo?.subgroupMaxSize === 4;
    this.quads = emulatedGPU && quads;
    const withQuads = (b) => ({ ...b, quads });
    this.blocks = emulatedGPU
      ? { matvec: withQuads(EMULATED_BLOCKS.matvec), matmul: withQuads(EMULATED_BLOCKS.matmul), matmulFew: EMULATED_BLOCKS.matmulFew.map(withQuads) }
      : { ...GPU_BLOCKS, ...(matrices ? subgroupMatrixBlocksFor(workgroupBytes) : { ...this.tiledBlocks, ...q8Tiles }) };
    // Prefill attention: three passes where emulated, else one (tensor cores where they apply;
    // makePipelines falls back to the tiled kernel if that one does not compile).
    this.attentionKernel = emulatedGPU ? "passes"
      : matrices && attentionSubgroupMatrixFits(hp.headDim) && attentionSubgroupMatrixBytes(hp.headDim) <= workgroupBytes
        ? "subgroup-matrix" : "tiled";
    const withSubgroups = (b) => (b?.warps ? { ...b, subgroups } : b);
    this.blocks = { ...this.blocks, matvec: withSubgroups(this.blocks.matvec), matvecTall: withSubgroups(this.blocks.matvecTall),
      matvecGated: withSubgroups(this.blocks.matvecGated), matmulFew: this.blocks.matmulFew?.map(withSubgroups) };
    const matrixTypes = new Set(this.matrixTensors().map((t) => t.type.name));
    // Settled in makePipelines: false where the kernels do not compile (no dot4I8Packed).
    this.q8 = activations !== "f32" && (activations === "q8" || !emulatedGPU) && (!matvecBlock || Boolean(matvecBlock.q8))
      && Q8_ACTIVATION_TYPES.some((t) => matrixTypes.has(t));
    // Prefill's int8 tiles or float ones, where both exist (chooseTiles): { int8, int8Ms, floatMs,
    // tokens, reps }.
    this.tileChoice = null;
    // Passes of a few tokens read int8 rows too where the model is wide enough to gain: on an
    // H100 the 8B's (4096) pass of 2 tokens 19.8 -> 7.4 ms, of 16 77 -> 18 ms, but SmolLM2's
    // (576) 3.4 -> 6.1 ms, its quantizing passes costing more than its small mat-mats save.
    // activations "q8" takes them at any width.
    this.fewQ8 = activations === "q8" || hp.nEmbd >= FEW_Q8_MIN_WIDTH;
    // A matvecBlock's own `tall`, `wide` and `gated` blocks, if any, serve the tall parts, the
    // wide ones and the gated FFN; one with `q8` replaces the int8-activation shapes (a float one
    // turns int8 activations off).
    this.q8Blocks = emulatedGPU ? { matvec: { ...EMULATED_BLOCKS.matvec, q8: true } }
      : Object.fromEntries(Object.entries(GPU_BLOCKS_Q8).map(([name, b]) => [name, withSubgroups(b)]));
    if (matvecBlock?.q8) {
      const { tall, wide, gated, ...block } = matvecBlock;
      const q8 = (b) => withSubgroups({ ...b, q8: true });
      this.q8Blocks = { matvec: q8(block), matvecTall: q8(tall ?? block), matvecWide: q8(wide ?? block), matvecGated: q8(gated ?? tall ?? block) };
    } else if (matvecBlock) {
      const { tall, gated, ...block } = matvecBlock;
      this.blocks = { ...this.blocks, matvec: block, matvecTall: tall, matvecGated: gated ?? tall };
    }
    if (matmulBlock) this.blocks = { ...this.blocks, matmul: matmulBlock, matmulTall: matmulBlock.tall, matmulXL: matmulBlock.xl };
    // The one-dispatch attention needs the workgroup mix's shape; reading q, k and v as thirds
    // of one buffer needs k and v to start on a storage-offset boundary.
    const wanted = { ...(emulatedGPU ? NO_FUSIONS : GPU_FUSIONS), ...fusions };
    const align = device.limits.minStorageBufferOffsetAlignment;
    const qBytes = hp.nHead * hp.headDim * 4;
    const kvBytes = hp.nKv * hp.headDim * 4;
    this.fuse = {
      attention: wanted.attention && this.mixWg,
      qkv: wanted.qkv && qBytes % align === 0 && kvBytes % align === 0,
      gateUp: wanted.gateUp && Boolean(this.blocks.matvec.warps),
    };
    const layers = Array.from({ length: hp.nLayer }, (_, i) => layerTensorNames(hp, i));
    this.qkvSpans = layers.map((w) => (this.fuse.qkv ? this.qkvSpan(w) : null));
    this.gateUpSpans = layers.map((w) => (this.fuse.gateUp ? this.matrixSpan([w.wGate, w.wUp]) : null));
    // The few-token blocks (drafts' passes) that take a layer's FFN gate and up as one gated
    // kernel, as the decode does, where they lie back to back (gateUpSpans) and the kernel's
    // partial sums fit the device's workgroup memory (fewGatedBlock, gatedFew).
    const bytes = device.limits.maxComputeWorkgroupStorageSize;
    this.fewGatedBlocks = this.fuse.gateUp
      ? (this.blocks.matmulFew ?? []).filter((b) => b.warps && matvecWarpWorkgroupBytes({ ...b, gated: true }) <= bytes) : [];
    // Greedy passes take the head's Q4_1 shadow where the GPU is emulated and the head's type
    // costs more a weight there (kernels/shadow-head.mjs).
    const head = this.tensor(this.headName());
    this.shadow = emulatedGPU && shadowHead !== false && SHADOWED_TYPES.includes(head.type.name) ? shadowOf(head) : null;
    // Whether the last forward's logits rows came from the shadow's greedy head (encodeForward).
    this.argmaxRows = false;
  }

  tensor(name) {
    return name === this.shadow?.tensor.name ? this.shadow.tensor : this.weights.tensors.get(name);
  }

  // Weight matrices as one (weights.mjs contiguousSpan) with their type and row shape, or null.
  matrixSpan(names) {
    const weights = contiguousSpan(this.weights, names);
    const t = this.tensor(names[0]);
    return weights && { weights, type: t.type.name, rowLength: t.rowLength, bytesPerRow: t.bytesPerRow };
  }

  // A layer's q, k, v weights (and biases) as one matrix, or null where they are not contiguous.
  qkvSpan(w) {
    const matrix = this.matrixSpan([w.wq, w.wk, w.wv]);
    const bias = w.bq ? contiguousSpan(this.weights, [w.bq, w.bk, w.bv]) : null;
    return matrix && (!w.bq || bias) ? { ...matrix, bias } : null;
  }

  buffer(label, bytes, usage = STORAGE) {
    const b = this.device.createBuffer({ label, size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
    this.owned.push(b);
    return b;
  }

  async build() {
    const { device, hp } = this;
    const T = this.prefillChunk;
    // The int8 activation rows: one for the one-token pass, one per token of a prefill pass that
    // reads them.
    const q8Rows = Math.max(1, ...this.q8RowBlocks().map((b) => (b.warps ? b.tokens : T)));
    const f = 4;
    const qDim = hp.nHead * hp.headDim;
    const kvDim = hp.nKv * hp.headDim;
    this.owned = [];
    const copy = GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const growing = growingBufferBytes(hp, this.kvType, T, this.emulated);
    this.buf = {
      // The pass's input ids; the ids sampled from every row of a pass that checks drafted
      // tokens go after SAMPLE_ROWS of them.
      ids: this.buffer("ids", Math.max(T, 2 * SAMPLE_ROWS) * 4, STORAGE | copy),
      x: this.buffer("x", T * hp.nEmbd * f, STORAGE | copy),
      xn: this.buffer("xn", T * hp.nEmbd * f),
      xLast: this.buffer("xLast", hp.nEmbd * f, STORAGE | copy),
      xLastNorm: this.buffer("xLastNorm", hp.nEmbd * f),
      attn: this.buffer("attn", T * qDim * f),
      scores: this.buffer("scores", growing.scores),
      gate: this.buffer("gate", growing.ffn),
      up: this.buffer("up", growing.ffn),
      qkvOne: this.buffer("qkvOne", (qDim + 2 * kvDim) * f),
      // The one-token pass's mat-vec inputs as int8 (activations-q8.mjs): normed x, attention
      // output, SwiGLU output.
      xnQ8: this.buffer("xnQ8", q8Rows * q8RowBytes(hp.nEmbd)),
      attnQ8: this.buffer("attnQ8", q8Rows * q8RowBytes(qDim)),
      ffnQ8: this.buffer("ffnQ8", q8Rows * q8RowBytes(hp.nFf)),
      // Per head and split of the decode attention: max, sum and the unnormalized output.
      partials: this.buffer("partials", hp.nHead * Math.ceil(hp.nCtx / decodeSplit(hp)) * (hp.headDim / 4 + 1) * 16),
      logits: this.buffer("logits", growing.logits, STORAGE | copy),
      dummy: this.buffer("dummy", 16),
      step: this.buffer("step", 16, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
      // The sampling parameters of the next token, and of every row of a pass that checks drafts.
      sample: this.buffer("sample", SAMPLE_PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
      sampleRows: this.buffer("sampleRows", SAMPLE_PARAMS_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),
      // Two, so that one decode step's id can be read while the next step runs.
      idRead: [0, 1].map((i) => this.buffer(`idRead${i}`, ID_READ_BYTES, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST)),
      // The shadow head's candidates, a list per row of a greedy pass.
      shadowLists: this.buffer("shadowLists", this.shadow ? SAMPLE_ROWS * SHADOW_LIST_WORDS * 4 : 16),
    };
    // The prefill's q, k and v: where the decode fuses them (their rows' byte sizes meet the
    // offset alignment) three parts of one buffer, which a layer whose q, k and v weights lie back
    // to back fills with one mat-mat (qkvMatmul); else three buffers.
    const qkvRows = { q: T * qDim, k: T * kvDim, v: T * kvDim };
    if (this.fuse.qkv) {
      this.buf.qkv = this.buffer("qkv", (qkvRows.q + qkvRows.k + qkvRows.v) * f);
      this.prefillQkv = { q: slice(this.buf.qkv, 0, qkvRows.q), k: slice(this.buf.qkv, qkvRows.q, qkvRows.k),
        v: slice(this.buf.qkv, qkvRows.q + qkvRows.k, qkvRows.v) };
    } else {
      this.prefillQkv = Object.fromEntries(Object.entries(qkvRows).map(([name, n]) => [name, whole(this.buffer(name, n * f))]));
    }
    this.kvCache = [];
    for (let i = 0; i < hp.nLayer; i++) {
      this.kvCache.push({ k: this.buffer(`k${i}`, growing.kvLayer), v: this.buffer(`v${i}`, growing.kvLayer) });
    }
    await this.makePipelines();
    if (this.shadow) await this.buildShadow();
    this.uniforms = new UniformArena(device.limits.minUniformBufferOffsetAlignment);
    this.stepOne = this.uniforms.add((u) => { u[0] = 1; });
    this.body = this.layerSpecs(false);
    this.decodeBody = this.emulated || Object.values(this.fuse).some(Boolean) ? this.layerSpecs(true) : this.body;
    this.head = this.headSpecs();
    this.uniforms.finalize(device);
    for (const specs of new Set([this.body, this.decodeBody, ...Object.values(this.head)])) this.bindAll(specs);
  }

  async makePipelines() {
    const { device } = this;
    const types = new Set(this.matrixTensors().map((t) => t.type.name));
    if (this.shadow) types.add(SHADOW_TYPE);
    this.matmulLayout = device.createBindGroupLayout({ entries: matmulLayoutEntries });
    const layout = device.createPipelineLayout({ bindGroupLayouts: [this.matmulLayout] });
    const make = (code, pipelineLayout = "auto") => device.createComputePipelineAsync({
      layout: pipelineLayout,
      compute: { module: device.createShaderModule({ code }), entryPoint: "main" },
    });
    const prefill = this.prefillPipelines(make, layout, this.prefillMatrices());
    prefill.catch(() => {}); // awaited below, after the other pipelines
    // Where greedy passes take the head's shadow, the exact head runs over several tokens only
    // for passes that return or sample every row's logits: its mat-mats compile on first use
    // (exactHeadPipelines), not at load, where they are not the layers' too (SmolLM2's Q8_0
    // head: 3 of ~9 s of kernel compiles on SwiftShader).
    this.exactHeadReady = !this.shadow;
    this.exactHeadJob = null;
    this.makeExactHead = () => this.prefillPipelines(make, layout, this.headMatrices(), this.pipelines);
    const jobs = {};
    const subgroups = this.device.features.has("subgroups");
    // A subgroup kernel that fails to compile falls back to its workgroup-memory version.
    const subgroupsOr = (build, want = subgroups) => build(want).catch((err) => (want ? build(false) : Promise.reject(err)));
    const makeMatvec = (type, block) => subgroupsOr((sg) => make(matvecWGSL(type, { ...block, subgroups: sg }), layout), Boolean(block.subgroups));
    const tallTypes = new Set(this.matrixTensors().filter((t) => t.parts.some((p) => this.isTall(p.rowCount))).map((t) => t.type.name));
    for (const span of this.qkvSpans) if (span && this.isTall(span.weights.rowCount)) tallTypes.add(span.type);
    const gatedTypes = new Set(this.gateUpSpans.filter(Boolean).map((span) => span.type));
    const wideTypes = new Set(this.matrixTensors().filter((t) => t.rowLength >= WIDE_K).map((t) => t.type.name));
    for (const type of types) {
      jobs[`matvec.${type}`] = makeMatvec(type, matvecBlockFor(type, this.blocks.matvec));
      if (tallTypes.has(type)) jobs[`matvec.${type}.tall`] = makeMatvec(type, this.blocks.matvecTall);
    }
    // The emulated mat-vecs' other workgroups (emulatedWorkgroup), as the parts need them.
    const matrices = this.matrixTensors().flatMap((t) => t.parts.map((part) => [t.type.name, part.rowCount, t.rowLength]));
    for (const span of this.qkvSpans) if (span) matrices.push([span.type, span.weights.rowCount, span.rowLength]);
    for (const [type, rows, rowLength] of matrices) {
      const { name, block } = this.matvecKernel(type, rows, false, rowLength);
      jobs[name] ??= makeMatvec(type, block);
    }
    for (const type of gatedTypes) {
      jobs[this.gatedKernelName(type, false)] = makeMatvec(type, { ...this.gatedBlock(false), gated: true });
      for (const block of this.fewGatedBlocks) jobs[this.fewGatedKernelName(type, block, false)] = makeMatvec(type, { ...block, gated: true });
    }
    jobs.getRows = make(getRowsWGSL(this.tensor("token_embd.weight").type.name));
    // Emulated GPUs keep the one-invocation-per-row kernels; real ones get workgroup-wide rows.
    const real = !this.emulated;
    const d = this.hp.nEmbd;
    const makeNorm = (q8) => (real ? subgroupsOr((sg) => make(rmsnormWgWGSL({ subgroups: sg, d, q8 }))) : make(rmsnormWGSL({ q8 })));
    jobs.rmsnorm = makeNorm(false);
    jobs.rope = make(ropeWGSL({ pairs: real, kvType: this.kvType }));
    const kv = this.kvType;
    jobs.scores = make(real ? scoresWGSL(SCORES_BLOCK_GPU, kv) : emulatedDecodeScores(kv, groupSize(this.hp), this.quads));
    // The one-token mix divides by the sums itself: its softmax leaves exp(score - max).
    jobs.softmaxWg = make(softmaxWgWGSL(real ? SOFTMAX_WG : SOFTMAX_WG_EMULATED, { normalize: this.mixWg }));
    if (this.mixWg) jobs.mix = make(attentionMixWgWGSL(this.hp.headDim, kv));
    else jobs.mixOne = make(mixOneWGSL(kv, groupSize(this.hp), this.quads));
    if (!real) {
      const heads = groupSize(this.hp);
      const block = emulatedTokensBlock(heads);
      jobs.scoresTokens = make(scoresTokensWGSL(kv, heads, block, this.quads));
      jobs.exps = make(ATTENTION_EXPS_WGSL);
      jobs.mixTokens = make(mixTokensWGSL(kv, heads, block, this.quads && this.hp.headDim % 16 === 0));
    }
    const tiledAttention = () => {
      this.attentionKernel = "tiled";
      return make(attentionTiledWGSL(this.hp.headDim, kv));
    };
    if (this.attentionKernel === "subgroup-matrix") jobs.attentionPrefill = make(attentionSubgroupMatrixWGSL(this.hp.headDim, kv)).catch(tiledAttention);
    else if (real) jobs.attentionPrefill = tiledAttention();
    if (this.fuse.attention) {
      jobs.attentionDecode = subgroupsOr((sg) => make(attentionDecodeWGSL(this.hp.headDim, decodeSplit(this.hp), kv, { subgroups: sg })));
      jobs.attentionCombine = make(attentionCombineWGSL(this.hp.headDim, decodeSplit(this.hp)));
    }
    jobs.sample = make(sampleWGSL(this.emulated ? SAMPLE_WORKGROUP.emulated : SAMPLE_WORKGROUP.gpu));
    if (this.shadow) {
      jobs.shadowCandidates = make(shadowCandidatesWGSL());
      jobs.shadowRescore = make(shadowRescoreWGSL(this.shadow.head.type.name));
    }
    const q8 = this.q8 ? this.q8Pipelines({ make, makeMatvec, makeNorm, subgroupsOr, layout }, { types, tallTypes, wideTypes, gatedTypes }) : null;
    const names = Object.keys(jobs);
    try {
      const made = await Promise.all(Object.values(jobs));
      this.pipelines = { ...Object.fromEntries(names.map((n, i) => [n, made[i]])), ...await prefill, ...await q8 };
    } catch (err) {
      throw new EngineError("internal", `a WebGPU kernel failed to compile: ${err.message}`);
    }
  }

  // The int8-activation pipelines ("matvec.TYPE[.tall|.wide|.gated].q8", "matmul.TYPE.fewT.q8",
  // "matmul.TYPE.tiled[.tall].q8", "rmsnormQ8", "quantizeQ8", "attentionDecodeQ8",
  // "attentionCombineQ8"), or none, with this.q8 turned off, where they do not compile (WGSL
  // without dot4I8Packed).
  async q8Pipelines({ make, makeMatvec, makeNorm, subgroupsOr, layout }, { types, tallTypes, wideTypes, gatedTypes }) {
    const jobs = { rmsnormQ8: makeNorm(true), quantizeQ8: make(QUANTIZE_Q8_WGSL) };
    if (this.fuse.attention && attentionQ8Fits(this.hp.headDim)) {
      const split = decodeSplit(this.hp);
      jobs.attentionDecodeQ8 = subgroupsOr((sg) => make(attentionDecodeWGSL(this.hp.headDim, split, this.kvType, { subgroups: sg, q8: true })));
      jobs.attentionCombineQ8 = make(attentionCombineWGSL(this.hp.headDim, split, { q8: true }));
    }
    for (const type of Q8_ACTIVATION_TYPES.filter((t) => types.has(t))) {
      jobs[`matvec.${type}.q8`] = makeMatvec(type, this.q8Blocks.matvec);
      if (tallTypes.has(type)) jobs[`matvec.${type}.tall.q8`] = makeMatvec(type, this.q8Blocks.matvecTall);
      if (wideTypes.has(type) && this.q8Blocks.matvecWide) jobs[`matvec.${type}.wide.q8`] = makeMatvec(type, this.q8Blocks.matvecWide);
      if (gatedTypes.has(type)) jobs[this.gatedKernelName(type, true)] = makeMatvec(type, { ...this.gatedBlock(true), gated: true });
      if (gatedTypes.has(type) && this.fewQ8) {
        for (const block of this.fewGatedBlocks) jobs[this.fewGatedKernelName(type, block, true)] = makeMatvec(type, { ...block, gated: true, q8: true });
      }
    }
    for (const [type, rows] of this.prefillMatrices().filter(([type]) => this.takesQ8(type))) {
      for (let n = 2; n <= this.prefillChunk; n++) {
        const block = this.q8RowsBlock(n, rows);
        if (!block) continue;
        jobs[this.q8RowsKernelName(type, block)] ??= block.warps ? makeMatvec(type, { ...block, q8: true }) : make(prefillMatmulWGSL(type, block), layout);
      }
    }
    try {
      const made = await Promise.all(Object.values(jobs));
      return Object.fromEntries(Object.keys(jobs).map((name, i) => [name, made[i]]));
    } catch {
      this.q8 = false;
      return {};
    }
  }

  // The prefill pipelines by name ("matmul.TYPE", "matmul.TYPE.tall") of `matrices`, but for those
  // in `existing`. Subgroup matrix kernels that fail to compile (the feature is experimental; its
  // WGSL has changed between versions) give way to the tiled ones.
  async prefillPipelines(make, layout, matrices, existing = {}) {
    const jobs = {};
    for (const [type, rows] of matrices) {
      // The blocks this part takes in passes of 2 .. prefillChunk tokens.
      for (let n = 2; n <= this.prefillChunk; n++) {
        const { block, suffix } = this.prefillBlock(type, rows, n);
        const name = `matmul.${type}${suffix}`;
        if (!existing[name]) jobs[name] ??= make(prefillMatmulWGSL(type, block), layout);
      }
    }
    try {
      const made = await Promise.all(Object.values(jobs));
      return Object.fromEntries(Object.keys(jobs).map((name, i) => [name, made[i]]));
    } catch (err) {
      if (!this.blocks.matmul.subgroups) throw err;
      this.blocks = { ...this.blocks, ...this.tiledBlocks };
      return this.prefillPipelines(make, layout, matrices, existing);
    }
  }

  // The mat-mats of prefill passes as [type, rows]: each part of the layers' matrices, fused q, k,
  // v (qkvMatmul) and the head's shadow, and the exact head's parts unless it has a shadow (then
  // exactHeadPipelines makes them).
  prefillMatrices() {
    const head = this.headName();
    return [
      ...this.matrixTensors().filter((t) => t.name !== head).flatMap(partShapes),
      ...this.qkvSpans.filter(Boolean).map((span) => [span.type, span.weights.rowCount]),
      ...(this.shadow ? partShapes(this.shadow.tensor) : this.headMatrices()),
    ];
  }

  headName() {
    return this.hp.tiedOutput ? "token_embd.weight" : "output.weight";
  }

  headMatrices() {
    return partShapes(this.tensor(this.headName()));
  }

  // The weight matrices that mat-vecs and mat-mats read: all but the token embeddings of a model
  // with its own output head (only their rows are read).
  matrixTensors() {
    return [...this.weights.tensors.values()]
      .filter((t) => t.shape.length > 1 && (this.hp.tiedOutput || t.name !== "token_embd.weight"));
  }

  // The exact head's mat-mats where load left them out (prefillMatrices); passes that return or
  // sample every row's logits await this first.
  exactHeadPipelines() {
    this.exactHeadJob ??= this.makeExactHead().then((made) => {
      Object.assign(this.pipelines, made);
      this.exactHeadReady = true;
    }, (err) => {
      throw new EngineError("internal", `a WebGPU kernel failed to compile: ${err.message}`);
    });
    return this.exactHeadJob;
  }

  // Fill the shadow's buffers, a head part at a time, and read back the rows' error norms for
  // delta.
  async buildShadow() {
    const { device, shadow: { head, tensor } } = this;
    const code = shadowQuantizeWGSL(head.type.name);
    const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module: device.createShaderModule({ code }), entryPoint: "main" } });
    const errorBytes = Math.max(...tensor.parts.map((p) => p.rowCount)) * 4;
    const errors = device.createBuffer({ size: errorBytes, usage: STORAGE | GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: errorBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const shape = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
    let maxError = 0;
    for (const [i, part] of tensor.parts.entries()) {
      part.arena.buffer = this.buffer("shadow", part.size);
      device.queue.writeBuffer(shape, 0, new Uint32Array([head.rowLength, part.rowCount, head.bytesPerRow, 0]));
      const encoder = device.createCommandEncoder();
      const pass = encoder.beginComputePass();
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [range(head.parts[i]), range(part), whole(errors), whole(shape)].map((resource, binding) => ({ binding, resource })),
      }));
      pass.dispatchWorkgroups(...shadowQuantizeDispatch(part.rowCount));
      pass.end();
      encoder.copyBufferToBuffer(errors, 0, read, 0, part.rowCount * 4);
      device.queue.submit([encoder.finish()]);
      await read.mapAsync(GPUMapMode.READ);
      for (const e of new Float32Array(read.getMappedRange(0, part.rowCount * 4))) maxError = Math.max(maxError, e);
      read.unmap();
    }
    for (const b of [errors, read, shape]) b.destroy();
    this.shadow.maxError = maxError;
    // A head whose shadow is not finite (f16 overflow) lists every row, i.e. runs exactly.
    this.shadow.zE = Number.isFinite(maxError) ? (SHADOW_Z * maxError) / Math.sqrt(head.rowLength) : Infinity;
  }

  // The prefill blocks that read int8 activation rows (where this.q8, and where every row an
  // activation row feeds is a whole number of pairs of blocks, so that its rows lie whole vec4s
  // apart): the few-token warp blocks where this.fewQ8, and the int8 tiles (matmulQ8,
  // matmulQ8Tall) past them.
  q8RowBlocks() {
    const { nEmbd, nHead, headDim, nFf } = this.hp;
    const even = [nEmbd, nHead * headDim, nFf].every((k) => k % 64 === 0);
    if (!this.q8 || !even) return [];
    const few = this.fewQ8 ? (this.blocks.matmulFew ?? []).filter((b) => b.warps) : [];
    const tiles = this.tileChoice?.int8 === false ? [] : [this.blocks.matmulQ8, this.blocks.matmulQ8Tall].filter(Boolean);
    return [...few, ...tiles];
  }

  // The block of a prefill pass of n tokens that reads int8 rows, if any: over a part of `rows`
  // rows, the tall int8 tiles where they fill (prefillBlock's rule); without `rows`, the block
  // that tells whether the pass reads int8 rows at all.
  q8RowsBlock(n, rows = 0) {
    const blocks = this.q8RowBlocks();
    if (n < 2 || !blocks.length) return undefined;
    const few = this.blocks.matmulFew?.find((b) => n <= b.tokens);
    if (few) return blocks.find((b) => b === few);
    const { matmulQ8: tiles, matmulQ8Tall: tall } = this.blocks;
    if (!blocks.includes(tiles)) return undefined;
    return fills(tall, rows, n) ? tall : tiles;
  }

  // Where prefill's tiled mat-mats could read int8 rows, whether they should on this device: most
  // GPUs run dot4I8Packed as one instruction (the int8 tiles 1.7-2.1x the float ones on an H100),
  // but where Tint writes it as shifts and multiplies (Metal; D3D12 below shader model 6.4; Vulkan
  // without integer dot products) the H100 ran them 1.2-1.35x slower than the float ones
  // (bench/GPU_NOTES.md, session 13). Timed here on layer 0's FFN gate (the quantizing pass
  // included) in a pass of up to TILE_PROBE_TOKENS tokens, each way, the best of three rounds.
  async chooseTiles() {
    const n = Math.min(this.prefillChunk, TILE_PROBE_TOKENS);
    const gateType = this.tensor(layerTensorNames(this.hp, 0).wGate).type.name;
    const block = this.q8RowsBlock(n);
    if (!this.takesQ8(gateType) || !block || block.warps) return;
    this.writeStep(n, 0);
    const time = (int8, reps) => {
      this.tileChoice = { int8 };
      return this.timeSpecs(this.tileProbe, n, reps);
    };
    await time(true, 1); // a pipeline's first dispatch can take tens of ms more
    await time(false, 1);
    let reps = 1;
    while (reps < TILE_PROBE_MAX_REPS && (await time(true, reps)) < TILE_PROBE_MS) reps *= 2;
    const ms = { int8: Infinity, float: Infinity };
    for (let round = 0; round < 3; round++) {
      ms.int8 = Math.min(ms.int8, await time(true, reps));
      ms.float = Math.min(ms.float, await time(false, reps));
    }
    this.tileChoice = { int8: ms.int8 < ms.float, int8Ms: ms.int8 / reps, floatMs: ms.float / reps, tokens: n, reps };
  }

  // Milliseconds that `reps` runs of specs over n tokens take in one compute pass: GPU time by
  // timestamps where the device has them, else from submit to completion (seen some ms late).
  async timeSpecs(specs, n, reps) {
    const { device } = this;
    const stamps = device.features.has("timestamp-query") ? device.createQuerySet({ type: "timestamp", count: 2 }) : null;
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass(stamps ? { timestampWrites: { querySet: stamps, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } } : {});
    for (let i = 0; i < reps; i++) this.run(pass, specs, n, 0);
    pass.end();
    const t0 = performance.now();
    if (!stamps) {
      device.queue.submit([encoder.finish()]);
      await device.queue.onSubmittedWorkDone();
      return performance.now() - t0;
    }
    const resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(stamps, 0, 2, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, read, 0, 16);
    device.queue.submit([encoder.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const [begin, end] = new BigUint64Array(read.getMappedRange());
    const ms = Number(end - begin) / 1e6;
    for (const done of [read, resolved, stamps]) done.destroy();
    return ms;
  }

  // The pipeline name of a block that reads int8 rows.
  q8RowsKernelName(type, block) {
    const tiles = block === this.blocks.matmulQ8Tall ? ".tiled.tall" : ".tiled";
    return `matmul.${type}${block.warps ? `.few${block.tokens}` : tiles}.q8`;
  }

  // A prefill mat-mat spec and, where its type takes int8 activations and a pass has a block
  // that reads them, its twin reading x's int8 rows in `q8Rows` (each runs only for the passes
  // the other does not).
  withQ8Rows(spec, type, rows, q8Rows) {
    if (!q8Rows || !this.takesQ8(type) || !this.q8RowBlocks().length) return [spec];
    const q8 = (n) => this.q8RowsBlock(n, rows);
    return [
      { ...spec, dispatch: (n, pos0) => (q8(n) ? [0] : spec.dispatch(n, pos0)) },
      {
        ...spec,
        label: `${spec.label}.q8`,
        pipeline: (n) => q8(n) && this.pipelines[this.q8RowsKernelName(type, q8(n))],
        entries: spec.entries.with(1, whole(q8Rows)),
        dispatch: (n) => (q8(n) ? prefillMatmulDispatch(rows, n, q8(n)) : [0]),
      },
    ];
  }

  // x's rows as int8 rows into q8Rows, for a prefill pass that reads them (withQ8Rows); none
  // where no pass does.
  quantizeRows(x, q8Rows, k) {
    return this.q8RowBlocks().length ? [{
      pipeline: () => this.pipelines.quantizeQ8,
      entries: [whole(x), whole(q8Rows), this.uniforms.add((u) => { u[0] = k; })],
      dispatch: (n) => (this.q8RowsBlock(n) ? [ceilDiv(k / 32, QUANTIZE_WORKGROUP), n] : [0]),
    }] : [];
  }

  // Parts this tall take the matvecTall shape at decode (real GPUs).
  isTall(rows) {
    return Boolean(this.blocks.matvecTall) && rows >= TALL_ROWS;
  }

  // The gated FFN mat-vec's pipeline name.
  gatedKernelName(type, q8) {
    return `matvec.${type}.gated${q8 ? ".q8" : ""}`;
  }

  // The gated few-token block of a prefill pass of n tokens, if it has one.
  fewGatedBlock(n) {
    const few = this.blocks.matmulFew?.find((b) => n <= b.tokens);
    return this.fewGatedBlocks.includes(few) ? few : undefined;
  }

  fewGatedKernelName(type, block, q8) {
    return `matmul.${type}.few${block.tokens}.gated${q8 ? ".q8" : ""}`;
  }

  // The gated FFN mat-vec's shape: its own where the FFN is tall.
  gatedBlock(q8) {
    const blocks = q8 ? this.q8Blocks : this.blocks;
    return this.isTall(this.hp.nFf) ? blocks.matvecGated : blocks.matvec;
  }

  // Whether the one-token mat-vec of a weight type takes int8 activations.
  takesQ8(type) {
    return this.q8 && Q8_ACTIVATION_TYPES.includes(type);
  }

  // The one-token mat-vec's pipeline name and shape for a part of `rows` rows of `rowLength`.
  matvecKernel(type, rows, q8, rowLength) {
    const blocks = q8 ? this.q8Blocks : this.blocks;
    const kind = this.isTall(rows) ? "tall" : (blocks.matvecWide && rowLength >= WIDE_K ? "wide" : "");
    const block = matvecBlockFor(type, { tall: blocks.matvecTall, wide: blocks.matvecWide }[kind] ?? blocks.matvec);
    const name = `matvec.${type}${kind ? `.${kind}` : ""}${q8 ? ".q8" : ""}`;
    const workgroup = this.emulated && !q8 ? emulatedWorkgroup(rows, block, this.threads) : block.workgroup;
    return workgroup === block.workgroup ? { name, block } : { name: `${name}.wg${workgroup}`, block: { ...block, workgroup } };
  }

  // The prefill shape for a part of `rows` rows of `type` in a pass of n tokens, and its pipeline
  // name's suffix: the smallest few-token block that holds n tokens, if any (draft passes; with
  // the type's rows where it takes them); else the largest of the XL, tall and plain blocks that
  // fill this pass (fills).
  prefillBlock(type, rows, n) {
    const { matmul, matmulTall: tall, matmulXL: xl, matmulFew } = this.blocks;
    const fewBlock = matmulFew?.find((b) => n <= b.tokens);
    if (fewBlock) {
      const few = matvecBlockFor(type, fewBlock);
      const workgroup = this.emulated ? emulatedWorkgroup(rows, few, this.threads) : few.workgroup;
      const suffix = `.few${few.tokens}${workgroup === few.workgroup ? "" : `.wg${workgroup}`}`;
      return { block: { ...few, workgroup }, suffix };
    }
    if (fills(xl, rows, n)) return { block: xl, suffix: ".xl" };
    return fills(tall, rows, n) ? { block: tall, suffix: ".tall" } : { block: matmul, suffix: "" };
  }

  // A spec: {pipeline(n), layout?, entries (resources by binding), dispatch(n, pos0)} for n tokens
  // at positions pos0..; bindAll turns the entries into a bind group once. x is a buffer, y a
  // binding resource (the prefill's q, k, v are parts of one buffer). `q8`: a one-token spec
  // whose input is x's int8 row in that buffer, where the type takes it; `q8Rows`: a prefill
  // spec's int8 rows of x, for the passes whose blocks read them (withQ8Rows).
  matmul(name, x, y, yStride, { mode = MODE.STORE, bias = null, aux = null, q8 = null, q8Rows = null } = {}) {
    const t = this.tensor(name);
    const xQ8 = this.takesQ8(t.type.name) ? q8 : null;
    return t.parts.flatMap((part) => {
      const matvec = this.matvecKernel(t.type.name, part.rowCount, Boolean(xQ8), t.rowLength);
      return this.withQ8Rows({
        label: name,
        pipeline: (n) => this.pipelines[n === 1 ? matvec.name : `matmul.${t.type.name}${this.prefillBlock(t.type.name, part.rowCount, n).suffix}`],
        layout: this.matmulLayout,
        entries: [range(part), whole(xQ8 ?? x), y, bias ? range(this.tensor(bias).parts[0]) : whole(this.buf.dummy),
          aux ? whole(aux) : whole(this.buf.dummy),
          this.uniforms.add((u) => u.set([t.rowLength, part.rowCount, t.bytesPerRow, part.rowStart, yStride, mode, bias ? 1 : 0, 0])),
          whole(this.buf.step)],
        dispatch: (n) => (n === 1
          ? matvecDispatch(part.rowCount, matvec.block)
          : prefillMatmulDispatch(part.rowCount, n, this.prefillBlock(t.type.name, part.rowCount, n).block)),
      }, t.type.name, part.rowCount, q8Rows);
    });
  }

  // A one-token mat-vec from x's int8 row: the quantizing pass where the weight's type takes
  // it (x of `k` floats into `q8`) and x's producer has not written it (`quantized`), then the
  // mat-vec.
  matvecFromQ8(name, x, q8, k, y, yStride, { quantized = false, ...options }) {
    const quantize = this.takesQ8(this.tensor(name).type.name) && !quantized ? [{
      pipeline: () => this.pipelines.quantizeQ8,
      entries: [whole(x), whole(q8), this.uniforms.add((u) => { u[0] = k; })],
      dispatch: () => [ceilDiv(k / 32, QUANTIZE_WORKGROUP)],
    }] : [];
    return [...quantize, ...this.matmul(name, x, y, yStride, { ...options, q8 })];
  }

  // `q8`: (one token) also x's int8 row into that buffer, for the mat-vecs that take it.
  rmsnorm(name, x, y, step, q8 = null) {
    const withQ8 = this.q8 && q8;
    return {
      pipeline: () => this.pipelines[withQ8 ? "rmsnormQ8" : "rmsnorm"],
      entries: [whole(x), range(this.tensor(name).parts[0]), whole(y),
        this.uniforms.add((u, fl) => { u[0] = this.hp.nEmbd; fl[1] = this.hp.eps; }), step ?? whole(this.buf.step),
        ...(withQ8 ? [whole(q8)] : [])],
      dispatch: (n) => (!this.emulated ? [n] : [ceilDiv(n, NORM_WORKGROUP), n === 1 && !withQ8 ? Math.min(this.threads, 4) : 1]),
    };
  }

  // The layers for prefill chunks, or (decode) for one token with the fusions of this.fuse.
  layerSpecs(decode) {
    const { hp, buf } = this;
    const qDim = hp.nHead * hp.headDim;
    const kvDim = hp.nKv * hp.headDim;
    const embd = this.tensor("token_embd.weight");
    const specs = embd.parts.map((part) => ({
      pipeline: () => this.pipelines.getRows,
      entries: { 0: range(part), 1: whole(buf.ids), 2: whole(buf.x),
        5: this.uniforms.add((u) => u.set([embd.rowLength, part.rowCount, embd.bytesPerRow, part.rowStart])),
        6: whole(buf.step) },
      dispatch: (n) => getRowsDispatch(hp.nEmbd, n),
    }));
    const ropeParams = this.uniforms.add((u, fl) => {
      u.set([hp.nHead, hp.nKv, hp.headDim, hp.neoxRope ? 1 : 0]);
      fl.set([Math.log2(hp.ropeBase), hp.ropeFreqScale], 4);
      u[6] = hp.ropeFreqs ? 1 : 0;
      fl.set([hp.ropeExtFactor, hp.ropeRampStart, hp.ropeRampWidth, hp.ropeMscale], 7);
    }, 48);
    const attnParams = this.uniforms.add((u, fl) => {
      u.set([hp.nHead, hp.nKv, hp.headDim, hp.nCtx]);
      fl[4] = 1 / Math.sqrt(hp.headDim);
    });
    // The one-token pass reads int8 activations where it can (buf.*Q8); the fused attention
    // writes its output so where its heads split into blocks of 32.
    const xnQ8 = decode ? buf.xnQ8 : null;
    // Prefill passes read int8 rows where their blocks take them (withQ8Rows).
    const rowsQ8 = (q8) => (decode ? null : q8);
    const quantized = (x, q8, k) => (decode ? [] : this.quantizeRows(x, q8, k));
    const attentionQ8 = this.q8 && Boolean(this.pipelines.attentionDecodeQ8);
    for (let i = 0; i < hp.nLayer; i++) {
      const w = layerTensorNames(hp, i);
      const cache = this.kvCache[i];
      const span = this.qkvSpans[i];
      const qkv = decode && span
        ? { q: slice(buf.qkvOne, 0, qDim), k: slice(buf.qkvOne, qDim, kvDim), v: slice(buf.qkvOne, qDim + kvDim, kvDim) }
        : this.prefillQkv;
      const fused = span && (decode ? [this.qkvMatvec(span)] : this.qkvMatmul(span));
      const projections = fused || [
        ...this.matmul(w.wq, buf.xn, qkv.q, qDim, { bias: w.bq, q8: xnQ8, q8Rows: rowsQ8(buf.xnQ8) }),
        ...this.matmul(w.wk, buf.xn, qkv.k, kvDim, { bias: w.bk, q8: xnQ8, q8Rows: rowsQ8(buf.xnQ8) }),
        ...this.matmul(w.wv, buf.xn, qkv.v, kvDim, { bias: w.bv, q8: xnQ8, q8Rows: rowsQ8(buf.xnQ8) }),
      ];
      const gateUp = decode ? this.gateUpSpans[i] : null;
      const ffnQuantize = quantized(buf.xn, buf.xnQ8, hp.nEmbd);
      // Prefill passes of a few tokens take gate and up as one kernel where they can (gatedFew).
      const fewGateUp = !decode && this.gateUpSpans[i] ? this.gatedFew(this.gateUpSpans[i]) : [];
      const unlessFewGated = (parts) => (fewGateUp.length
        ? parts.map((s) => ({ ...s, dispatch: (n, pos0) => (this.fewGatedBlock(n) ? [0] : s.dispatch(n, pos0)) })) : parts);
      const gate = gateUp ? [] : unlessFewGated(this.matmul(w.wGate, buf.xn, whole(buf.gate), hp.nFf, { q8: xnQ8, q8Rows: rowsQ8(buf.xnQ8) }));
      const ffnIn = gateUp ? [this.gatedMatvec(gateUp)] : [
        ...gate,
        ...unlessFewGated(this.matmul(w.wUp, buf.xn, whole(buf.up), hp.nFf, { mode: MODE.SILU_MUL, aux: buf.gate, q8: xnQ8, q8Rows: rowsQ8(buf.xnQ8) })),
        ...fewGateUp,
      ];
      if (!decode && i === 0) this.tileProbe = [...ffnQuantize, ...gate]; // what chooseTiles times
      const addInto = (name, x, q8, k, quantized = false) => (decode
        ? this.matvecFromQ8(name, x, q8, k, whole(buf.x), hp.nEmbd, { mode: MODE.ADD, quantized })
        : this.matmul(name, x, whole(buf.x), hp.nEmbd, { mode: MODE.ADD, q8Rows: q8 }));
      const fusedAttention = decode && this.fuse.attention;
      const q8Out = fusedAttention && attentionQ8 ? { 8: whole(buf.attnQ8) } : {};
      const attention = fusedAttention
        ? [{
          pipeline: () => this.pipelines[attentionQ8 ? "attentionDecodeQ8" : "attentionDecode"],
          entries: { 0: qkv.q, 1: whole(cache.k), 2: whole(cache.v), 3: whole(buf.scores), 4: attnParams, 5: whole(buf.step),
            6: whole(buf.attn), 7: whole(buf.partials), ...q8Out },
          dispatch: (n, pos0) => attentionDispatch(hp, n, pos0).decode,
        }, {
          pipeline: () => this.pipelines[attentionQ8 ? "attentionCombineQ8" : "attentionCombine"],
          entries: { 4: attnParams, 5: whole(buf.step), 6: whole(buf.attn), 7: whole(buf.partials), ...q8Out },
          dispatch: (n, pos0) => attentionDispatch(hp, n, pos0).combine,
        }]
        : this.attentionPasses(cache, attnParams, qkv.q, decode);
      specs.push(
        this.rmsnorm(w.attnNorm, buf.x, buf.xn, undefined, xnQ8),
        ...quantized(buf.xn, buf.xnQ8, hp.nEmbd),
        ...projections,
        {
          pipeline: () => this.pipelines.rope,
          entries: [qkv.q, qkv.k, qkv.v, whole(cache.k), whole(cache.v), ropeParams, whole(buf.step),
            hp.ropeFreqs ? range(this.tensor("rope_freqs.weight").parts[0]) : whole(buf.dummy)],
          dispatch: (n) => ropeDispatch(hp, n, this.emulated),
        },
        ...attention,
        ...quantized(buf.attn, buf.attnQ8, qDim),
        ...addInto(w.wo, buf.attn, buf.attnQ8, qDim, fusedAttention && attentionQ8),
        this.rmsnorm(w.ffnNorm, buf.x, buf.xn, undefined, xnQ8),
        ...ffnQuantize,
        ...ffnIn,
        ...quantized(buf.up, buf.ffnQ8, hp.nFf),
        ...addInto(w.wDown, buf.up, buf.ffnQ8, hp.nFf),
      );
    }
    return specs;
  }

  // The one-token q, k, v projection of one layer as one mat-vec into buf.qkvOne.
  qkvMatvec({ weights, bias, type, rowLength, bytesPerRow }) {
    const rows = weights.rowCount;
    const q8 = this.takesQ8(type);
    const matvec = this.matvecKernel(type, rows, q8, rowLength);
    return {
      label: "attn_qkv",
      pipeline: () => this.pipelines[matvec.name],
      layout: this.matmulLayout,
      entries: [range(weights), whole(q8 ? this.buf.xnQ8 : this.buf.xn), whole(this.buf.qkvOne), bias ? range(bias) : whole(this.buf.dummy),
        whole(this.buf.dummy), this.uniforms.add((u) => u.set([rowLength, rows, bytesPerRow, 0, rows, MODE.STORE, bias ? 1 : 0, 0])),
        whole(this.buf.step)],
      dispatch: () => matvecDispatch(rows, matvec.block),
    };
  }

  // A prefill chunk's q, k, v projection of one layer as one mat-mat into the three parts of
  // buf.qkv (MODE.SPLIT_QKV). The 8B's k and v alone (1024 rows each) made too few tiles to fill
  // an H100 (41 TFLOP/s against q's 109); fused, its prefill at 1024 tokens went 5,670 / 5,783 ->
  // 6,023 / 6,025 tok/s (alternating runs, bench/GPU_NOTES.md session 9).
  qkvMatmul({ weights, bias, type, rowLength, bytesPerRow }) {
    const rows = weights.rowCount;
    const qDim = this.hp.nHead * this.hp.headDim;
    return this.withQ8Rows({
      label: "attn_qkv",
      pipeline: (n) => this.pipelines[`matmul.${type}${this.prefillBlock(type, rows, n).suffix}`],
      layout: this.matmulLayout,
      entries: [range(weights), whole(this.buf.xn), whole(this.buf.qkv), bias ? range(bias) : whole(this.buf.dummy),
        whole(this.buf.dummy), this.uniforms.add((u) => u.set([rowLength, rows, bytesPerRow, 0, qDim, MODE.SPLIT_QKV, bias ? 1 : 0, this.prefillChunk])),
        whole(this.buf.step)],
      dispatch: (n) => prefillMatmulDispatch(rows, n, this.prefillBlock(type, rows, n).block),
    }, type, rows, this.buf.xnQ8);
  }

  // The one-token FFN gate and up projections with SwiGLU as one mat-vec into buf.up.
  gatedMatvec({ weights, type, rowLength, bytesPerRow }) {
    const rows = this.hp.nFf;
    const q8 = this.takesQ8(type);
    return {
      label: "ffn_gate_up",
      pipeline: () => this.pipelines[this.gatedKernelName(type, q8)],
      layout: this.matmulLayout,
      entries: [range(weights), whole(q8 ? this.buf.xnQ8 : this.buf.xn), whole(this.buf.up), whole(this.buf.dummy), whole(this.buf.dummy),
        this.uniforms.add((u) => u.set([rowLength, rows, bytesPerRow, 0, rows, MODE.STORE, 0, 0])),
        whole(this.buf.step)],
      dispatch: () => matvecDispatch(rows, this.gatedBlock(q8)),
    };
  }

  // A prefill pass of a few tokens (fewGatedBlock): the FFN's gate and up as one warp mat-vec over
  // its tokens with SwiGLU in its store, into buf.up; twins reading float x and int8 rows.
  gatedFew({ weights, type, rowLength, bytesPerRow }) {
    const rows = this.hp.nFf;
    const uniforms = this.uniforms.add((u) => u.set([rowLength, rows, bytesPerRow, 0, rows, MODE.STORE, 0, 0]));
    const readsQ8 = (n) => Boolean(this.takesQ8(type) && this.q8RowsBlock(n)?.warps);
    return [false, true].map((q8) => ({
      label: `ffn_gate_up${q8 ? ".q8" : ""}`,
      pipeline: (n) => this.fewGatedBlock(n) && this.pipelines[this.fewGatedKernelName(type, this.fewGatedBlock(n), q8)],
      layout: this.matmulLayout,
      entries: [range(weights), whole(q8 ? this.buf.xnQ8 : this.buf.xn), whole(this.buf.up), whole(this.buf.dummy), whole(this.buf.dummy),
        uniforms, whole(this.buf.step)],
      dispatch: (n) => (this.fewGatedBlock(n) && readsQ8(n) === q8 ? prefillMatmulDispatch(rows, n, this.fewGatedBlock(n)) : [0]),
    }));
  }

  // Real GPUs' prefill: one pass (attentionSubgroupMatrixWGSL or attentionTiledWGSL). Otherwise
  // scores, softmax and mix as three dispatches: emulated GPUs' passes of several tokens take
  // the kernels blocked over tokens (scoresTokensWGSL: the mix divides by the sums), their decode
  // and real GPUs' decode where not fused take one token (the workgroup mix where it fits; the
  // one-token mix divides by the sums as well).
  attentionPasses(cache, attnParams, q, decode) {
    const { hp, buf } = this;
    if (!this.emulated && !decode) {
      return [{
        pipeline: () => this.pipelines.attentionPrefill,
        entries: { 0: q, 1: whole(cache.k), 2: whole(cache.v), 4: attnParams, 5: whole(buf.step), 6: whole(buf.attn) },
        dispatch: (n, pos0) => (this.attentionKernel === "tiled" ? attentionDispatch(hp, n, pos0).tiled : attentionSubgroupMatrixDispatch(hp, n)),
      }];
    }
    const [scores, softmax, mix] = !decode ? ["scoresTokens", "exps", "mixTokens"]
      : [this.emulated ? "scores" : "scoresGpu", "softmaxWg", this.mixWg ? "mixWg" : this.quads ? "mixOneQuads" : "mixOne"];
    const pipelineOf = { scoresGpu: "scores", mixWg: "mix", mixOneQuads: "mixOne" };
    const pass = (kernel, entries) => ({
      pipeline: () => this.pipelines[pipelineOf[kernel] ?? kernel],
      entries: { ...entries, 4: attnParams, 5: whole(buf.step) },
      dispatch: (n, pos0) => attentionDispatch(hp, n, pos0)[kernel],
    });
    return [
      pass(scores, { 0: q, 1: whole(cache.k), 3: whole(buf.scores) }),
      pass(softmax, { 3: whole(buf.scores) }),
      pass(mix, { 2: whole(cache.v), 3: whole(buf.scores), 6: whole(buf.attn) }),
    ];
  }

  headSpecs() {
    const { hp, buf } = this;
    const out = this.headName();
    const one = this.stepOne;
    const last = [
      this.rmsnorm("output_norm.weight", buf.xLast, buf.xLastNorm, one),
      ...this.matmul(out, buf.xLastNorm, whole(buf.logits), hp.nVocab).map((s) => ({ ...s, entries: s.entries.with(6, one), dispatch: () => s.dispatch(1) })),
    ];
    const all = [
      this.rmsnorm("output_norm.weight", buf.x, buf.xn),
      ...this.quantizeRows(buf.xn, buf.xnQ8, hp.nEmbd),
      ...this.matmul(out, buf.xn, whole(buf.logits), hp.nVocab, { q8Rows: buf.xnQ8 }),
    ];
    // The one-token pass: as `all`, with int8 activations where they serve.
    const oneToken = this.q8 ? [
      this.rmsnorm("output_norm.weight", buf.x, buf.xn, undefined, buf.xnQ8),
      ...this.matmul(out, buf.xn, whole(buf.logits), hp.nVocab, { q8: buf.xnQ8 }),
    ] : all;
    const sampling = (params) => [{
      pipeline: () => this.pipelines.sample,
      entries: [whole(buf.logits), whole(buf.ids), whole(params), whole(buf.shadowLists)],
      dispatch: (rows) => [rows],
    }];
    const heads = { last, all, one: oneToken, sample: sampling(buf.sample), sampleRows: sampling(buf.sampleRows) };
    if (!this.shadow) return heads;
    // Greedy passes: the shadow's logits, the candidates, their logits from the head's weights.
    const t = this.tensor(out);
    const argmax = [
      this.rmsnorm("output_norm.weight", buf.x, buf.xn),
      ...this.matmul(this.shadow.tensor.name, buf.xn, whole(buf.logits), hp.nVocab),
      {
        pipeline: () => this.pipelines.shadowCandidates,
        entries: [whole(buf.logits), whole(buf.xn), whole(buf.shadowLists),
          this.uniforms.add((u, fl) => { u[0] = hp.nVocab; u[1] = hp.nEmbd; fl[2] = this.shadow.zE; })],
        dispatch: (n) => shadowCandidatesDispatch(n),
      },
      ...t.parts.map((part) => ({
        pipeline: () => this.pipelines.shadowRescore,
        entries: [range(part), whole(buf.xn), whole(buf.logits), whole(buf.shadowLists),
          this.uniforms.add((u) => u.set([t.rowLength, part.rowCount, t.bytesPerRow, part.rowStart, hp.nVocab]))],
        dispatch: (n) => shadowRescoreDispatch(n),
      })),
    ];
    return { ...heads, argmax };
  }

  bindAll(specs) {
    for (const spec of specs) {
      const pipeline = spec.pipeline(this.prefillChunk);
      const layout = spec.layout ?? pipeline.getBindGroupLayout(0);
      const entries = Object.entries(spec.entries).map(([binding, r]) => ({
        binding: Number(binding),
        resource: r.data ? { buffer: r.buffer, offset: r.offset, size: r.size } : r,
      }));
      spec.bindGroup = this.device.createBindGroup({ layout, entries });
    }
  }

  // Specs whose dispatch has no workgroups at this step (the attention combine at short
  // contexts) are skipped.
  run(pass, specs, n, pos0) {
    for (const spec of specs) {
      const size = spec.dispatch(n, pos0);
      if (size.includes(0)) continue;
      pass.setPipeline(spec.pipeline(n));
      pass.setBindGroup(0, spec.bindGroup);
      pass.dispatchWorkgroups(...size);
    }
  }

  writeStep(n, pos0) {
    this.device.queue.writeBuffer(this.buf.step, 0, new Uint32Array([n, pos0, 0, 0]));
  }

  // Encode the layers for n tokens at positions pos0.. (ids in buf.ids, step written) and the
  // output head: "last" puts the last token's logits in logits[0, :], "all" every token's in
  // logits[t, :] (at most ALL_LOGITS_ROWS tokens), "argmax" as "all" for rows that are only
  // argmaxed: where the head has a shadow, exact only where a row's maximum may lie.
  encodeForward(encoder, n, pos0, logits) {
    if (logits !== "last" && n > ALL_LOGITS_ROWS) throw new EngineError("internal", `all logits of ${n} tokens asked in one pass`);
    if (logits === "all" && n > 1 && !this.exactHeadReady) throw new EngineError("internal", "the exact head's mat-mats are not made yet (exactHeadPipelines)");
    this.argmaxRows = logits === "argmax" && Boolean(this.head.argmax);
    let pass = encoder.beginComputePass();
    this.run(pass, n === 1 ? this.decodeBody : this.body, n, pos0);
    // One token is its own last row: the "all" head, without a copy into xLast.
    if (logits !== "last" || n === 1) {
      this.run(pass, logits === "argmax" && this.head.argmax ? this.head.argmax : n === 1 ? this.head.one : this.head.all, n);
      pass.end();
      return;
    }
    pass.end();
    const rowBytes = this.hp.nEmbd * 4;
    encoder.copyBufferToBuffer(this.buf.x, (n - 1) * rowBytes, this.buf.xLast, 0, rowBytes);
    pass = encoder.beginComputePass();
    this.run(pass, this.head.last, 1);
    pass.end();
  }

  // Sample the next id from logits row `row` (writeSampleParams) into ids[0], the next forward's
  // input; with `copy`, copy it to idRead[slot].
  encodeSample(encoder, slot, copy = true) {
    const pass = encoder.beginComputePass();
    this.run(pass, this.head.sample, 1);
    pass.end();
    if (copy) encoder.copyBufferToBuffer(this.buf.ids, 0, this.buf.idRead[slot], 0, 4);
  }

  // Sample logits rows 0 .. rows - 1 (writeSampleParams with `rows: true`) into ids[SAMPLE_ROWS + i]
  // and copy ids[0 .. SAMPLE_ROWS + rows) to idRead[slot]: the pass's first input and the id
  // that follows each of its tokens.
  encodeSampleRows(encoder, rows, slot) {
    const pass = encoder.beginComputePass();
    this.run(pass, this.head.sampleRows, rows);
    pass.end();
    encoder.copyBufferToBuffer(this.buf.ids, 0, this.buf.idRead[slot], 0, (SAMPLE_ROWS + rows) * 4);
  }

  // us: the uniform numbers of the rows sampled, from `row` on (the first `rows` rows for
  // encodeSampleRows, where `rows` is true). Greedy rows from the shadow's head take the argmax
  // over their candidates: the last forward's rows, or (`rows`) those of the greedy pass to come.
  writeSampleParams({ temperature, topK, topP, us, row = 0, rows = false }) {
    const data = new ArrayBuffer(SAMPLE_PARAMS_BYTES);
    const words = new Uint32Array(data);
    const floats = new Float32Array(data);
    words[0] = this.hp.nVocab;
    words[1] = topK;
    floats[2] = temperature;
    floats[3] = topP;
    words[4] = row;
    words[5] = rows ? SAMPLE_ROWS : 0;
    words[6] = temperature <= 0 && (rows ? Boolean(this.head.argmax) : this.argmaxRows) ? 1 : 0;
    floats.set(us, 8);
    this.device.queue.writeBuffer(rows ? this.buf.sampleRows : this.buf.sample, 0, data);
  }

  // The first `count` ids copied to idRead[slot].
  async readIds(slot, count) {
    const read = this.buf.idRead[slot];
    await read.mapAsync(GPUMapMode.READ);
    const ids = new Uint32Array(read.getMappedRange(0, count * 4).slice(0));
    read.unmap();
    return ids;
  }

  async readLogits(rows) {
    const bytes = rows * this.hp.nVocab * 4;
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    encoder.copyBufferToBuffer(this.buf.logits, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    await staging.mapAsync(GPUMapMode.READ);
    const out = new Float32Array(staging.getMappedRange().slice(0));
    staging.destroy();
    return out;
  }

  // Bytes of GPU memory the working buffers take (all but the weights).
  workingBytes() {
    return this.owned.reduce((sum, b) => sum + b.size, 0) + (this.uniforms?.buffer?.size ?? 0);
  }

  destroy() {
    for (const b of this.owned) b.destroy();
    this.uniforms?.buffer?.destroy();
  }
}
