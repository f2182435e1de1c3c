// The emulated decode mat-vec (kernels/matmul.mjs, EMULATED_BLOCKS) on SwiftShader outside the
// browser: Node + Dawn (npm `webgpu`) over the SwiftShader Vulkan driver that Debian's Chromium
// ships. Nanoseconds per weight (GPU timestamps) for each tensor type at the SmolLM2-135M shapes
// (those whose rows are whole blocks; --rows: rows per invocation to try), best of several
// rounds: this machine's other work moves single runs by 10-40%. Weights are random bytes
// (scales kept finite), x constant.
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium \
//     node bench/matvec_emulated_node.mjs [--types Q4_1,Q8_0] [--rows 4,8] [--quads false,true]
//       [--tokens 1,4] [--workgroups 8,16] [--shapes ffn_gate,attn_q]
// (Node 22 for navigator; the GPU machine's .gpu/node.xz and .gpu/webgpu serve, as in
// bench/gpu_machine.sh.)
import { parseArgs } from "node:util";
import { create, globals } from "webgpu";
import { mapAfterWork, storageBuffer, uniformBuffer } from "./dawn_buffers.mjs";
import { EMULATED_BLOCKS, matmulDispatch, matmulWGSL, matvecBlockFor } from "../site/engine/webgpu/kernels/matmul.mjs";
import { TENSOR_TYPES, rowBytes } from "../site/engine/webgpu/tensor-types.mjs";

const { values } = parseArgs({ options: { types: { type: "string", default: "Q4_1,Q8_0,Q4_0,Q5_0,Q4_K,Q6_K" }, rows: { type: "string", default: "" }, quads: { type: "string", default: "false" }, tokens: { type: "string", default: "1" }, workgroups: { type: "string", default: "" }, shapes: { type: "string", default: "" } } });
Object.assign(globalThis, globals);
const gpu = create(["disable-dawn-features=timestamp_quantization"]);
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice({ requiredFeatures: ["timestamp-query", "subgroups"], requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } });
globalThis.dawnKeepAlive = { gpu, adapter }; // Dawn crashes if these are collected mid-run
const typeByName = new Map([...TENSOR_TYPES.values()].map((t) => [t.name, t]));
const ALL_SHAPES = { ffn_gate: [1536, 576], ffn_down: [576, 1536], output: [49152, 576], attn_q: [576, 576], attn_kv: [192, 576], qwen_ffn_down: [896, 4864] };
const SHAPES = values.shapes ? Object.fromEntries(values.shapes.split(",").map((name) => [name, ALL_SHAPES[name]])) : ALL_SHAPES;
const ROUNDS = 5;

const storage = (data) => storageBuffer(device, data);
const uniform = (words) => uniformBuffer(device, words);

async function timeKernel(typeName, [rows, k], block) {
  const bytesPerRow = rowBytes(typeByName.get(typeName), k);
  // Bytes below 0x40 keep every f16 scale finite and small.
  const weights = Uint8Array.from({ length: rows * bytesPerRow }, (_, i) => ((i * 2654435761) >>> 24) & 0x3b);
  const buffers = [storage(weights), storage(new Float32Array(k * block.tokens).fill(0.01)), storage(new Float32Array(rows * block.tokens)),
    storage(new Float32Array(4)), storage(new Float32Array(4)),
    uniform(new Uint32Array([k, rows, bytesPerRow, 0, rows, 0, 0, block.tokens])), uniform(new Uint32Array([block.tokens, 0, 0, 0]))];
  const pipeline = await device.createComputePipelineAsync({ layout: "auto", compute: { module: device.createShaderModule({ code: matmulWGSL(typeName, block) }), entryPoint: "main" } });
  const bindGroup = device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: buffers.map((buffer, binding) => ({ binding, resource: { buffer } })) });
  const reps = Math.max(1, Math.round(3e7 / (rows * k)));
  let best = Infinity;
  const stamps = device.createQuerySet({ type: "timestamp", count: 2 });
  const resolved = device.createBuffer({ size: 16, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  let lastMs = 0;
  for (let round = 0; round <= ROUNDS; round++) {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass({ timestampWrites: { querySet: stamps, beginningOfPassWriteIndex: 0, endOfPassWriteIndex: 1 } });
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    for (let r = 0; r < reps; r++) pass.dispatchWorkgroups(...matmulDispatch(rows, block.tokens, block));
    pass.end();
    encoder.resolveQuerySet(stamps, 0, 2, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, read, 0, 16);
    device.queue.submit([encoder.finish()]);
    await mapAfterWork(read, lastMs);
    const [begin, end] = new BigUint64Array(read.getMappedRange());
    read.unmap();
    const ms = Number(end - begin) / 1e6;
    lastMs = ms;
    if (round > 0) best = Math.min(best, ms / reps);
  }
  [...buffers, stamps, resolved, read].forEach((b) => b.destroy());
  return best;
}

// The engine's shape for each type (matvecBlockFor) unless --rows sets the rows.
const rowsPerInvocation = values.rows ? values.rows.split(",").map(Number) : [null];
const workgroups = values.workgroups ? values.workgroups.split(",").map(Number) : [null];
for (const typeName of values.types.split(",")) {
  for (const [shapeName, shape] of Object.entries(SHAPES)) {
    if (shape[1] % typeByName.get(typeName).blockSize) continue; // K-quants: rows of 256s only
    for (const rows of rowsPerInvocation) for (const tokens of values.tokens.split(",").map(Number)) for (const quads of values.quads.split(",").map((b) => b === "true")) for (const workgroup of workgroups) {
      const shapeBlock = { ...EMULATED_BLOCKS.matvec, tokens, quads, workgroup: workgroup ?? EMULATED_BLOCKS.matvec.workgroup };
      const block = rows ? { ...shapeBlock, rows } : matvecBlockFor(typeName, shapeBlock);
      const ms = await timeKernel(typeName, shape, block);
      console.log(JSON.stringify({ type: typeName, shape: shapeName, rows: shape[0], k: shape[1], block, ms: +ms.toFixed(3), nsPerWeight: +((ms * 1e6) / (shape[0] * shape[1])).toFixed(3) }));
    }
  }
}
process.exit(0);
