// Speed of our WebGPU engine outside the browser: Node + Dawn (npm `webgpu`), for the GPU machine.
//
//   node bench/engine_node.mjs MODEL.gguf [--prompts 128,1024] [--decode 128] [--runs 3]
//        [--precision auto|f32|f16] [--compare-precision] [--prefill-chunk N] [--context N]
//        [--real-gpu-kernels] (where the GPU is emulated, run the real GPUs' kernels anyway)
//        [--sampling '{"temperature": 0.8, "topK": 40, "topP": 0.95, "seed": 1}'] (default greedy,
//        without prompt lookup's drafts; '{"draft": 7}' allows them)
//        [--activations q8|f32] (the mat-vecs' and mat-mats' input; default q8 where it compiles)
//        [--stable] (Dawn without its unsafe APIs, as Chrome without its experimental flag: no
//        subgroup matrices, so prefill takes the tiled mat-mats)
//        [--profile] (GPU time per kernel of one decode step and of one prefill chunk)
//        [--profile-at 128] (the position of the profiled decode step)
//        [--profile-prompt PROMPTS.json] (profile after the first prompt of a bench/task_prompts.py
//        file, repeated as needed, instead of made-up ids: on those the output head's shadow lists
//        hundreds to over a thousand candidates, past its capacity, where text lists a few)
//        [--tasks PROMPTS.json [--drafts 0,auto]] (decoding the app's real task prompts, made by
//        bench/task_prompts.py, with each cap on prompt lookup's drafts: tok/s, passes, drafted
//        and kept tokens, and whether every setting gave the same tokens; then the time of one
//        pass of 1, 2, 4, 8 and 16 tokens after the first prompt)
//
// Prints one JSON line per measurement and a summary line (the "loaded" line gives the GPU memory
// of the weights and of the working buffers); prefill is timed from the prefill call
// to its completion (all logits of the last position computed), decode as tokens generated per
// second after the first, time to first token as prefill + first generated token.
// --compare-precision checks the f16 path (with the kernel overrides given, if any) against the
// default f32 one (both with the --activations given) on the same model instead: the logits of
// every position of a teacher-forced prompt and 32 greedy tokens (the f32 path is the one the CI
// tests check against the numpy reference; no CI machine has shader-f16).

import { createReadStream, readFileSync, statSync } from "node:fs";
import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { create, globals } from "webgpu";
import { mapAfterWork } from "./dawn_buffers.mjs";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    prompts: { type: "string", default: "128,1024" },
    decode: { type: "string", default: "128" },
    runs: { type: "string", default: "3" },
    dawn: { type: "string", default: "" },
    profile: { type: "boolean", default: false },
    "profile-at": { type: "string", default: "128" },
    "profile-prompt": { type: "string", default: "" },
    matvec: { type: "string", default: "" },
    "prefill-chunk": { type: "string", default: "" },
    context: { type: "string", default: "2048" },
    "real-gpu-kernels": { type: "boolean", default: false },
    sampling: { type: "string", default: "" },
    matmul: { type: "string", default: "" },
    fusions: { type: "string", default: "" },
    precision: { type: "string", default: "auto" },
    activations: { type: "string", default: "" },
    "compare-precision": { type: "boolean", default: false },
    tasks: { type: "string", default: "" },
    drafts: { type: "string", default: "0,auto" },
    stable: { type: "boolean", default: false },
  },
});

Object.assign(globalThis, globals);
// Dawn keeps shader-f16 off on NVIDIA's Vulkan driver unless asked (so does Chrome there).
const dawnFlags = [`enable-dawn-features=${values.stable ? "" : "allow_unsafe_apis,"}vulkan_enable_f16_on_nvidia`, "disable-dawn-features=timestamp_quantization"];
if (values.dawn) dawnFlags.push(...values.dawn.split(" "));
Object.defineProperty(globalThis.navigator, "gpu", { value: create(dawnFlags), configurable: true });

