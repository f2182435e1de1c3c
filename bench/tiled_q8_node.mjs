// The int8-activation prefill mat-mat (kernels/matmul-tiled-q8.mjs) against the float one it
// would replace on GPUs without subgroup matrices (kernels/matmul-tiled.mjs) and against the
// CI-tested matmulWGSL (f32, the reference): relative error and GPU time (wall time of 20
// dispatches in one submit, best of 3 rounds, after a warm-up), per weight type and shape.
//   node bench/tiled_q8_node.mjs [--chunk N] [--types Q4_0,Q4_K] [--blocks '[{...}, ...]'] [--dawn FLAGS]
// --chunk N: the Llama-3-8B shapes (FFN gate 14336 x 4096, down 4096 x 14336, q 4096 x 4096) at
// N tokens; else small ragged shapes (rows, tokens and blocks that are no multiple of the tiles).
// --blocks: the int8 tile shapes to try (default: TILED_Q8_BLOCK alone).
// --dawn: Dawn flags, space-separated (e.g. enable-dawn-features=polyfill_packed_4x8_dot_product:
// dot4I8Packed as Tint writes it for devices without an int8 dot product instruction).
// X holds values that int8 rows represent exactly, so both kernels must match the reference to
// float rounding: exit code 1 if a case's relErr exceeds 1e-4.
import { parseArgs } from "node:util";
import { create, globals } from "webgpu";
import { storageBuffer, uniformBuffer } from "./dawn_buffers.mjs";
import { matmulWGSL, matmulDispatch } from "../site/engine/webgpu/kernels/matmul.mjs";
import { prefillMatmulWGSL, prefillMatmulDispatch, TILED_BLOCKS, TILED_TALL_BLOCKS } from "../site/engine/webgpu/kernels/matmul-tiled.mjs";
import { TILED_Q8_BLOCK } from "../site/engine/webgpu/kernels/matmul-tiled-q8.mjs";
import { QUANTIZE_Q8_WGSL, QUANTIZE_WORKGROUP, q8RowBytes } from "../site/engine/webgpu/kernels/activations-q8.mjs";
import { TENSOR_TYPES, rowBytes } from "../site/engine/webgpu/tensor-types.mjs";

const { values } = parseArgs({ options: { chunk: { type: "string" }, blocks: { type: "string" }, types: { type: "string", default: "Q4_0,Q4_1,Q5_0,Q8_0,Q4_K,Q5_K,Q6_K" }, dawn: { type: "string", default: "" } } });
Object.assign(globalThis, globals);
const gpu = create(values.dawn ? values.dawn.split(" ") : []);
const adapter = await gpu.requestAdapter({ powerPreference: "high-performance" });
const limits = { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize,
  maxComputeWorkgroupStorageSize: adapter.limits.maxComputeWorkgroupStorageSize };
const device = await adapter.requestDevice({ requiredLimits: limits });
globalThis.dawnKeepAlive = { gpu, adapter };
const typeByName = new Map([...TENSOR_TYPES.values()].map((t) => [t.name, t]));
const print = (o) => console.log(JSON.stringify(o));
print({ event: "device", gpu: `${adapter.info?.vendor} ${adapter.info?.architecture} ${adapter.info?.description}`.trim() });

const chunk = Number(values.chunk) || 0;
const blocks = values.blocks ? JSON.parse(values.blocks).map((b) => ({ ...b, q8: true })) : [TILED_Q8_BLOCK];
const SHAPES = chunk
  ? [[14336, 4096], [4096, 14336], [4096, 4096]].map(([rows, k]) => ({ rows, k, tokens: chunk }))
  : [{ rows: 70, k: 512, tokens: 37 }, { rows: 130, k: 576, tokens: 150 }, { rows: 64, k: 768, tokens: 64 }];

const storage = (data) => storageBuffer(device, data);
const uniform = (words) => uniformBuffer(device, words);
const pipelineFor = (code) => device.createComputePipelineAsync({ layout: "auto", compute: { module: device.createShaderModule({ code }), entryPoint: "main" } });
const bind = (pipeline, buffers) => device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })).filter((e) => e.resource.buffer) });

