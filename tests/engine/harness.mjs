// Test harness: exposes the engine and a single-kernel runner on window.harness for Playwright.
// Bulk data crosses page.evaluate as base64.

import { createWebGPUEngine } from "/site/engine/webgpu/index.mjs";
import { matvecWGSL, matvecDispatch } from "/site/engine/webgpu/kernels/matmul.mjs";
import { prefillMatmulWGSL, prefillMatmulDispatch } from "/site/engine/webgpu/kernels/matmul-tiled.mjs";
import { QUANTIZE_Q8_WGSL, QUANTIZE_WORKGROUP, q8RowBytes } from "/site/engine/webgpu/kernels/activations-q8.mjs";
import { rmsnormWgWGSL } from "/site/engine/webgpu/kernels/norm.mjs";
import {
  shadowQuantizeWGSL, shadowQuantizeDispatch, shadowCandidatesWGSL, shadowCandidatesDispatch, shadowRescoreWGSL, shadowRescoreDispatch,
} from "/site/engine/webgpu/kernels/shadow-head.mjs";

function fromBase64(s) {
  return Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
}

function toBase64(typed) {
  const bytes = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

let device = null;
async function getDevice() {
  if (!device) {
    const adapter = await navigator.gpu.requestAdapter();
    device = await adapter.requestDevice({
      requiredFeatures: ["subgroups"].filter((f) => adapter.features.has(f)),
      requiredLimits: { maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize },
    });
  }
  return device;
}

// Y[t, r] = sum_k W[r, k] X[t, k] with one matmul kernel; W are the raw GGUF row bytes.
// `block` is a matmul block ({rows, tokens, workgroup} or tiled, {tile, rows, tokens}) or a
// mat-vec block ({rows, lanes} or {rows, warps, ...}).
// With `repeat` > 1 the dispatch runs that many more times and `ms` is the mean time of one.
async function matmul({ type, weights, rows, k, rowBytes, x, nTokens, block, repeat = 0 }) {
  const dev = await getDevice();
  const w = fromBase64(weights);
  const padded = new Uint8Array(Math.ceil(w.byteLength / 4) * 4);
  padded.set(w);
  const storage = (data, usage = GPUBufferUsage.STORAGE) => {
    const b = dev.createBuffer({ size: Math.max(16, data.byteLength), usage: usage | GPUBufferUsage.COPY_DST });
    dev.queue.writeBuffer(b, 0, data);
    return b;
  };
  const wBuf = storage(padded);
  const xBuf = storage(new Float32Array(fromBase64(x).buffer));
  const yBytes = nTokens * rows * 4;
  const yBuf = dev.createBuffer({ size: yBytes, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC });
  const dummy = storage(new Float32Array(4));
  const shape = storage(new Uint32Array([k, rows, rowBytes, 0, rows, 0, 0, 0]), GPUBufferUsage.UNIFORM);
  const step = storage(new Uint32Array([nTokens, 0, 0, 0]), GPUBufferUsage.UNIFORM);
  const pipeline = await dev.createComputePipelineAsync({
    layout: "auto",
    compute: { module: dev.createShaderModule({ code: nTokens === 1 && (block.lanes || block.warps) ? matvecWGSL(type, block) : prefillMatmulWGSL(type, block) }), entryPoint: "main" },
  });
  const buffers = [wBuf, xBuf, yBuf, dummy, dummy, shape, step];
  const bindGroup = dev.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })),
  });
  const read = dev.createBuffer({ size: yBytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const dispatch = (times) => {
    const encoder = dev.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let i = 0; i < times; i++) pass.dispatchWorkgroups(...(nTokens === 1 && (block.lanes || block.warps) ? matvecDispatch(rows, block) : prefillMatmulDispatch(rows, nTokens, block)));
    pass.end();
    return encoder;
  };
  const encoder = dispatch(1);
  encoder.copyBufferToBuffer(yBuf, 0, read, 0, yBytes);
  dev.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const y = new Float32Array(read.getMappedRange().slice(0));
  let ms = null;
  if (repeat > 0) {
    const started = performance.now();
    dev.queue.submit([dispatch(repeat).finish()]);
    await dev.queue.onSubmittedWorkDone();
    ms = (performance.now() - started) / repeat;
  }
  for (const b of [wBuf, xBuf, yBuf, dummy, shape, step, read]) b.destroy();
  return repeat > 0 ? { y: toBase64(y), ms } : toBase64(y);
}

// One row x of k floats as int8 activations (kernels/activations-q8.mjs): by the standalone pass,
// or (`weight` given) by RMSNorm's fused output, the row normed with that weight first (`subgroups`:
// its version for subgroups, rounded by shuffles).
async function quantizeQ8({ x, weight = null, eps = 1e-5, subgroups = false }) {
  const dev = await getDevice();
  const xs = new Float32Array(fromBase64(x).buffer);
  const k = xs.length;
  const buffer = (data, usage = GPUBufferUsage.STORAGE) => {
    const b = dev.createBuffer({ size: Math.max(16, data.byteLength ?? data), usage: usage | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC });
    if (data.byteLength) dev.queue.writeBuffer(b, 0, data);
    return b;
  };
  const q = buffer(q8RowBytes(k));
  const uniform = (words) => buffer(words, GPUBufferUsage.UNIFORM);
  const norm = weight !== null;
  const params = new ArrayBuffer(16);
  new Uint32Array(params)[0] = k;
  new Float32Array(params)[1] = eps;
  const bindings = norm
    ? [buffer(xs), buffer(new Float32Array(fromBase64(weight).buffer)), buffer(k * 4), uniform(params), uniform(new Uint32Array([1, 0, 0, 0])), q]
    : [buffer(xs), q, uniform(new Uint32Array([k, 0, 0, 0]))];
  const code = norm ? rmsnormWgWGSL({ d: k, q8: true, subgroups }) : QUANTIZE_Q8_WGSL;
  const pipeline = await dev.createComputePipelineAsync({ layout: "auto", compute: { module: dev.createShaderModule({ code }), entryPoint: "main" } });
  const read = dev.createBuffer({ size: q.size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = dev.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0),
    entries: bindings.map((b, binding) => ({ binding, resource: { buffer: b } })) }));
  pass.dispatchWorkgroups(norm ? 1 : Math.ceil(k / 32 / QUANTIZE_WORKGROUP));
  pass.end();
  encoder.copyBufferToBuffer(q, 0, read, 0, q.size);
  dev.queue.submit([encoder.finish()]);
  await read.mapAsync(GPUMapMode.READ);
  const out = new Uint8Array(read.getMappedRange().slice(0, q8RowBytes(k)));
  for (const b of [...bindings, read]) b.destroy();
  return toBase64(out);
}