// The model reaches the engine as a streamed fetch from a loopback server, as in the page: Node's
// file-backed Blob (fs.openAsBlob) reports sizes modulo 2^32, which breaks models over 4 GiB.
async function serveFile(path) {
  const server = createServer((req, res) => {
    res.writeHead(200, { "Content-Length": statSync(path).size, "Content-Type": "application/octet-stream" });
    createReadStream(path, { highWaterMark: 8 << 20 }).pipe(res);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/model.gguf`, close: () => server.close() };
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

// Imported only when used: the engine's modules read GPUBufferUsage & co. when they load.
// `overrides`: the kernel shape / fusion options given on the command line, or none.
// --activations applies either way.
async function openEngine(precision, overrides = true) {
  const { createWebGPUEngine } = await import("../site/engine/webgpu/index.mjs");
  const option = (name) => (overrides && values[name] ? JSON.parse(values[name]) : undefined);
  return createWebGPUEngine({
    emulatedGPU: values["real-gpu-kernels"] ? false : undefined, precision, matvecBlock: option("matvec"), matmulBlock: option("matmul"), fusions: option("fusions"),
    prefillChunk: option("prefill-chunk"), activations: values.activations || undefined,
  });
}

async function main() {
  const path = positionals[0];
  if (values["compare-precision"]) return comparePrecision(path);
  const engine = await openEngine(values.precision);
  const adapterInfo = engine.device.adapterInfo ?? {};
  console.log(JSON.stringify({ event: "device", features: [...engine.device.features], subgroupMinSize: adapterInfo.subgroupMinSize, subgroupMaxSize: adapterInfo.subgroupMaxSize, matvec: values.matvec, matmul: values.matmul, fusions: values.fusions }));
  let t0 = performance.now();
  const info = await loadServed(engine, path);
  const loadMs = performance.now() - t0;
  const { matvec, matvecTall, matvecGated } = engine.model.graph.blocks;
  console.log(JSON.stringify({ event: "loaded", path, loadMs, matvec: { matvec, matvecTall, matvecGated }, fused: engine.model.graph.fuse, q8Activations: engine.model.graph.q8, prefillTiles: engine.model.graph.tileChoice, prefillAttention: engine.model.graph.attentionKernel, prefillChunk: engine.model.graph.prefillChunk, gpuBytes: engine.stats().gpuBytes, info, gpu: `${adapterInfo.vendor} ${adapterInfo.device || adapterInfo.architecture}` }));

  if (values.profile) await profile(engine, info);
  if (values.tasks) return taskDecoding(engine, info);
  const promptLengths = values.prompts.split(",").map(Number);
  const nDecode = Number(values.decode);
  const runs = Number(values.runs);
  const ids = (n, salt) => Array.from({ length: n }, (_, i) => (i * 7919 + salt * 104729) % info.nVocab);
  const results = [];
  for (const n of promptLengths) {
    const prefill = [];
    const decode = [];
    const ttft = [];
    for (let r = 0; r <= runs; r++) {
      engine.reset();
      t0 = performance.now();
      await engine.prefill(ids(n, r));
      const prefillMs = performance.now() - t0;
      let firstAt = null;
      // No drafts unless --sampling asks for them: the random synthetic models repeat their
      // greedy tokens, which prompt lookup guesses (an 8B at 581 tok/s instead of 302).
      const out = await engine.generate({
        draft: 0,
        ...(values.sampling ? JSON.parse(values.sampling) : {}),
        maxTokens: nDecode,
        onToken: () => { firstAt ??= performance.now(); },
      });
      const end = performance.now();
      if (r === 0) continue; // warm-up: pipeline compilation, first-use allocations
      prefill.push((n * 1000) / prefillMs);
      ttft.push(firstAt - t0);
      decode.push(((out.tokens.length - 1) * 1000) / (end - firstAt));
    }
    const row = {
      event: "result",
      promptTokens: n,
      prefillTokPerS: median(prefill),
      decodeTokPerS: median(decode),
      timeToFirstTokenMs: median(ttft),
      runs,
    };
    results.push(row);
    console.log(JSON.stringify(row));
  }
  await engine.unload();
  console.log(JSON.stringify({ event: "summary", model: info, loadMs, results }));
  process.exit(0);
}

// Each task prompt decoded (greedy, to its end or --decode tokens) once per draft cap ("auto":
// the engine's own), after one unmeasured run of the first; then passes of n tokens timed as
// prefills that extend the first prompt (the draft pass also writes every row's logits and
// samples them, a little more).
async function taskDecoding(engine, info) {
  const prompts = JSON.parse(readFileSync(values.tasks, "utf8"));
  const drafts = values.drafts.split(",").map((d) => (d === "auto" ? undefined : Number(d)));
  const nDecode = Number(values.decode);
  const decodeOnce = async (prompt, draft) => {
    engine.reset();
    await engine.prefill(prompt.ids);
    let firstAt = null;
    const out = await engine.generate({ maxTokens: nDecode, stopIds: prompt.stopIds, draft, onToken: () => { firstAt ??= performance.now(); } });
    const seconds = (performance.now() - firstAt) / 1000;
    return { tokens: out.tokens, decodeTokPerS: (out.stats.decodeTokens - 1) / seconds, ...out.stats };
  };
  await decodeOnce(prompts[0], drafts[drafts.length - 1]);
  const totals = drafts.map(() => ({ tokens: 0, seconds: 0, passes: 0, drafted: 0, accepted: 0 }));
  for (const prompt of prompts) {
    const runs = [];
    for (const draft of drafts) runs.push(await decodeOnce(prompt, draft));
    const sameTokens = runs.every((r) => r.tokens.join() === runs[0].tokens.join());
    runs.forEach((r, i) => {
      const t = totals[i];
      t.tokens += r.decodeTokens - 1;
      t.seconds += (r.decodeTokens - 1) / r.decodeTokPerS;
      t.passes += r.passes;
      t.drafted += r.draftedTokens;
      t.accepted += r.acceptedTokens;
    });
    console.log(JSON.stringify({ event: "task", document: prompt.document, task: prompt.task, promptTokens: prompt.ids.length, sameTokens,
      runs: runs.map((r, i) => ({ draft: drafts[i] ?? "auto", tokens: r.decodeTokens, decodeTokPerS: r.decodeTokPerS, passes: r.passes,
        drafted: r.draftedTokens, kept: r.acceptedTokens })) }));
  }
  const passMs = {};
  const base = prompts[0].ids;
  for (const n of [1, 2, 4, 8, 16]) {
    const times = [];
    for (let r = 0; r < 5; r++) {
      await engine.prefill(base);
      const t0 = performance.now();
      await engine.prefill([...base, ...Array.from({ length: n }, (_, i) => (i * 7919 + r) % info.nVocab)]);
      times.push(performance.now() - t0);
    }
    passMs[n] = median(times);
  }
  await engine.unload();
  console.log(JSON.stringify({ event: "summary", model: info, decode: totals.map((t, i) => ({ draft: drafts[i] ?? "auto",
    decodeTokPerS: t.tokens / t.seconds, tokensPerPass: (t.tokens + prompts.length) / t.passes, drafted: t.drafted, kept: t.accepted })), passMs }));
  process.exit(0);
}

// GPU time per kernel (timestamp queries around a pass of all its dispatches) and of the whole
// step: where a decode step's time goes (after a 128-token prompt), and where a prefill chunk's
// goes (the second chunk of a prompt, so its attention reads a chunk of cache). Needs
// timestamp-query.
async function profile(engine, info) {
  const { device } = engine;
  if (!device.features.has("timestamp-query")) { console.log(JSON.stringify({ event: "profile", error: "no timestamp-query" })); return; }
  const graph = engine.model.graph;
  const text = values["profile-prompt"] ? JSON.parse(readFileSync(values["profile-prompt"], "utf8"))[0].ids : null;
  const prompt = (n) => Array.from({ length: n }, (_, i) => (text ? text[i % text.length] : (i * 7919) % info.nVocab));
  // Half a second of generation first: the GPU idled while the model loaded, and an H100 raises
  // its clocks only after ~100-300 ms of sustained work (bench/GPU_NOTES.md, session 9).
  for (const started = performance.now(); performance.now() - started < 500;) {
    engine.reset();
    await engine.prefill(prompt(128));
    await engine.generate({ maxTokens: 64 });
  }
  const at = Number(values["profile-at"]);
  engine.reset();
  // A greedy step first, so the profiled one samples as greedy decoding does (from the shadow
  // head's candidates where the head has a shadow).
  await engine.prefill(prompt(at - 1));
  await engine.generate({ maxTokens: 1 });
  graph.writeSampleParams({ temperature: 0, topK: 0, topP: 1, us: [0], row: 0 });
  const decode = await profileSteps(graph, [...graph.head.sample, ...graph.decodeBody, ...(graph.head.argmax ?? graph.head.one)], 1, at);
  console.log(JSON.stringify({ event: "profile", pass: "decode", ...decode }));
  const chunk = graph.prefillChunk;
  engine.reset();
  await engine.prefill(prompt(chunk));
  device.queue.writeBuffer(graph.buf.ids, 0, new Uint32Array(prompt(chunk)));
  const prefill = await profileSteps(graph, graph.body, chunk, chunk);
  console.log(JSON.stringify({ event: "profile", pass: `prefill chunk of ${chunk} at ${chunk}`, ...prefill }));
  engine.reset();
}

async function profileSteps(graph, steps, n, pos) {
  const { device } = graph;
  const names = new Map(Object.entries(graph.pipelines).map(([k, v]) => [v, k]));
  const groups = new Map();
  for (const spec of steps) {
    let name = names.get(spec.pipeline(n)) ?? "?";
    if (spec.label) name += `:${spec.label.replace(/^blk\.\d+\./, "")}`;
    (groups.get(name) ?? groups.set(name, []).get(name)).push(spec);
  }
  // One timed pass per kernel (all its dispatches back to back) and one for the whole step: a
  // pass per dispatch would add a few microseconds of pass overhead to every dispatch.
  const passes = [["whole step", steps], ...groups];
  const nQ = passes.length * 2;
  const qs = device.createQuerySet({ type: "timestamp", count: nQ });
  const resolve = device.createBuffer({ size: nQ * 8, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
  const read = device.createBuffer({ size: nQ * 8, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
  const per = passes.map(() => []);
  let lastMs = 0;
  for (let rep = 0; rep < 7; rep++) {
    graph.writeStep(n, pos);
    const enc = device.createCommandEncoder();
    passes.forEach(([, specs], i) => {
      const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      graph.run(pass, specs, n, pos);
      pass.end();
    });
    enc.resolveQuerySet(qs, 0, nQ, resolve, 0);
    enc.copyBufferToBuffer(resolve, 0, read, 0, nQ * 8);
    device.queue.submit([enc.finish()]);
    await mapAfterWork(read, lastMs);
    const t = new BigInt64Array(read.getMappedRange().slice(0));
    read.unmap();
    passes.forEach((_, i) => per[i].push(Number(t[2 * i + 1] - t[2 * i]) / 1000));
    lastMs = Number(t[nQ - 1] - t[0]) / 1e6;
  }
  const us = per.map(median);
  const byKernel = Object.fromEntries([...groups].map(([name, specs], i) => [name,
    { n: specs.length, us: Math.round(us[i + 1]), usPerDispatch: +(us[i + 1] / specs.length).toFixed(1) }]));
  qs.destroy();
  resolve.destroy();
  read.destroy();
  return { dispatches: steps.length, gpuUs: Math.round(us[0]), gpuUsSumOfKernels: Math.round(us.slice(1).reduce((a, b) => a + b, 0)), byKernel };
}

async function loadServed(engine, path) {
  const served = await serveFile(path);
  try {
    return await engine.load(served.url, { nCtx: Number(values.context) });
  } finally {
    served.close();
  }
}

// Logits of all positions of a 200-token prompt and a greedy continuation, per precision.
async function runPrecision(precision, path) {
  const engine = await openEngine(precision, precision === "f16");
  const info = await loadServed(engine, path);
  const prompt = Array.from({ length: 200 }, (_, i) => (i * 7919 + 13) % info.nVocab);
  const { logits } = await engine.prefill(prompt, { returnLogits: "all" });
  const { tokens } = await engine.generate({ maxTokens: 32 });
  await engine.unload();
  engine.device.destroy();
  return { info, prompt, logits, tokens };
}

async function comparePrecision(path) {
  const probe = await openEngine("auto");
  if (!probe.device.features.has("shader-f16")) {
    console.log(JSON.stringify({ event: "compare-precision", error: "no shader-f16 on this device" }));
    process.exit(1);
  }
  probe.device.destroy();
  const ref = await runPrecision("f32", path);
  const half = await runPrecision("f16", path);
  const { nVocab } = ref.info;
  const T = ref.prompt.length;
  let worst = 0;
  let agree = 0;
  let decided = 0;
  let decidedAgree = 0;
  for (let t = 0; t < T; t++) {
    const a = ref.logits.subarray(t * nVocab, (t + 1) * nVocab);
    const b = half.logits.subarray(t * nVocab, (t + 1) * nVocab);
    let spread = 0;
    let diff = 0;
    for (let v = 0; v < nVocab; v++) {
      spread = Math.max(spread, Math.abs(a[v]));
      diff = Math.max(diff, Math.abs(a[v] - b[v]));
    }
    worst = Math.max(worst, diff / spread);
    const [top, second] = topTwo(a);
    const same = topTwo(b)[0] === top;
    agree += same;
    if (a[top] - a[second] > 0.05 * spread) { decided++; decidedAgree += same; }
  }
  const firstDiff = ref.tokens.findIndex((id, i) => id !== half.tokens[i]);
  console.log(JSON.stringify({
    event: "compare-precision", path, positions: T, maxDiffOverMaxLogit: worst,
    argmaxAgree: agree / T, argmaxAgreeWhereGapOver5Pct: decidedAgree / Math.max(decided, 1), decided,
    greedyIdenticalTokens: firstDiff < 0 ? ref.tokens.length : firstDiff,
  }));
  process.exit(0);
}

function topTwo(row) {
  let top = 0;
  let second = 1;
  if (row[1] > row[0]) { top = 1; second = 0; }
  for (let v = 2; v < row.length; v++) {
    if (row[v] > row[top]) { second = top; top = v; } else if (row[v] > row[second]) second = v;
  }
  return [top, second];
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