async function run(pipeline, bindGroup, size, repeats) {
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  for (let i = 0; i < repeats; i++) pass.dispatchWorkgroups(...size);
  pass.end();
  const t0 = performance.now();
  device.queue.submit([encoder.finish()]);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) / repeats;
}
async function timed(pipeline, bindGroup, size) {
  await run(pipeline, bindGroup, size, 2);
  let best = Infinity;
  for (let round = 0; round < 3; round++) best = Math.min(best, await run(pipeline, bindGroup, size, 20));
  return best * 1000;
}
async function read(buffer, floats) {
  const staging = device.createBuffer({ size: floats * 4, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, floats * 4);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const out = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return out;
}

let failures = 0;
const quantize = await pipelineFor(QUANTIZE_Q8_WGSL);
for (const typeName of values.types.split(",")) {
  const type = typeByName.get(typeName);
  for (const { rows, k: k0, tokens } of SHAPES) {
    const k = Math.ceil(k0 / type.blockSize) * type.blockSize;
    const bytesPerRow = rowBytes(type, k);
    // Bytes below 0x3c keep every f16 scale finite and small.
    const weights = Uint8Array.from({ length: rows * bytesPerRow }, (_, i) => ((i * 2654435761) >>> 24) % 0x3c);
    // x that int8 holds exactly (multiples of 2^-6 up to 127 of them, a block's largest 127),
    // so that the int8 kernel must match the float reference to float rounding.
    const xs = Float32Array.from({ length: tokens * k }, (_, i) => (i % 32 === 0 ? 127 : ((i * 7919) % 255) - 127) / 64);
    const W = storage(weights);
    const X = storage(xs);
    const XQ = storage(new Uint8Array(tokens * q8RowBytes(k)));
    const Y = storage(new Float32Array(tokens * rows));
    const dummy = storage(new Float32Array(4));
    const shape = uniform(new Uint32Array([k, rows, bytesPerRow, 0, rows, 0, 0, 0]));
    const step = uniform(new Uint32Array([tokens, 0, 0, 0]));
    const entries = (x) => [W, x, Y, dummy, dummy, shape, step];
    const q = bind(quantize, [X, XQ, uniform(new Uint32Array([k, 0, 0, 0]))]);
    const quantizeSize = [Math.ceil(k / 32 / QUANTIZE_WORKGROUP), tokens];
    await run(quantize, q, quantizeSize, 1);

    const refBlock = { rows: 4, tokens: 8, workgroup: 64 };
    const ref = await pipelineFor(matmulWGSL(typeName, refBlock));
    await run(ref, bind(ref, entries(X)), matmulDispatch(rows, tokens, refBlock), 1);
    const yRef = await read(Y, tokens * rows);
    const scale = yRef.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const relErr = async () => (await read(Y, tokens * rows)).reduce((m, v, i) => Math.max(m, Math.abs(v - yRef[i])), 0) / scale;

    const floatBlock = rows >= 4096 ? TILED_TALL_BLOCKS[0] : TILED_BLOCKS[0];
    const floatPipeline = await pipelineFor(prefillMatmulWGSL(typeName, floatBlock));
    const floatBind = bind(floatPipeline, entries(X));
    const floatUs = await timed(floatPipeline, floatBind, prefillMatmulDispatch(rows, tokens, floatBlock));
    const floatErr = await relErr();

    const quantizeUs = await timed(quantize, q, quantizeSize);
    for (const block of blocks) {
      const q8Pipeline = await pipelineFor(prefillMatmulWGSL(typeName, block));
      const q8Us = await timed(q8Pipeline, bind(q8Pipeline, entries(XQ)), prefillMatmulDispatch(rows, tokens, block));
      const q8Err = await relErr();
      const ok = q8Err <= 1e-4 && floatErr <= 1e-4;
      if (!ok) failures++;
      const tflops = (us) => +((2 * rows * k * tokens) / (us * 1e6)).toFixed(2);
      print({ event: "case", type: typeName, rows, k, tokens, block, floatUs: +floatUs.toFixed(1), q8Us: +q8Us.toFixed(1), quantizeUs: +quantizeUs.toFixed(1),
        speedup: +(floatUs / (q8Us + quantizeUs)).toFixed(2), floatTflops: tflops(floatUs), q8Tflops: tflops(q8Us), floatRelErr: floatErr, q8RelErr: q8Err, ok });
    }
    for (const b of [W, X, XQ, Y, dummy]) b.destroy();
  }
}
print({ event: "summary", ok: failures === 0, failures });
process.exit(failures ? 1 : 0);
