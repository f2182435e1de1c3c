// Q4_0 mat-vec bandwidth on a real GPU, Node + Dawn (bench/gpu_machine.sh matvec): the engine's
// warp kernel (kernels/matmul.mjs, blocks as in the GGUF file: 18 bytes, so most words straddle
// two blocks) at several shapes, beside a candidate "row-local" layout (each row's quants first,
// 16 bytes per block, then its f16 scales; same bytes per row) read as u32 words or as vec4s.
// Shapes of the Llama-3-8B mat-vecs; each variant cycles over enough copies of the matrix to
// stream >= 300 MB, so the H100's 50 MB L2 cannot serve repeats. Prints one JSON line per variant:
// microseconds per mat-vec (median of 5 passes of 48, after 0.5 s of the same work to raise the
// GPU's clocks) and TB/s of weight bytes. --sweep: the engine kernel at every shape of a grid
// (rows x warps x unroll) instead. --q8: the engine kernel reading int8 activations
// (kernels/activations-q8.mjs) over a grid of shapes (rows x warps x unroll x warps per row),
// also for the fused FFN gate + up, each checked against the same sum on the CPU (maxRelDiff).
//     node bench/matvec_layouts_node.mjs [--no-robustness] [--sweep | --q8]
import { parseArgs } from "node:util";
import { create, globals } from "webgpu";
import { GPU_BLOCKS, matvecWarpDispatch, matvecWarpWGSL } from "../site/engine/webgpu/kernels/matmul.mjs";
import { QUANT_HELPERS } from "../site/engine/webgpu/kernels/quant.mjs";
import { uniformStream } from "../site/engine/webgpu/random.mjs";

const { values } = parseArgs({ options: { "no-robustness": { type: "boolean", default: false }, sweep: { type: "boolean", default: false }, q8: { type: "boolean", default: false } } });
Object.assign(globalThis, globals);
const features = `allow_unsafe_apis${values["no-robustness"] ? ",disable_robustness" : ""}`;
const gpu = create([`enable-dawn-features=${features}`, "disable-dawn-features=timestamp_quantization"]);
const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
const device = await adapter.requestDevice({
  requiredFeatures: ["timestamp-query", "subgroups"],
  requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
});
globalThis.dawnKeepAlive = { gpu, adapter }; // Dawn crashes if these are collected mid-run
const range = (n) => [...Array(n).keys()];
const STREAM_BYTES = 300e6;
const SHAPES = { "attn_q": [4096, 4096], "ffn_gate": [14336, 4096], "ffn_gate_up": [28672, 4096], "ffn_down": [4096, 14336], "output": [128256, 4096] };
const ENGINE_BLOCKS = values.sweep
  ? [1, 2, 4, 8].flatMap((rows) => [1, 2, 4, 8].flatMap((warps) => [1, 2, 4].map((unroll) => ({ rows, warps, unroll }))))
  : [{ rows: 2, warps: 4, unroll: 2 }, { rows: 4, warps: 2, unroll: 2 }, { rows: 8, warps: 2, unroll: 1 }];
const ROW_LOCAL_BLOCKS = [{ rows: 4, warps: 2 }, { rows: 8, warps: 2 }];
// split: warps per row (kernels/matmul.mjs), each dividing the workgroup's warps.
const Q8_BLOCKS = [1, 2, 4].flatMap((rows) => [1, 2, 4, 8].flatMap((warps) => [1, 2].flatMap((unroll) =>
  [1, 2, 4].filter((split) => split <= warps && (split === 1 || rows <= 2)).map((split) => ({ rows, warps, unroll, split })))));

