// The emulated attention of passes of several tokens (kernels/attention.mjs: scoresTokensWGSL,
// ATTENTION_EXPS_WGSL, mixTokensWGSL) on SwiftShader outside the browser, Node + Dawn as
// bench/matvec_emulated_node.mjs: without and with `quads`, and at other blocks (--blocks
// POSITIONSxTOKENS,...: the scores' positions and tokens, the mix's tokens) for a pass of each
// --tokens at each --at position, at SmolLM2-135M's and Qwen2.5-0.5B's head shapes; with
// --tokens 1, the decode's one-token kernels beside them (and their mix without quads).
// Milliseconds per layer for scores, softmax and mix (GPU timestamps, best of several
// alternating rounds) and each variant's largest relative difference from the first's output.
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json LD_LIBRARY_PATH=/usr/lib/chromium \
//     node bench/attention_emulated_node.mjs [--at 64,512,960] [--tokens 64,4] [--blocks 4x2,8x2]
//       [--shapes smollm2,qwen05]
import { parseArgs } from "node:util";
import { create, globals } from "webgpu";
import { mapAfterWork, storageBuffer, uniformBuffer } from "./dawn_buffers.mjs";
import {
  ATTENTION_EXPS_WGSL, SOFTMAX_WG_EMULATED, mixOneWGSL, softmaxWgWGSL, emulatedDecodeScores, attentionDispatch, emulatedTokensBlock, mixTokensWGSL, scoresTokensWGSL,
} from "../site/engine/webgpu/kernels/attention.mjs";

const { values } = parseArgs({ options: { at: { type: "string", default: "64,512,960" }, tokens: { type: "string", default: "64,4" }, rounds: { type: "string", default: "4" }, blocks: { type: "string", default: "" }, shapes: { type: "string", default: "" } } });
Object.assign(globalThis, globals);
const gpu = create(["disable-dawn-features=timestamp_quantization"]);
const adapter = await gpu.requestAdapter();
const device = await adapter.requestDevice({ requiredFeatures: ["timestamp-query", "subgroups"], requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize } });
globalThis.dawnKeepAlive = { gpu, adapter }; // Dawn crashes if these are collected mid-run
const SHAPES = { smollm2: { nHead: 9, nKv: 3, headDim: 64 }, qwen05: { nHead: 14, nKv: 2, headDim: 64 } };
const N_CTX = 1088;
const ceilDiv = (a, b) => Math.ceil(a / b);
const noise = (n, seed) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 12.9898 + seed) * 0.5);

async function pipelineOf(code) {
  return device.createComputePipelineAsync({ layout: "auto", compute: { module: device.createShaderModule({ code }), entryPoint: "main" } });
}

