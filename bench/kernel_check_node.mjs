// Correctness and speed of the tensor-core prefill kernels: the matmul (kernels/matmul-subgroup-
// matrix.mjs) against the reference-quality matmulWGSL (kernels/matmul.mjs, f32, CI-tested
// against numpy), the attention (kernels/attention-subgroup-matrix.mjs) against the tiled one,
// on the GPU machine: Node + Dawn (npm `webgpu`), nothing else.
//
//   node bench/kernel_check_node.mjs [--quick] [--only matmul|attention] [--chunk [N]] [--types A,B]
//
// Prints JSON lines:
//   {"event":"device", ...}    adapter, features, subgroup sizes, subgroupMatrixConfigs
//   {"event":"spelling", ...}  which spelling of subgroupMatrixLoad/Store compiles
//   {"event":"compile", ...}   a kernel that failed to compile, with the compiler's messages
//   {"event":"case", ...}      one kernel on one (type, shape, epilogue): relErr = max |Y - Yref| /
//                              max |Yref| (Yref from matmulWGSL on the same buffers), ok = relErr
//                              <= 1e-2, median GPU time of 20 dispatches (us; best of 3 rounds
//                              after a warm-up, rounds in usRounds) and TFLOP/s
//                              (2 rows k tokens / time), speedup over matmulWGSL and over the
//                              tiled kernel of matmul-tiled.mjs (the current real-GPU prefill)
//   {"event":"attention", ...} the tensor-core prefill attention (kernels/attention-subgroup-matrix.mjs)
//                              on one model shape and chunk: relErr against attentionTiledWGSL,
//                              both kernels' GPU times (as above) and TFLOP/s
//   {"event":"summary", ...}   pass/fail, the fastest block per shape
// Exit code 1 if a case is wrong (relErr > 1e-2) or a kernel fails to compile.
// Weights are random bytes with small f16 scales (valid blocks of each type), X uniform in
// [-1, 1]. --quick: the default block only, no extra block variants.

import { create, globals } from "webgpu";

Object.assign(globalThis, globals);
// As bench/engine_node.mjs: Dawn keeps shader-f16 off on NVIDIA's Vulkan driver unless asked;
// allow_unsafe_apis exposes the experimental subgroup-matrix feature.
const dawnFlags = ["enable-dawn-features=allow_unsafe_apis,vulkan_enable_f16_on_nvidia", "disable-dawn-features=timestamp_quantization"];
Object.defineProperty(globalThis.navigator, "gpu", { value: create(dawnFlags), configurable: true });

// Imported after the globals are set: the engine's modules may read GPUBufferUsage & co.
const { matmulWGSL, matmulDispatch, MODE } = await import("../site/engine/webgpu/kernels/matmul.mjs");
const SM = await import("../site/engine/webgpu/kernels/matmul-subgroup-matrix.mjs");
const { uniformStream } = await import("../site/engine/webgpu/random.mjs");
const tiled = await import("../site/engine/webgpu/kernels/matmul-tiled.mjs");
const ATT = await import("../site/engine/webgpu/kernels/attention.mjs");
const ASM = await import("../site/engine/webgpu/kernels/attention-subgroup-matrix.mjs");