// The row-local Q4_0 mat-vec: as the engine's warp kernel (lane j takes blocks j, j + 32, ...;
// subgroupAdd per row), but one block's quants are one aligned 16-byte read.
function rowLocalWGSL({ rows: R, warps: NW, vec4 }) {
  const quants = (r) => (vec4
    ? `let q = W4[(row${r} + j * 16u) >> 4u];`
    : `let i = (row${r} >> 2u) + j * 4u; let q = vec4<u32>(W[i], W[i + 1u], W[i + 2u], W[i + 3u]);`);
  return /* wgsl */ `enable subgroups;
@group(0) @binding(0) var<storage, read> W: array<u32>;
${vec4 ? "@group(0) @binding(1) var<storage, read> W4: array<vec4<u32>>;" : ""}
@group(0) @binding(2) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> Y: array<f32>;
@group(0) @binding(4) var<uniform> shape: vec4<u32>;
${QUANT_HELPERS}
@compute @workgroup_size(${NW * 32})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let lane = li % 32u;
  let r0 = (wid.x * ${NW}u + li / 32u) * ${R}u;
  let nb = shape.x / 32u;
${range(R).map((r) => `  let row${r} = min(r0 + ${r}u, shape.y - 1u) * nb * 18u;\n  var a${r} = 0.0;`).join("\n")}
  for (var j = lane; j < nb; j += 32u) {
${range(8).map((i) => `    let x${i} = X[j * 8u + ${i}u];`).join("\n")}
    let xsum = dot(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7, vec4<f32>(1.0));
${range(R).map((r) => `    {
      ${quants(r)}
      let d = unpack2x16float(W[((row${r} + nb * 16u) >> 2u) + (j >> 1u)] >> ((j & 1u) * 16u)).x;
      a${r} += d * (dot(lo_nibbles(q.x), x0) + dot(lo_nibbles(q.y), x1) + dot(lo_nibbles(q.z), x2) + dot(lo_nibbles(q.w), x3)
                  + dot(hi_nibbles(q.x), x4) + dot(hi_nibbles(q.y), x5) + dot(hi_nibbles(q.z), x6) + dot(hi_nibbles(q.w), x7) - 8.0 * xsum);
    }`).join("\n")}
  }
${range(R).map((r) => `  let s${r} = subgroupAdd(a${r});
  if (lane == 0u && r0 + ${r}u < shape.y) { Y[r0 + ${r}u] = s${r}; }`).join("\n")}
}`;
}

// x as the engine's int8 activation row (kernels/activations-q8.mjs): blocks of 32 int8 (scale =
// max |x| / 127, round to nearest), then (scale, scale * sum) per block.
function quantizeQ8(x) {
  const nb = x.length / 32;
  const q = new Int8Array(x.length);
  const d = new Float32Array(nb * 2);
  for (let j = 0; j < nb; j++) {
    const block = x.subarray(j * 32, j * 32 + 32);
    const scale = Math.max(...block.map(Math.abs)) / 127;
    let sum = 0;
    for (let i = 0; i < 32; i++) { q[j * 32 + i] = scale ? Math.round(block[i] / scale) : 0; sum += q[j * 32 + i]; }
    d[j * 2] = scale;
    d[j * 2 + 1] = scale * sum;
  }
  const row = new Uint8Array(x.length + d.byteLength);
  row.set(new Uint8Array(q.buffer));
  row.set(new Uint8Array(d.buffer), x.length);
  return { row, q, d };
}

// What the int8-activation kernel should give, on the CPU: sum over blocks of d * (x scale *
// (q - 8) . xq); `gated`: silu(gate row) * up row, the up rows following the gate rows.
function q8Reference(file, rows, k, { q: xq, d }, gated) {
  const nb = k / 32;
  const f16 = (lo, hi) => { const h = lo | (hi << 8); const e = (h >> 10) & 31; return (h >> 15 ? -1 : 1) * (e ? 2 ** (e - 15) * (1 + (h & 1023) / 1024) : 2 ** -14 * (h & 1023) / 1024); };
  const dots = Float32Array.from({ length: rows }, (_, r) => {
    let acc = 0;
    for (let j = 0; j < nb; j++) {
      const o = (r * nb + j) * 18;
      let dot = 0;
      for (let i = 0; i < 16; i++) {
        dot += ((file[o + 2 + i] & 15) - 8) * xq[j * 32 + i] + ((file[o + 2 + i] >> 4) - 8) * xq[j * 32 + 16 + i];
      }
      acc += f16(file[o], file[o + 1]) * d[j * 2] * dot;
    }
    return acc;
  });
  if (!gated) return dots;
  return dots.subarray(0, rows / 2).map((g, r) => (g / (1 + Math.exp(-g))) * dots[rows / 2 + r]);
}