async function timeVariant(shape, n, pos0, kernels, out) {
  const { nHead, nKv, headDim } = shape;
  const buffers = {
    0: storageBuffer(device, noise(n * nHead * headDim, 1)),
    1: storageBuffer(device, noise(N_CTX * nKv * headDim, 2)),
    2: storageBuffer(device, noise(N_CTX * nKv * headDim, 3)),
    3: storageBuffer(device, new Float32Array(n * nHead * N_CTX)),
    4: uniformBuffer(device, new Uint32Array([nHead, nKv, headDim, N_CTX, new Uint32Array(new Float32Array([1 / Math.sqrt(headDim)]).buffer)[0], 0, 0, 0])),
    5: uniformBuffer(device, new Uint32Array([n, pos0, 0, 0])),
    6: out,
  };
  const steps = await Promise.all(kernels.map(async ({ code, dispatch }) => {
    const pipeline = await pipelineOf(code);
    const layout = pipeline.getBindGroupLayout(0);
    const used = Object.keys(buffers).filter((b) => code.includes(`@binding(${b})`));
    return { pipeline, bindGroup: device.createBindGroup({ layout, entries: used.map((b) => ({ binding: Number(b), resource: { buffer: buffers[b] } })) }), dispatch };
  }));
  const stamps = device.createQuerySet({ type: "timestamp", count: 2 * steps.length });
  const resolved = device.createBuffer({ size: 16 * steps.length, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: 16 * steps.length, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  let lastMs = 0;
  return async () => {
    const encoder = device.createCommandEncoder();
    steps.forEach(({ pipeline, bindGroup, dispatch }, i) => {
      const pass = encoder.beginComputePass({ timestampWrites: { querySet: stamps, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, bindGroup);
      pass.dispatchWorkgroups(...dispatch);
      pass.end();
    });
    encoder.resolveQuerySet(stamps, 0, 2 * steps.length, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, read, 0, 16 * steps.length);
    device.queue.submit([encoder.finish()]);
    await mapAfterWork(read, lastMs);
    const t = new BigUint64Array(read.getMappedRange().slice(0));
    read.unmap();
    lastMs = Number(t[2 * steps.length - 1] - t[0]) / 1e6;
    return steps.map((_, i) => Number(t[2 * i + 1] - t[2 * i]) / 1e6);
  };
}

async function readFloats(buffer, bytes) {
  const staging = device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const encoder = device.createCommandEncoder();
  encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
  device.queue.submit([encoder.finish()]);
  await staging.mapAsync(GPUMapMode.READ);
  const data = new Float32Array(staging.getMappedRange().slice(0));
  staging.unmap();
  staging.destroy();
  return data;
}

for (const [shapeName, shape] of Object.entries(SHAPES).filter(([name]) => !values.shapes || values.shapes.split(",").includes(name))) {
  const heads = shape.nHead / shape.nKv;
  const block = emulatedTokensBlock(heads);
  for (const n of values.tokens.split(",").map(Number)) {
    for (const at of values.at.split(",").map(Number)) {
      const pos0 = Math.min(at, N_CTX - n);
      const dispatch = attentionDispatch({ ...shape, nCtx: N_CTX }, n, pos0);
      // The blocked kernels at `blk` as [scores, softmax, mix].
      const blocked = (blk, quads) => {
        const at = attentionDispatch({ ...shape, nCtx: N_CTX }, n, pos0, blk);
        return [{ code: scoresTokensWGSL("f32", heads, blk, quads), dispatch: at.scoresTokens }, { code: ATTENTION_EXPS_WGSL, dispatch: at.exps },
          { code: mixTokensWGSL("f32", heads, blk, quads), dispatch: at.mixTokens }];
      };
      const variants = { tokens: blocked(block, false), quads: blocked(block, true) };
      if (n === 1) {
        const exps = { code: softmaxWgWGSL(SOFTMAX_WG_EMULATED, { normalize: false }), dispatch: dispatch.softmaxWg };
        variants.decode = [{ code: emulatedDecodeScores("f32", heads, true), dispatch: dispatch.scores }, exps, { code: mixOneWGSL("f32", heads, true), dispatch: dispatch.mixOneQuads }];
        variants.decodeNoQuads = [{ code: emulatedDecodeScores("f32", heads, false), dispatch: dispatch.scores }, exps, { code: mixOneWGSL("f32", heads), dispatch: dispatch.mixOne }];
      }
      for (const b of values.blocks ? values.blocks.split(",") : []) {
        const [positions, tokens] = b.split("x").map(Number);
        variants[`quads_${b}`] = blocked({ positions, tokens, mixTokens: tokens }, true);
      }
      const outBytes = n * shape.nHead * shape.headDim * 4;
      const outs = Object.fromEntries(Object.keys(variants).map((v) => [v, storageBuffer(device, new Float32Array(outBytes / 4))]));
      const runs = Object.fromEntries(await Promise.all(Object.entries(variants).map(async ([v, kernels]) => [v, await timeVariant(shape, n, pos0, kernels, outs[v])])));
      const best = Object.fromEntries(Object.keys(runs).map((v) => [v, null]));
      for (let round = 0; round < Number(values.rounds); round++) {
        for (const [v, run] of Object.entries(runs)) {
          const ms = await run();
          best[v] = best[v] ? best[v].map((x, i) => Math.min(x, ms[i])) : ms;
        }
      }
      const [a, ...others] = await Promise.all(Object.values(outs).map((o) => readFloats(o, outBytes)));
      const maxDiff = others.map((b) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]) / (Math.abs(x) + 1e-3)), 0));
      const maxAbs = a.reduce((m, x) => Math.max(m, Math.abs(x)), 0);
      console.log(JSON.stringify({ shape: shapeName, tokens: n, pos0, block, msScoresSoftmaxMix: Object.fromEntries(Object.entries(best).map(([v, ms]) => [v, ms.map((x) => +x.toFixed(3))])),
        total: Object.fromEntries(Object.entries(best).map(([v, ms]) => [v, +ms.reduce((s, x) => s + x, 0).toFixed(3)])), maxDiff, maxAbs }));
    }
  }
}
process.exit(0);