// Kernels run in order, each {code, bindings (indices into `buffers`), size}, over buffers made
// from the typed arrays or byte counts in `buffers` (`uniform`: indices of uniform ones); the
// listed buffers read back as bytes (base64).
async function runKernels(kernels, buffers, uniform, readBack) {
  const dev = await getDevice();
  const made = buffers.map((data, i) => {
    const usage = (uniform.includes(i) ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE) | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
    const size = Math.max(16, Math.ceil((data.byteLength ?? data) / 4) * 4);
    const b = dev.createBuffer({ size, usage });
    if (data.byteLength) {
      const padded = new Uint8Array(size);
      padded.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      dev.queue.writeBuffer(b, 0, padded);
    }
    return b;
  });
  const encoder = dev.createCommandEncoder();
  const pass = encoder.beginComputePass();
  for (const { code, bindings, size } of kernels) {
    const pipeline = await dev.createComputePipelineAsync({ layout: "auto", compute: { module: dev.createShaderModule({ code }), entryPoint: "main" } });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, dev.createBindGroup({ layout: pipeline.getBindGroupLayout(0),
      entries: bindings.map((i, binding) => ({ binding, resource: { buffer: made[i] } })) }));
    pass.dispatchWorkgroups(...size);
  }
  pass.end();
  const reads = readBack.map((i) => {
    const read = dev.createBuffer({ size: made[i].size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.copyBufferToBuffer(made[i], 0, read, 0, made[i].size);
    return read;
  });
  dev.queue.submit([encoder.finish()]);
  const out = [];
  for (const read of reads) {
    await read.mapAsync(GPUMapMode.READ);
    out.push(toBase64(new Uint8Array(read.getMappedRange().slice(0))));
    read.destroy();
  }
  for (const b of made) b.destroy();
  return out;
}

// The output head's Q4_1 shadow of `rows` rows of raw GGUF bytes (kernels/shadow-head.mjs): the
// shadow's bytes and each row's error norm.
async function shadowQuantize({ type, weights, rows, k, rowBytes }) {
  const shadowBytes = rows * (k / 32) * 20;
  const [shadow, errors] = await runKernels(
    [{ code: shadowQuantizeWGSL(type), bindings: [0, 1, 2, 3], size: shadowQuantizeDispatch(rows) }],
    [fromBase64(weights), shadowBytes, rows * 4, new Uint32Array([k, rows, rowBytes, 0])], [3], [1, 2]);
  return { shadow, errors };
}

// The greedy head's candidates and rescoring (kernels/shadow-head.mjs) over `logits` (nTokens
// rows of `rows`, the shadow's values) for x (nTokens rows of k) and raw GGUF weights; rows
// rowStart .. rowStart + partRows of the vocabulary in this part. The logits after, and the lists.
async function shadowCandidates({ type, weights, rows, k, rowBytes, x, logits, nTokens, zE, capacity, rowStart = 0, partRows = rows }) {
  const params = new ArrayBuffer(16);
  new Uint32Array(params).set([rows, k]);
  new Float32Array(params)[2] = zE;
  const [after, lists] = await runKernels([
    { code: shadowCandidatesWGSL(capacity), bindings: [0, 1, 2, 3], size: shadowCandidatesDispatch(nTokens) },
    { code: shadowRescoreWGSL(type, capacity), bindings: [4, 1, 0, 2, 5], size: shadowRescoreDispatch(nTokens, capacity) },
  ], [fromBase64(logits), fromBase64(x), nTokens * (capacity + 1) * 4, new Uint8Array(params), fromBase64(weights),
    new Uint32Array([k, partRows, rowBytes, rowStart, rows, 0, 0, 0])], [3, 5], [0, 2]);
  return { logits: after, lists };
}

// Errors cross as their JSON shape so tests can check `kind`.
async function attempt(fn) {
  try {
    return { ok: true, value: await fn() };
  } catch (err) {
    return { ok: false, error: err.toJSON ? err.toJSON() : { kind: "js", message: String(err) } };
  }
}

// The adapter's subgroup sizes (null where it has no subgroups).
async function subgroupSizes() {
  const info = (await navigator.gpu.requestAdapter()).info;
  return (await getDevice()).features.has("subgroups") ? { min: info.subgroupMinSize, max: info.subgroupMaxSize } : null;
}

window.harness = { createWebGPUEngine, matmul, quantizeQ8, shadowQuantize, shadowCandidates, subgroupSizes, toBase64, fromBase64, attempt };
window.harnessReady = true;