function buffer(data, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC) {
  const size = typeof data === "number" ? data : data.byteLength;
  const b = device.createBuffer({ size: Math.ceil(size / 16) * 16, usage });
  if (typeof data !== "number") device.queue.writeBuffer(b, 0, data);
  return b;
}
const querySet = device.createQuerySet({ type: "timestamp", count: 2 });
const resolved = buffer(16, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC);
const readback = buffer(16, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);

// Microseconds per dispatch: `reps` dispatches (cycling over the bind groups) in one timed pass.
async function timePass(pipeline, bindGroups, workgroups, reps) {
  const enc = device.createCommandEncoder();
  const pass = enc.beginComputePass({ timestampWrites: { querySet, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
  pass.setPipeline(pipeline);
  for (let i = 0; i < reps; i++) {
    pass.setBindGroup(0, bindGroups[i % bindGroups.length]);
    pass.dispatchWorkgroups(...workgroups);
  }
  pass.end();
  enc.resolveQuerySet(querySet, 0, 2, resolved, 0);
  enc.copyBufferToBuffer(resolved, 0, readback, 0, 16);
  device.queue.submit([enc.finish()]);
  await readback.mapAsync(GPUMapMode.READ);
  const [t0, t1] = new BigUint64Array(readback.getMappedRange().slice(0));
  readback.unmap();
  return Number(t1 - t0) / 1000 / reps;
}

// The H100 idles at a 345 MHz SM clock and raises it only after ~100-300 ms of sustained work:
// a 4096 x 14336 mat-vec measured 45-50 us for passes after a few seconds of idling, 15.3 after
// 400 ms of back-to-back dispatches (bench/GPU_NOTES.md, session 9). This benchmark idles while
// it builds each matrix on the CPU, so every variant first keeps the GPU busy for `ms`, two
// passes always in flight.
async function holdClocksUp(pipeline, bindGroups, workgroups, ms = 500) {
  const started = performance.now();
  let previous = Promise.resolve();
  while (performance.now() - started < ms) {
    const enc = device.createCommandEncoder();
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    for (let i = 0; i < 64; i++) {
      pass.setBindGroup(0, bindGroups[i % bindGroups.length]);
      pass.dispatchWorkgroups(...workgroups);
    }
    pass.end();
    device.queue.submit([enc.finish()]);
    await previous;
    previous = device.queue.onSubmittedWorkDone();
  }
  await previous;
}

async function readFloats(b, n) {
  const r = buffer(n * 4, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
  const enc = device.createCommandEncoder();
  enc.copyBufferToBuffer(b, 0, r, 0, n * 4);
  device.queue.submit([enc.finish()]);
  await r.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(r.getMappedRange().slice(0));
  r.destroy();
  return out;
}

// Random Q4_0 blocks (small positive f16 scales) as in the file, and the same rows row-local.
function q4_0Matrix(rows, k, next) {
  const nb = k / 32;
  const file = new Uint8Array(rows * nb * 18);
  const local = new Uint8Array(file.length);
  for (let r = 0; r < rows; r++) {
    const row = r * nb * 18;
    for (let j = 0; j < nb; j++) {
      const d = 0x2000 + Math.floor(next() * 0x400);
      file[row + j * 18] = local[row + nb * 16 + j * 2] = d & 255;
      file[row + j * 18 + 1] = local[row + nb * 16 + j * 2 + 1] = d >> 8;
      for (let i = 0; i < 16; i++) file[row + j * 18 + 2 + i] = local[row + j * 16 + i] = Math.floor(next() * 256);
    }
  }
  return { file, local };
}

const next = uniformStream(1);
for (const [name, [rows, k]] of Object.entries(SHAPES)) {
  const gated = name === "ffn_gate_up";
  if (gated && !values.q8) continue;
  const outRows = gated ? rows / 2 : rows;
  const { file, local } = q4_0Matrix(rows, k, next);
  const copies = Math.ceil(STREAM_BYTES / file.length);
  const fileCopies = range(copies).map(() => buffer(file));
  const localCopies = values.q8 ? [] : range(copies).map(() => buffer(local));
  const xValues = Float32Array.from({ length: k }, () => next() * 2 - 1);
  const x = buffer(xValues);
  const xq = quantizeQ8(xValues);
  const xq8 = buffer(xq.row);
  const y = buffer(rows * 4);
  const dummy = buffer(16);
  const uniform = (words) => buffer(new Uint32Array(words), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
  const engineShape = uniform([k, outRows, (k / 32) * 18, 0, outRows, 0, 0, 0]);
  const engineStep = uniform([1, 0, 0, 0]);
  const rowLocalShape = uniform([k, rows, 0, 0]);
  let reference = null;
  const expectedQ8 = values.q8 ? q8Reference(file, rows, k, xq, gated) : null;
  const measure = async (variant, code, entriesFor, workgroups, expected = null) => {
    const module = device.createShaderModule({ code });
    const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module, entryPoint: "main" } });
    const bindGroups = range(copies).map((c) => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0),
      entries: Object.entries(entriesFor(c)).map(([binding, b]) => ({ binding: Number(binding), resource: { buffer: b } })) }));
    await holdClocksUp(pipeline, bindGroups, workgroups);
    const times = [];
    for (let i = 0; i < 5; i++) times.push(await timePass(pipeline, bindGroups, workgroups, 48));
    const us = times.sort((a, b) => a - b)[2];
    const out = await readFloats(y, outRows);
    reference ??= out;
    const against = expected ?? reference;
    const maxRelDiff = out.reduce((m, v, i) => Math.max(m, Math.abs(v - against[i]) / (Math.abs(against[i]) + 1e-3)), 0);
    console.log(JSON.stringify({ matrix: name, rows, k, copies, robustness: !values["no-robustness"], variant,
      us: +us.toFixed(1), tbPerS: +(file.length / us / 1e6).toFixed(3), maxRelDiff: +maxRelDiff.toExponential(2) }));
  };
  const engine = (block, q8) => measure(`engine${q8 ? " q8" : ""} r${block.rows}w${block.warps}u${block.unroll}${block.split > 1 ? `s${block.split}` : ""}`,
    matvecWarpWGSL("Q4_0", { ...block, subgroups: true, gated, q8 }),
    (c) => ({ 0: fileCopies[c], 1: q8 ? xq8 : x, 2: y, 3: dummy, 4: dummy, 5: engineShape, 6: engineStep }),
    matvecWarpDispatch(outRows, block), q8 ? expectedQ8 : null);
  const floatBlocks = gated ? [GPU_BLOCKS.matvecGated] : ENGINE_BLOCKS;
  for (const block of floatBlocks) await engine(block, false);
  for (const block of values.q8 ? Q8_BLOCKS : []) {
    if (matvecWarpDispatch(outRows, block)[0] <= 65535) await engine(block, true);
  }
  for (const vec4 of values.sweep || values.q8 ? [] : [false, true]) {
    for (const block of ROW_LOCAL_BLOCKS) {
      await measure(`row-local ${vec4 ? "vec4" : "u32"} r${block.rows}w${block.warps}`, rowLocalWGSL({ ...block, vec4 }),
        (c) => ({ 0: localCopies[c], ...(vec4 ? { 1: localCopies[c] } : {}), 2: x, 3: y, 4: rowLocalShape }),
        [Math.ceil(rows / (block.rows * block.warps)), 1]);
    }
  }
  for (const b of [...fileCopies, ...localCopies, x, xq8, y, dummy, engineShape, engineStep, rowLocalShape]) b.destroy();
}
process.exit(0);