// The argument after `flag`, or undefined where the flag is absent.
const flagValue = (flag) => (process.argv.includes(flag) ? process.argv[process.argv.indexOf(flag) + 1] : undefined);
const QUICK = process.argv.includes("--quick");
const ONLY = flagValue("--only"); // "matmul" | "attention"
// --chunk [N]: the matmul on the 8B's shapes (FFN gate, FFN down, attn_q) at a prefill chunk
// of N tokens (default 1024), Q4_0 only.
const CHUNK = process.argv.includes("--chunk");
const CHUNK_TOKENS = Number(flagValue("--chunk")) || 1024;
const TOLERANCE = 1e-2;
const REPEATS = 20;
const REF_BLOCK = { rows: 4, tokens: 8, workgroup: 64 };
const ALL_TYPES = ["Q4_0", "Q8_0", "Q4_K", "Q6_K"];
// --types A,B: only these (default: all; Q4_0 with --chunk).
const TYPES = flagValue("--types")?.split(",") ?? (CHUNK ? ["Q4_0"] : ALL_TYPES);
// Block size (weights) and bytes of each type; where the f16 scales lie in a block and the
// range they are drawn from (small, so that sums stay well inside f16 and f32).
const LAYOUT = {
  Q4_0: { size: 32, bytes: 18, f16: [[0, 0.005, 0.02]] },
  Q8_0: { size: 32, bytes: 34, f16: [[0, 0.002, 0.006]] },
  Q4_K: { size: 256, bytes: 144, f16: [[0, 1e-4, 3e-4], [2, 7.5e-4, 2.25e-3]] },
  Q6_K: { size: 256, bytes: 210, f16: [[208, 1e-4, 2e-4]], int8: [192, 16, 40] }, // 16 int8 scales in -40..40
};
const CHUNK_SHAPES = [
  { rows: 14336, k: 4096, tokens: CHUNK_TOKENS, epilogue: "store" },
  { rows: 4096, k: 14336, tokens: CHUNK_TOKENS, epilogue: "store" },
  { rows: 4096, k: 4096, tokens: CHUNK_TOKENS, epilogue: "store" },
];
const SHAPES = CHUNK ? CHUNK_SHAPES : [
  { rows: 4096, k: 4096, tokens: 64, epilogue: "store" },
  { rows: 70, k: 512, tokens: 37, epilogue: "store" },
  // The epilogue and the output indexing: bias, residual add / SwiGLU, a row offset and a Y
  // stride wider than the rows (as for the parts of a split weight).
  { rows: 70, k: 512, tokens: 37, epilogue: "bias+add", rowOffset: 5, yStride: 80 },
  { rows: 70, k: 512, tokens: 37, epilogue: "silu_mul", rowOffset: 3, yStride: 96 },
  // A K whose count of 32-weight blocks is no multiple of the blocks per step (576: SmolLM2's
  // width, 18 blocks), so the last step reads past K (zero X); K-quants: 3 super-blocks.
  { rows: 70, k: { 32: 576, 256: 768 }, tokens: 37, epilogue: "store" },
];
// Blocks for the subgroup-matrix kernel: the module's default first, then variants for tuning
// (workgroup memory in bytes in the output; those over the device limit are skipped).
const VARIANTS = [
  { name: "default", block: SM.SUBGROUP_MATRIX_BLOCK },
  { name: "16K: 32x64 sg2x2 1 block/step", block: SM.SUBGROUP_MATRIX_BLOCK_16K },
  { name: "32x64 sg2x2 2 blocks/step", block: { tile: { rows: 32, tokens: 64, blocks: 2 }, subgroups: { rows: 2, tokens: 2 } } },
  { name: "16x64 sg1x4 4 blocks/step", block: { tile: { rows: 16, tokens: 64, blocks: 4 }, subgroups: { rows: 1, tokens: 4 } } },
  { name: "32x64 sg1x2 4 blocks/step (32x32 each)", block: { tile: { rows: 32, tokens: 64, blocks: 4 }, subgroups: { rows: 1, tokens: 2 } } },
  { name: "large (parts of 4096+ rows where XL does not fit): 64x64 sg2x2 2 blocks/step (32x32 each)", block: SM.SUBGROUP_MATRIX_BLOCK_LARGE },
  { name: "XL (parts of 4096+ rows): 128x128 sg2x4 2 blocks/step (64x32 each)", block: SM.SUBGROUP_MATRIX_BLOCK_XL },
  // Taller tiles read X (f32, 4x the bytes of a Q4_0 weight) fewer times per chunk; at one
  // block per step (two do not fit 48 KiB). H100, --chunk: FFN down 1,082 -> 959 us, gate
  // 1,213 -> 1,302 (bench/GPU_NOTES.md, session 10).
  { name: "256x128 sg4x2 1 block/step (64x64 each)", block: { tile: { rows: 256, tokens: 128, blocks: 1 }, subgroups: { rows: 4, tokens: 2 } } },
];

