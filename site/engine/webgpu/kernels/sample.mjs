// Sampling on the GPU, one workgroup per logits row, so a decode step reads back token ids, not
// logits. temperature == 0: argmax (lowest index on ties, like numpy). Otherwise the logits are
// cut to the top_k largest (0 = all), then to the smallest top set holding top_p of the
// probability mass (both thresholds found by bisection on the logit value), and a token is drawn
// with a uniform number in [0, 1) that the host derives from the seed. Workgroup i samples logits
// row `row` + i with u[i] into ids[dest + i]: one row for a decode step, every row of a pass
// that checks drafted tokens (the same code either way, so a row sampled twice with the same u
// gives the same id). `candidates` 1 (greedy rows of a pass that ran the head's shadow,
// kernels/shadow-head.mjs): the argmax over row i's list of candidates, which hold its exact
// logits, unless the list overflowed.

import { treeReduce, minOf, sumOf } from "./reduce.mjs";
import { SHADOW_CAPACITY, SHADOW_LIST_WORDS } from "./shadow-head.mjs";

// Invocations per workgroup. An emulated GPU (SwiftShader) runs a workgroup on one CPU thread,
// subgroup by subgroup, switching between them at every barrier: one subgroup of 4 takes the
// same loads with a fraction of the switching (greedy SmolLM2 step: ~2 ms at 256).
export const SAMPLE_WORKGROUP = Object.freeze({ gpu: 256, emulated: 4 });
// The most rows one dispatch samples (the u array of the parameters).
export const SAMPLE_ROWS = 16;
const ARGMAX_LOADS = 16;
const SCAN_LOADS = 8;
const range = (n) => [...Array(n).keys()];
// The logits l0 .. l{SCAN_LOADS - 1} at i0 + k (a thread's own slice) or i0 + k * N (strided
// over the workgroup), clamped to index `last` (the scans skip those past it).
const scanLoads = (strided, last, pad) =>
  range(SCAN_LOADS).map((k) => `${pad}let l${k} = logit(min(i0 + ${k}u${strided ? " * N" : ""}, ${last}));`).join("\n");

// fn name(tid, v) -> the sum of v over the workgroup, through the workgroup array arr; uniform
// (workgroupUniformLoad), so that the bisections below may stop early.
const sumFunction = (name, arr, type, n) => `fn ${name}(tid: u32, v: ${type}) -> ${type} {${treeReduce(arr, "v", n, sumOf, { index: "tid" })}
  let r = workgroupUniformLoad(&${arr}[0]);
  workgroupBarrier();
  return r;
}`;