const print = (obj) => console.log(JSON.stringify(obj));
let failures = 0;

// ---- device ----
const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
if (!adapter) {
  print({ event: "device", error: "no adapter" });
  process.exit(1);
}
const info = adapter.info ?? {};
const configs = [...(info.subgroupMatrixConfigs ?? [])].map((c) => ({
  componentType: c.componentType, resultComponentType: c.resultComponentType, M: c.M, N: c.N, K: c.K,
}));
const wanted = ["shader-f16", "subgroups", "chromium-experimental-subgroup-matrix", "timestamp-query"].filter((f) => adapter.features.has(f));
const limits = {};
for (const key of ["maxStorageBufferBindingSize", "maxBufferSize", "maxComputeWorkgroupStorageSize", "maxComputeInvocationsPerWorkgroup", "maxComputeWorkgroupSizeX"]) {
  limits[key] = adapter.limits[key];
}
const device = await adapter.requestDevice({ requiredFeatures: wanted, requiredLimits: limits });
device.addEventListener?.("uncapturederror", (e) => print({ event: "uncaptured-error", message: e.error?.message }));
const support = SM.subgroupMatrixSupport(device.features, info);
print({
  event: "device", gpu: `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.trim(),
  adapterFeatures: [...adapter.features].sort(), deviceFeatures: [...device.features].sort(),
  wgslLanguageFeatures: [...(navigator.gpu.wgslLanguageFeatures ?? [])].sort(),
  subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize, subgroupMatrixConfigs: configs,
  maxComputeWorkgroupStorageSize: device.limits.maxComputeWorkgroupStorageSize,
  deviceAdapterInfoHasConfigs: Boolean(device.adapterInfo?.subgroupMatrixConfigs?.length),
  subgroupMatrixKernelSupported: support.ok, why: support.why || undefined,
});
if (!device.features.has("chromium-experimental-subgroup-matrix") || !device.features.has("shader-f16")) {
  print({ event: "summary", ok: false, error: "this device lacks chromium-experimental-subgroup-matrix or shader-f16: nothing to check" });
  process.exit(1);
}
const timestamps = device.features.has("timestamp-query");

// ---- helpers ----
const layoutEntries = ["read-only-storage", "read-only-storage", "storage", "read-only-storage", "read-only-storage", "uniform", "uniform"]
  .map((type, binding) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } }));
const bindGroupLayout = device.createBindGroupLayout({ entries: layoutEntries });
const pipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [bindGroupLayout] });

// A pipeline, or null after printing the compiler's messages (warnings are printed too, once
// per distinct text, so a deprecation shows up).
const seenWarnings = new Set();
async function pipelineFor(label, code, layout = pipelineLayout) {
  device.pushErrorScope("validation");
  device.pushErrorScope("internal");
  const module = device.createShaderModule({ code, label });
  const compileInfo = await module.getCompilationInfo();
  let pipeline = null;
  let thrown = null;
  try {
    pipeline = await device.createComputePipelineAsync({ layout, compute: { module, entryPoint: "main" }, label });
  } catch (err) {
    thrown = err;
  }
  const internal = await device.popErrorScope();
  const validation = await device.popErrorScope();
  const messages = compileInfo.messages.map((m) => `${m.type} ${m.lineNum}:${m.linePos} ${m.message}`);
  const errors = compileInfo.messages.filter((m) => m.type === "error");
  if (thrown || internal || validation || errors.length) {
    print({
      event: "compile", kernel: label, ok: false, messages: messages.slice(0, 20),
      error: [thrown?.message, internal?.message, validation?.message].filter(Boolean).join(" | ").slice(0, 2000),
    });
    return null;
  }
  for (const m of messages) {
    const key = m.replace(/^\S+ \d+:\d+ /, "");
    if (!seenWarnings.has(key)) { seenWarnings.add(key); print({ event: "compile-message", kernel: label, message: m }); }
  }
  return pipeline;
}

function buffer(data, usage) {
  const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16 + 16); // +16: tail reads of u32_at_even
  const b = device.createBuffer({ size, usage: usage | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
  const padded = new Uint8Array(size);
  padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  for (let o = 0; o < size; o += 1 << 24) device.queue.writeBuffer(b, o, padded.subarray(o, Math.min(size, o + (1 << 24))));
  return b;
}


const f32View = new Float32Array(1);
const u32View = new Uint32Array(f32View.buffer);
// float -> IEEE half bits (round to nearest; the values here are normal halves).
function f16Bits(value) {
  f32View[0] = value;
  const x = u32View[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = ((x >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  if (exp >= 31) return sign | 0x7c00;
  let half = sign | (exp << 10) | ((x >>> 13) & 0x3ff);
  if (x & 0x1000) half += 1;
  return half;
}

function randomWeights(type, rows, k, rand) {
  const L = LAYOUT[type];
  const rowBytes = (k / L.size) * L.bytes;
  const bytes = new Uint8Array(rows * rowBytes);
  for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
  for (let b = 0; b < bytes.length; b += L.bytes) {
    for (const [at, lo, hi] of L.f16) {
      const h = f16Bits(lo + (hi - lo) * rand());
      bytes[b + at] = h & 0xff;
      bytes[b + at + 1] = h >> 8;
    }
    if (L.int8) {
      const [at, n, range] = L.int8;
      for (let i = 0; i < n; i++) bytes[b + at + i] = (Math.round((2 * rand() - 1) * range) + 256) & 0xff;
    }
  }
  return { bytes, rowBytes };
}

const uniform = (values) => buffer(new Uint32Array(values), GPUBufferUsage.UNIFORM);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// The buffers of one case, shared by every kernel.
function makeCase(type, shapeIn, seed) {
  const rand = uniformStream(seed);
  const shape = { ...shapeIn, k: typeof shapeIn.k === "object" ? shapeIn.k[LAYOUT[type].size] : shapeIn.k };
  const { rows, k, tokens } = shape;
  const rowOffset = shape.rowOffset ?? 0;
  const yStride = shape.yStride ?? rows;
  const mode = { store: MODE.STORE, "bias+add": MODE.ADD, silu_mul: MODE.SILU_MUL }[shape.epilogue];
  const hasBias = shape.epilogue === "bias+add" ? 1 : 0;
  const { bytes, rowBytes } = randomWeights(type, rows, k, rand);
  const x = Float32Array.from({ length: tokens * k }, () => 2 * rand() - 1);
  const yInit = Float32Array.from({ length: tokens * yStride }, () => 2 * rand() - 1);
  const bias = Float32Array.from({ length: rowOffset + rows }, () => 2 * rand() - 1);
  const aux = Float32Array.from({ length: tokens * yStride }, () => 6 * rand() - 3);
  const y = buffer(yInit, GPUBufferUsage.STORAGE);
  const bufs = [
    buffer(bytes, GPUBufferUsage.STORAGE), buffer(x, GPUBufferUsage.STORAGE), y,
    buffer(bias, GPUBufferUsage.STORAGE), buffer(aux, GPUBufferUsage.STORAGE),
    uniform([k, rows, rowBytes, rowOffset, yStride, mode, hasBias, 0]), uniform([tokens, 0, 0, 0]),
  ];
  const bindGroup = device.createBindGroup({ layout: bindGroupLayout, entries: bufs.map((b, binding) => ({ binding, resource: { buffer: b } })) });
  const read = device.createBuffer({ size: y.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  return { ...shape, type, rowOffset, yStride, yInit, y, read, bindGroup, bufs: [...bufs, read] };
}

// Y after one dispatch from the initial Y.
async function runOnce(c, pipeline, size) {
  device.queue.writeBuffer(c.y, 0, c.yInit);
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, c.bindGroup);
  pass.dispatchWorkgroups(...size);
  pass.end();
  enc.copyBufferToBuffer(c.y, 0, c.read, 0, c.y.size);
  device.queue.submit([enc.finish()]);
  await c.read.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(c.read.getMappedRange().slice(0, c.yInit.byteLength));
  c.read.unmap();
  return out;
}

// Median microseconds of REPEATS dispatches: GPU timestamps around a pass per dispatch where the
// device has them, else wall time of a submit per dispatch up to onSubmittedWorkDone.
function encodeDispatch(enc, c, kernel, timestampWrites) {
  const pass = enc.beginComputePass(timestampWrites ? { timestampWrites } : {});
  pass.setPipeline(kernel.pipeline);
  pass.setBindGroup(0, c.bindGroup);
  pass.dispatchWorkgroups(...kernel.size);
  pass.end();
}

async function timeIt(c, kernel) {
  if (timestamps) {
    const n = 2 * REPEATS;
    const querySet = device.createQuerySet({ type: "timestamp", count: n });
    const resolve = device.createBuffer({ size: n * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const read = device.createBuffer({ size: n * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = device.createCommandEncoder();
    encodeDispatch(enc, c, kernel); // untimed first dispatch
    for (let i = 0; i < REPEATS; i++) encodeDispatch(enc, c, kernel, { querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 });
    enc.resolveQuerySet(querySet, 0, n, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, n * 8);
    device.queue.submit([enc.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const t = new BigInt64Array(read.getMappedRange().slice(0));
    read.unmap();
    querySet.destroy(); resolve.destroy(); read.destroy();
    return median(Array.from({ length: REPEATS }, (_, i) => Number(t[2 * i + 1] - t[2 * i]) / 1000));
  }
  const times = [];
  for (let i = 0; i < REPEATS; i++) {
    const enc = device.createCommandEncoder();
    encodeDispatch(enc, c, kernel);
    const t0 = performance.now();
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
    times.push((performance.now() - t0) * 1000);
  }
  return median(times);
}

// GPU clocks drop while the GPU idles (e.g. while pipelines compile), and a first run on an H100
// showed kernels 4x slower after such pauses, tiny kernels at ~75 us: so the GPU is kept busy for
// WARM_MS before timing, and the kernels of a case are timed in ROUNDS interleaved rounds
// (the best round's median counts; all rounds are printed as usRounds).
const WARM_MS = 300;
const ROUNDS = 3;
async function warmUp(c, kernel) {
  const t0 = performance.now();
  while (performance.now() - t0 < WARM_MS) {
    const enc = device.createCommandEncoder();
    for (let i = 0; i < 50; i++) encodeDispatch(enc, c, kernel);
    device.queue.submit([enc.finish()]);
    await device.queue.onSubmittedWorkDone();
  }
}

async function timeAll(c, kernels) {
  for (const k of kernels) k.rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    await warmUp(c, kernels[0]);
    for (const k of kernels) k.rounds.push(await timeIt(c, k));
  }
  for (const k of kernels) k.us = Math.min(...k.rounds);
}

function relErr(ref, out) {
  let diff = 0;
  let scale = 0;
  let bad = 0;
  for (let i = 0; i < ref.length; i++) {
    scale = Math.max(scale, Math.abs(ref[i]));
    const d = Math.abs(ref[i] - out[i]);
    if (!(d <= diff)) diff = Number.isNaN(d) ? Infinity : d; // NaN counts as infinitely wrong
    if (Number.isNaN(out[i])) bad++;
  }
  return { relErr: diff / scale, maxAbsDiff: diff, maxAbsRef: scale, nanCount: bad };
}

const blockName = (b) => `${b.tile.rows}x${b.tile.tokens} tile, ${b.subgroups.rows}x${b.subgroups.tokens} subgroups, ${b.tile.blocks ?? 1} block(s)/step, ${b.spelling ?? "template"} spelling`;
const tflops = (c, us) => (2 * c.rows * c.k * c.tokens) / (us * 1e-6) / 1e12;

// ---- which spelling of the load/store builtins this Dawn takes ----
const spellings = {};
for (const spelling of ["template", "legacy"]) {
  const code = SM.matmulSubgroupMatrixWGSL("Q4_0", { ...SM.SUBGROUP_MATRIX_BLOCK, spelling });
  spellings[spelling] = Boolean(await pipelineFor(`spelling probe: ${spelling}`, code));
}
const defaultSpelling = SM.SUBGROUP_MATRIX_BLOCK.spelling ?? "template";
const spelling = spellings[defaultSpelling] ? defaultSpelling : Object.keys(spellings).find((s) => spellings[s]);
print({
  event: "spelling", compiles: spellings, moduleDefault: defaultSpelling, using: spelling ?? null,
  note: spellings[defaultSpelling] ? "the module's default spelling compiles"
    : "the module's default spelling FAILS here; SUBGROUP_MATRIX_BLOCK.spelling should change (counted as a failure)",
});
if (!spellings[defaultSpelling]) failures++;
if (!spelling) {
  print({ event: "summary", ok: false, error: "neither spelling of the subgroup-matrix kernel compiles: see the compile lines" });
  process.exit(1);
}

// ---- the cases ----
const variants = (QUICK ? VARIANTS.slice(0, 1) : VARIANTS).map((v) => ({ ...v, block: { ...v.block, spelling } }));
const pipelines = new Map();
async function cachedPipeline(label, make, layout = pipelineLayout) {
  if (!pipelines.has(label)) {
    let code = null;
    try {
      code = make();
    } catch (err) {
      print({ event: "compile", kernel: label, ok: false, error: `generator threw: ${err.message}` });
    }
    pipelines.set(label, code && await pipelineFor(label, code, layout));
  }
  return pipelines.get(label);
}

const best = {};
let seed = 1;
const clock = timestamps ? "gpu-timestamps" : "wall-submit-to-done";
for (const type of ONLY === "attention" ? [] : TYPES) {
  for (const shape of SHAPES) {
    const c = makeCase(type, shape, seed++);
    const shapeText = `${c.rows} rows x ${c.k} k x ${c.tokens} tokens, ${c.epilogue}${c.rowOffset ? `, row_offset ${c.rowOffset}` : ""}${c.yStride !== c.rows ? `, y_stride ${c.yStride}` : ""}`;
    const base = { event: "case", type, shape: shapeText };
    const refPipeline = await cachedPipeline(`matmulWGSL ${type}`, () => matmulWGSL(type, REF_BLOCK));
    if (!refPipeline) { failures++; continue; }
    // Every kernel of the case: compiled and checked first, timed together afterwards.
    const ref = { line: { ...base, kernel: "matmulWGSL (reference)", block: REF_BLOCK }, pipeline: refPipeline, size: matmulDispatch(c.rows, c.tokens, REF_BLOCK) };
    const refY = await runOnce(c, ref.pipeline, ref.size);
    const kernels = [ref];
    const tiledPipeline = await cachedPipeline(`matmul-tiled ${type}`, () => tiled.prefillMatmulWGSL(type, tiled.TILED_BLOCK));
    if (tiledPipeline) {
      const size = tiled.prefillMatmulDispatch(c.rows, c.tokens, tiled.TILED_BLOCK);
      const e = relErr(refY, await runOnce(c, tiledPipeline, size));
      // Not counted as a failure here: another module, checked by its own tests.
      kernels.push({ tiled: true, pipeline: tiledPipeline, size, line: { ...base, kernel: "matmul-tiled (current GPU prefill, for comparison)", relErr: e.relErr, ok: e.relErr <= TOLERANCE } });
    }
    for (const v of variants) {
      let bytes;
      try {
        bytes = SM.subgroupMatrixWorkgroupBytes(v.block);
      } catch (err) {
        print({ ...base, kernel: "subgroup-matrix", variant: v.name, ok: false, error: err.message });
        failures++;
        continue;
      }
      if (bytes > device.limits.maxComputeWorkgroupStorageSize) {
        print({ ...base, kernel: "subgroup-matrix", variant: v.name, skipped: `needs ${bytes} bytes of workgroup memory, device limit ${device.limits.maxComputeWorkgroupStorageSize}` });
        continue;
      }
      const p = await cachedPipeline(`subgroup-matrix ${type} ${blockName(v.block)}`, () => SM.matmulSubgroupMatrixWGSL(type, v.block));
      if (!p) { failures++; continue; }
      const size = tiled.prefillMatmulDispatch(c.rows, c.tokens, v.block);
      const e = relErr(refY, await runOnce(c, p, size));
      const ok = e.relErr <= TOLERANCE;
      if (!ok) failures++;
      kernels.push({
        variant: v.name, pipeline: p, size, ok,
        line: {
          ...base, kernel: "subgroup-matrix", variant: v.name, block: blockName(v.block), workgroupBytes: bytes, dispatch: size,
          relErr: e.relErr, maxAbsDiff: e.maxAbsDiff, maxAbsRef: e.maxAbsRef, nanCount: e.nanCount || undefined, ok,
        },
      });
    }
    await timeAll(c, kernels);
    const tiledUs = kernels.find((k) => k.tiled)?.us;
    for (const k of kernels) {
      print({
        ...k.line, us: +k.us.toFixed(1), usRounds: k.rounds.map((u) => +u.toFixed(1)), tflops: +tflops(c, k.us).toFixed(2), clock,
        speedupVsRef: k === ref ? undefined : +(ref.us / k.us).toFixed(2),
        speedupVsTiled: k.variant && tiledUs ? +(tiledUs / k.us).toFixed(2) : undefined,
      });
      const key = `${type} ${c.rows}x${c.k}x${c.tokens}`;
      if (k.variant && k.ok && c.epilogue === "store" && (!best[key] || k.us < best[key].us)) {
        best[key] = { variant: k.variant, us: +k.us.toFixed(1), tflops: +tflops(c, k.us).toFixed(2), tiledUs: tiledUs && +tiledUs.toFixed(1) };
      }
    }
    for (const b of c.bufs) b.destroy();
  }
}

// ---- prefill attention: the tensor-core kernel against the tiled one (f32 q and
// probabilities, CI-tested against numpy), f16 KV cache as on the f16 path ----
const attentionLayout = device.createBindGroupLayout({
  entries: [[0, "read-only-storage"], [1, "read-only-storage"], [2, "read-only-storage"], [4, "uniform"], [5, "uniform"], [6, "storage"]]
    .map(([binding, type]) => ({ binding, visibility: GPUShaderStage.COMPUTE, buffer: { type } })),
});
const attentionPipelineLayout = device.createPipelineLayout({ bindGroupLayouts: [attentionLayout] });
// Model shapes (heads, kv heads, head size) x (tokens, first position): a whole first chunk, a
// chunk after earlier ones, and a ragged one that crosses the 64-token and 32-position tiles.
const ATTENTION_SHAPES = [
  { model: "llama3-8b", nHead: 32, nKv: 8, headDim: 128 },
  { model: "smollm2-135m", nHead: 9, nKv: 3, headDim: 64 },
  { model: "qwen2.5-0.5b", nHead: 14, nKv: 2, headDim: 64 },
  { model: "heads of 32 (the smallest the kernel takes)", nHead: 8, nKv: 4, headDim: 32 },
];
const ATTENTION_STEPS = [{ tokens: 1024, pos0: 0 }, { tokens: 1024, pos0: 1024 }, { tokens: 77, pos0: 45 }];
const attentionCases = {};
for (const shape of ONLY === "matmul" ? [] : ATTENTION_SHAPES) {
  const tiledAttention = await cachedPipeline(`attention tiled ${shape.headDim}`,
    () => ATT.attentionTiledWGSL(shape.headDim, "f16"), attentionPipelineLayout);
  const matrixAttention = await cachedPipeline(`attention subgroup-matrix ${shape.headDim}`,
    () => ASM.attentionSubgroupMatrixWGSL(shape.headDim, "f16", spelling), attentionPipelineLayout);
  if (!tiledAttention || !matrixAttention) { failures++; continue; }
  for (const { tokens, pos0 } of ATTENTION_STEPS) {
    const rand = uniformStream(seed++);
    const nCtx = pos0 + tokens;
    const width = shape.nHead * shape.headDim;
    const kvWidth = shape.nKv * shape.headDim;
    // q in [-3, 3], so that the softmax is peaked as well as flat somewhere.
    const q = Float32Array.from({ length: tokens * width }, () => 6 * rand() - 3);
    const cache = () => Uint16Array.from({ length: nCtx * kvWidth }, () => f16Bits(2 * rand() - 1));
    const scale = new Float32Array([1 / Math.sqrt(shape.headDim)]);
    const params = new Uint32Array([shape.nHead, shape.nKv, shape.headDim, nCtx, new Uint32Array(scale.buffer)[0], 0, 0, 0]);
    const yInit = new Float32Array(tokens * width);
    const y = buffer(yInit, GPUBufferUsage.STORAGE);
    const bufs = [buffer(q, GPUBufferUsage.STORAGE), buffer(cache(), GPUBufferUsage.STORAGE), buffer(cache(), GPUBufferUsage.STORAGE),
      uniform(params), uniform([tokens, pos0, 0, 0]), y];
    const bindGroup = device.createBindGroup({
      layout: attentionLayout, entries: [0, 1, 2, 4, 5, 6].map((binding, i) => ({ binding, resource: { buffer: bufs[i] } })),
    });
    const read = device.createBuffer({ size: y.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const c = { y, yInit, read, bindGroup };
    const hp = { nHead: shape.nHead, nKv: shape.nKv, headDim: shape.headDim, nCtx };
    const ref = { pipeline: tiledAttention, size: ATT.attentionDispatch(hp, tokens, pos0).tiled };
    const mine = { pipeline: matrixAttention, size: ASM.attentionSubgroupMatrixDispatch(hp, tokens) };
    const refO = await runOnce(c, ref.pipeline, ref.size);
    const e = relErr(refO, await runOnce(c, mine.pipeline, mine.size));
    const ok = e.relErr <= TOLERANCE;
    if (!ok) failures++;
    await timeAll(c, [ref, mine]);
    // Multiply-adds of q k^T and p v over the positions each token sees (causal).
    const flop = 4 * shape.nHead * shape.headDim * (tokens * pos0 + (tokens * (tokens + 1)) / 2);
    const line = {
      event: "attention", model: shape.model, tokens, pos0, relErr: e.relErr, maxAbsDiff: e.maxAbsDiff, maxAbsRef: e.maxAbsRef,
      nanCount: e.nanCount || undefined, ok, workgroupBytes: ASM.attentionSubgroupMatrixBytes(shape.headDim),
      tiledUs: +ref.us.toFixed(1), subgroupMatrixUs: +mine.us.toFixed(1), speedup: +(ref.us / mine.us).toFixed(2),
      tflopsTiled: +(flop / ref.us / 1e6).toFixed(2), tflopsSubgroupMatrix: +(flop / mine.us / 1e6).toFixed(2), clock,
    };
    print(line);
    attentionCases[`${shape.model} ${tokens}@${pos0}`] = { speedup: line.speedup, ok };
    for (const b of [...bufs, read]) b.destroy();
  }
}

print({
  event: "summary", ok: failures === 0, failures, tolerance: TOLERANCE, spelling, attention: attentionCases,
  fastestCorrectVariantPerShape: best,
  meaning: failures === 0
    ? "every subgroup-matrix kernel compiled and matched matmulWGSL within tolerance"
    : "see the lines with ok:false (wrong results) and the compile lines (failed compilation)",
});
process.exit(failures === 0 ? 0 : 1);