export const sampleWGSL = (N = SAMPLE_WORKGROUP.gpu) => /* wgsl */ `
struct Params { n_vocab: u32, top_k: u32, temperature: f32, top_p: f32, row: u32, dest: u32, candidates: u32, pad1: u32,
  u: array<vec4<f32>, ${SAMPLE_ROWS / 4}> }
@group(0) @binding(0) var<storage, read> all_logits: array<f32>;
@group(0) @binding(1) var<storage, read_write> ids: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;
@group(0) @binding(3) var<storage, read> lists: array<u32>;

const N = ${N}u;
var<workgroup> red_f: array<f32, N>;
var<workgroup> red_u: array<u32, N>;
var<workgroup> remainder: f32;
var<workgroup> owner_slot: u32;
var<private> row: u32;

fn logit(i: u32) -> f32 { return all_logits[row * params.n_vocab + i]; }

${sumFunction("sum_f", "red_f", "f32", N)}

${sumFunction("sum_u", "red_u", "u32", N)}

// The bisections below scan the vocabulary 40 times each, the draw once: SCAN_LOADS independent
// loads per iteration (past the end: the last logit, not counted).
fn count_at_least(tid: u32, thr: f32) -> u32 {
  let n = params.n_vocab;
  var c = 0u;
  for (var i0 = tid; i0 < n; i0 += ${SCAN_LOADS}u * N) {
${scanLoads(true, "n - 1u", "    ")}
${range(SCAN_LOADS).map((k) => `    c += select(0u, 1u, i0 + ${k}u * N < n && l${k} >= thr);`).join("\n")}
  }
  return sum_u(tid, c);
}

fn mass_at_least(tid: u32, thr: f32, top: f32) -> f32 {
  let n = params.n_vocab;
  var z = 0.0;
  for (var i0 = tid; i0 < n; i0 += ${SCAN_LOADS}u * N) {
${scanLoads(true, "n - 1u", "    ")}
${range(SCAN_LOADS).map((k) => `    z += select(0.0, exp((l${k} - top) / params.temperature), i0 + ${k}u * N < n && l${k} >= thr);`).join("\n")}
  }
  return sum_f(tid, z);
}

@compute @workgroup_size(${N})
fn main(@builtin(local_invocation_id) lid: vec3<u32>, @builtin(workgroup_id) wid: vec3<u32>) {
  let tid = lid.x;
  row = params.row + wid.x;
  let u = params.u[wid.x / 4u][wid.x % 4u];
  let out = params.dest + wid.x;
  let n = params.n_vocab;
  var best = -3.0e38;
  var best_i = 0xffffffffu;
  var low = 3.0e38;
  let list = row * ${SHADOW_LIST_WORDS}u;
  if (params.candidates == 1u && lists[list] - 1u < ${SHADOW_CAPACITY}u) { // 1 .. capacity listed
    for (var j = tid; j < lists[list]; j += N) {
      let i = lists[list + 1u + j];
      let l = logit(i);
      if (l > best || (l == best && i < best_i)) { best = l; best_i = i; }
    }
  } else {
  // ${ARGMAX_LOADS} independent loads per iteration: the scan is a chain of load latencies, not
  // bandwidth (a thread's indices still rise, so ties keep the first).
  for (var i0 = tid; i0 < n; i0 += ${ARGMAX_LOADS}u * N) {
${range(ARGMAX_LOADS / 4).map((g) => `    let l${g} = vec4<f32>(${range(4).map((k) => `logit(min(i0 + ${4 * g + k}u * N, n - 1u))`).join(", ")});`).join("\n")}
${range(ARGMAX_LOADS / 4).map((g) => `    for (var k = 0u; k < 4u; k++) {
      let i = i0 + (${4 * g}u + k) * N;
      if (i < n && l${g}[k] > best) { best = l${g}[k]; best_i = i; }
    }
    low = min(low, min(min(l${g}.x, l${g}.y), min(l${g}.z, l${g}.w)));`).join("\n")}
  }
  }
  red_f[tid] = best;
  red_u[tid] = best_i;
  workgroupBarrier();
  for (var s = N / 2u; s > 0u; s >>= 1u) {
    if (tid < s) {
      let a = red_f[tid];
      let b = red_f[tid + s];
      if (b > a || (b == a && red_u[tid + s] < red_u[tid])) { red_f[tid] = b; red_u[tid] = red_u[tid + s]; }
    }
    workgroupBarrier();
  }
  let top = workgroupUniformLoad(&red_f[0]);
  let argmax = workgroupUniformLoad(&red_u[0]);
  workgroupBarrier();
  if (params.temperature <= 0.0) {
    if (tid == 0u) { ids[out] = argmax; }
    return;
  }
${treeReduce("red_f", "low", N, minOf, { index: "tid" })}
  var thr = workgroupUniformLoad(&red_f[0]);
  workgroupBarrier();

  if (params.top_k > 0u && params.top_k < n) {
    var lo = thr;
    var hi = top;
    for (var it = 0u; it < 40u; it++) {
      let mid = 0.5 * (lo + hi);
      if (mid <= lo || mid >= hi) { break; } // lo and hi are neighbouring floats
      let c = count_at_least(tid, mid);
      if (c >= params.top_k) { lo = mid; } else { hi = mid; }
      if (c == params.top_k) { break; } // exactly the top_k largest are >= mid
    }
    thr = lo;
  }
  if (params.top_p < 1.0) {
    let want = params.top_p * mass_at_least(tid, thr, top);
    var lo = thr;
    var hi = top;
    for (var it = 0u; it < 40u; it++) {
      let mid = 0.5 * (lo + hi);
      if (mid <= lo || mid >= hi) { break; }
      if (mass_at_least(tid, mid, top) >= want) { lo = mid; } else { hi = mid; }
    }
    thr = lo;
  }

  // Draw: each thread owns a contiguous chunk; a prefix over chunk masses finds the owner.
  let chunk = (n + N - 1u) / N;
  let start = tid * chunk;
  let end = min(start + chunk, n);
  var z = 0.0;
  var last = 0xffffffffu;
  for (var i0 = start; i0 < end; i0 += ${SCAN_LOADS}u) {
${scanLoads(false, "end - 1u", "    ")}
${range(SCAN_LOADS).map((k) => `    if (i0 + ${k}u < end && l${k} >= thr) { z += exp((l${k} - top) / params.temperature); last = i0 + ${k}u; }`).join("\n")}
  }
  red_f[tid] = z;
  red_u[tid] = last;
  workgroupBarrier();
  if (tid == 0u) {
    var total = 0.0;
    for (var i = 0u; i < N; i++) { total += red_f[i]; }
    let goal = u * total;
    var before = 0.0;
    var owner = N;
    var fallback = argmax;
    for (var i = 0u; i < N; i++) {
      if (red_u[i] != 0xffffffffu) { fallback = red_u[i]; }
      if (owner == N && red_f[i] > 0.0 && before + red_f[i] > goal) { owner = i; }
      if (owner == N) { before += red_f[i]; }
    }
    owner_slot = owner;
    remainder = goal - before;
    ids[out] = fallback;
  }
  workgroupBarrier();
  if (tid == owner_slot) {
    let want = remainder;
    var acc = 0.0;
    var pick = last;
    for (var i0 = start; i0 < end; i0 += ${SCAN_LOADS}u) {
${scanLoads(false, "end - 1u", "      ")}
${range(SCAN_LOADS).map((k) => `      if (i0 + ${k}u < end && l${k} >= thr) {
        acc += exp((l${k} - top) / params.temperature);
        if (acc > want) { pick = i0 + ${k}u; break; }
      }`).join("\n")}
    }
    ids[out] = pick;
  }
}`;
