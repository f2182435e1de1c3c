// Causal attention over the KV cache with grouped-query heads, in three parallel passes over a
// scores buffer S[t, h, p] (p < n_ctx), without per-invocation arrays (SwiftShader spills them):
//   scores:  S[t, h, p] = q(t, h) . k(p, h / group) * scale      for p <= pos0 + t
//   softmax: S[t, h, :] = softmax over p <= pos0 + t
//   mix:     O[t, h, 4d..4d+3] = sum_p S[t, h, p] * v(p, h / group)[4d..4d+3]
// One token (decode where not fused): scoresWGSL (real GPUs) or emulatedDecodeScores,
// softmaxWgWGSL, and the workgroup mix or (emulated) mixOneWGSL, which takes the exps undivided
// and divides by their sum. Emulated GPUs' passes of several tokens: scoresTokensWGSL,
// ATTENTION_EXPS_WGSL and mixTokensWGSL, blocked over tokens.
// Real GPUs' prefill takes one tiled pass instead (attentionTiledWGSL, flash attention).

import { treeReduce, subgroupReduce, maxOf, sumOf } from "./reduce.mjs";
import { QUANTIZE_VALUES_FN, blockArguments } from "./activations-q8.mjs";

export const ATTENTION_WORKGROUP = 64;
const BLOCK = 8;
export const SCORES_BLOCK_GPU = 1;
const range = (n) => [...Array(n).keys()];

export const HEADER = /* wgsl */ `
struct Params { n_head: u32, n_kv: u32, head_dim: u32, n_ctx: u32, scale: f32, pad0: u32, pad1: u32, pad2: u32 }
struct Step { n_tokens: u32, pos0: u32, pad0: u32, pad1: u32 }
@group(0) @binding(4) var<uniform> params: Params;
@group(0) @binding(5) var<uniform> step: Step;
fn row_of(t: u32, h: u32) -> u32 { return (t * params.n_head + h) * params.n_ctx; }`;

// The KV cache holds f32, or f16 where the device has shader-f16 (`kvType`; half the memory and
// the bytes read per token). Kernels read it as vec4<f32> through key4 / value4.
export const kvCache = (kvType, { keys = false, values = false }) => /* wgsl */ `${kvType === "f16" ? "enable f16;\n" : ""}
${keys ? `@group(0) @binding(1) var<storage, read> Kc: array<vec4<${kvType}>>;
fn key4(i: u32) -> vec4<f32> { return vec4<f32>(Kc[i]); }` : ""}
${values ? `@group(0) @binding(2) var<storage, read> Vc: array<vec4<${kvType}>>;
fn value4(i: u32) -> vec4<f32> { return vec4<f32>(Vc[i]); }` : ""}`;

// Real GPUs' one-token scores (where attention is not fused): invocation (p, h, t) takes BLOCK
// positions of query head h.
export function scoresWGSL(BLOCK, kvType) {
  return /* wgsl */ `${kvCache(kvType, { keys: true })}${HEADER}
@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;

@compute @workgroup_size(${ATTENTION_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let p0 = gid.x * ${BLOCK}u;
  let h = gid.y;
  let t = gid.z;
  let last = step.pos0 + t;
  if (t >= step.n_tokens || p0 > last) { return; }
  let hd4 = params.head_dim / 4u;
  let q = (t * params.n_head + h) * hd4;
  let stride = params.n_kv * hd4;
  let k = (h / (params.n_head / params.n_kv)) * hd4;
${range(BLOCK).map((b) => `  let k${b} = min(p0 + ${b}u, last) * stride + k;`).join("\n")}
${range(BLOCK).map((b) => `  var s${b} = 0.0;`).join("\n")}
  for (var i = 0u; i < hd4; i++) {
    let qi = Q[q + i];
${range(BLOCK).map((b) => `    s${b} += dot(qi, key4(k${b} + i));`).join("\n")}
  }
  let row = row_of(t, h);
${range(BLOCK).map((b) => `  if (p0 + ${b}u <= last) { S[row + p0 + ${b}u] = s${b} * params.scale; }`).join("\n")}
}`;
}

// Emulated GPUs' decode: scoresTokensWGSL over one token, BLOCK positions an invocation (each
// key loaded once for the kv head's query heads; SwiftShader pays for every load lane by lane),
// in workgroups of 16, 4 SwiftShader SIMD groups, so that short contexts still make several
// workgroups for its threads (SmolLM2 at 128 positions: 6 instead of 3, two threads ran those as
// 2 + 1): 0.138 -> 0.112 ms a layer at 128 positions, 0.339 -> 0.305 at 600, alike at 1,000.
// With quads a SIMD group's lanes load the group's q heads between them (against a kernel that
// loaded them all per lane, best of 12 rounds, ms a layer at 128 / 500 / 1,000 positions:
// SmolLM2 0.121 / 0.282 / 0.528 -> 0.120 / 0.266 / 0.484, Qwen2.5-0.5B's group of 7 0.157 /
// 0.384 / 0.925 -> 0.125 / 0.335 / 0.701).
const SCORES_WORKGROUP_EMULATED = 16;
export const emulatedDecodeScores = (kvType, heads, quads) => scoresTokensWGSL(kvType, heads, { positions: BLOCK, tokens: 1 }, quads, SCORES_WORKGROUP_EMULATED);

// Emulated GPUs' prefill and few-token passes: scores and mix blocked over `tokens` tokens as
// well as over positions or output vec4s and all `heads` query heads of a kv head, so that each
// load of a key, a value or a probability serves many products (SwiftShader pays for every load
// lane by lane; one token at a time, each key was loaded once per token of a chunk).
// Per invocation: scores for 4 positions x `tokens` tokens x the group's heads, at most ~48 sums;
// the mix's `mixTokens` tokens x heads output vec4s, at most ~8 (more spill: SmolLM2's group of 3
// at 2 tokens against 4, Qwen2.5-0.5B's of 7 at 1 against 2, bench/attention_emulated_node.mjs).
export const emulatedTokensBlock = (heads) => ({
  positions: 4,
  tokens: Math.max(1, Math.min(8, Math.floor(48 / (4 * heads)))),
  mixTokens: Math.max(1, Math.floor(8 / heads)),
});

// Invocation (positions p0.., kv head g, tokens t0..): every score of those positions, tokens and
// g's query heads; positions past the block's last token's are read clamped, and each score is
// stored only where its token sees its position. `quads` (subgroups of exactly 4, as in
// kernels/matmul.mjs): the four invocations of a subgroup need the same q, so each loads a
// quarter of it and takes the rest from its neighbours.
export function scoresTokensWGSL(kvType, heads, { positions: PB, tokens: TB }, quads = false, workgroup = ATTENTION_WORKGROUP) {
  const triples = range(TB).flatMap((t) => range(heads).flatMap((r) => range(PB).map((b) => [t, r, b])));
  const s = (t, r, b) => `s${t}_${r}_${b}`;
  const qs = range(TB).flatMap((t) => range(heads).map((r) => [t, r]));
  const slots = range(Math.ceil(qs.length / 4));
  // Entry e of qs: (t, r) = (e / heads, e % heads); with quads lane l loads entries l, l + 4, ...
  const qIndex = (t, r) => `(min(t0 + ${t}, step.n_tokens - 1u) * params.n_head + h0 + ${r}) * hd4`;
  const qStarts = quads
    ? slots.map((k) => `  let qe${k} = min(${4 * k}u + lane, ${qs.length - 1}u);
  let qi${k} = ${qIndex(`qe${k} / ${heads}u`, `qe${k} % ${heads}u`)};`).join("\n")
    : qs.map(([t, r]) => `  let q${t}_${r} = ${qIndex(`${t}u`, `${r}u`)};`).join("\n");
  const qOf = (e) => (quads ? `subgroupBroadcast(ql${e >> 2}, ${e & 3}u)` : `Q[q${qs[e][0]}_${qs[e][1]} + i]`);
  return /* wgsl */ `${quads ? "enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n" : ""}${kvCache(kvType, { keys: true })}${HEADER}
@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3<u32>${quads ? ", @builtin(subgroup_invocation_id) lane: u32" : ""}) {
  let p0 = gid.x * ${PB}u;
  let g = gid.y;
  let t0 = gid.z * ${TB}u;
  if (t0 >= step.n_tokens) { return; }
  let last = step.pos0 + min(t0 + ${TB}u, step.n_tokens) - 1u;
  if (${quads ? "subgroupAll(p0 > last)" : "p0 > last"}) { return; }
  let hd4 = params.head_dim / 4u;
  let stride = params.n_kv * hd4;
  let h0 = g * ${heads}u;
${range(PB).map((b) => `  let k${b} = min(p0 + ${b}u, last) * stride + g * hd4;`).join("\n")}
${qStarts}
${triples.map((x) => `  var ${s(...x)} = 0.0;`).join("\n")}
  for (var i = 0u; i < hd4; i++) {
${range(PB).map((b) => `    let kb${b} = key4(k${b} + i);`).join("\n")}
${quads ? slots.map((k) => `    let ql${k} = Q[qi${k} + i];`).join("\n") : ""}
${qs.map(([t, r], e) => `    { let q = ${qOf(e)};${range(PB).map((b) => ` ${s(t, r, b)} += dot(q, kb${b});`).join("")} }`).join("\n")}
  }
${range(TB).map((t) => `  if (t0 + ${t}u < step.n_tokens) {
${range(heads).map((r) => `    let row${t}_${r} = row_of(t0 + ${t}u, h0 + ${r}u);`).join("\n")}
${range(PB).map((b) => `    if (p0 + ${b}u <= step.pos0 + t0 + ${t}u) {${range(heads).map((r) => ` S[row${t}_${r} + p0 + ${b}u] = ${s(t, r, b)} * params.scale;`).join("")} }`).join("\n")}
  }`).join("\n")}
}`;
}

// Invocation (kv head g's output vec4 d, tokens t0..): that vec4 of every query head of g for
// each token, each value loaded once for them all. Positions every token of the block sees run
// unmasked; the few past the first token's last are masked per token. `quads`: a subgroup's four
// invocations (neighbouring vec4s of one kv head: head_dim a multiple of 16) need the same
// probabilities, so four positions at a time each loads one position's and takes the others'
// from its neighbours.
export function mixTokensWGSL(kvType, heads, { mixTokens: TB }, quads = false) {
  const pairs = range(TB).flatMap((t) => range(heads).map((r) => [t, r]));
  const products = (masked) => pairs.map(([t, r]) => `    { let e = ${masked ? `select(0.0, S[row${t}_${r} + p], p <= step.pos0 + t0 + ${t}u)` : `S[row${t}_${r} + p]`}; acc${t}_${r} += e * v; z${t}_${r} += e; }`).join("\n");
  const quadLoop = `  var p = 0u;
  for (; p + 3u <= seen; p += 4u) {
${pairs.map(([t, r]) => `    let s${t}_${r} = S[row${t}_${r} + p + lane];`).join("\n")}
${range(4).map((u) => `    {
      let v = value4((p + ${u}u) * stride + vd);
${pairs.map(([t, r]) => `      { let e = subgroupBroadcast(s${t}_${r}, ${u}u); acc${t}_${r} += e * v; z${t}_${r} += e; }`).join("\n")}
    }`).join("\n")}
  }
  for (; p <= seen; p++) {`;
  return /* wgsl */ `${quads ? "enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n" : ""}${mixBindings(kvType)}

@compute @workgroup_size(${MIX_ONE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>${quads ? ", @builtin(subgroup_invocation_id) lane: u32" : ""}) {
  let hd4 = params.head_dim / 4u;
  let g = gid.x / hd4;
  let d = gid.x % hd4;
  let t0 = gid.y * ${TB}u;
  if (g >= params.n_kv || t0 >= step.n_tokens) { return; }
  let stride = params.n_kv * hd4;
  let h0 = g * ${heads}u;
  let vd = g * hd4 + d;
${pairs.map(([t, r]) => `  let row${t}_${r} = row_of(min(t0 + ${t}u, step.n_tokens - 1u), h0 + ${r}u);
  var acc${t}_${r} = vec4<f32>(0.0);
  var z${t}_${r} = 0.0;`).join("\n")}
  let seen = step.pos0 + t0;
  let last = step.pos0 + min(t0 + ${TB}u, step.n_tokens) - 1u;
${quads ? quadLoop : "  for (var p = 0u; p <= seen; p++) {"}
    let v = value4(p * stride + vd);
${products(false)}
  }
  for (var p = seen + 1u; p <= last; p++) {
    let v = value4(p * stride + vd);
${products(true)}
  }
${pairs.map(([t, r]) => `  if (t0 + ${t}u < step.n_tokens) { O[((t0 + ${t}u) * params.n_head + h0 + ${r}u) * hd4 + d] = acc${t}_${r} / z${t}_${r}; }`).join("\n")}
}`;
}

// The tiles of real GPUs' prefill attention (attentionTiledWGSL): TILE tokens x TILE positions,
// staged TILE_DIMS of the head at a time in rows padded to TILE_DIMS / 4 + 1 vec4s, so that the
// eight rows read at once fall in different banks. (The scores kernel above, one position per
// invocation, re-read q and the key from global memory for every score: 63 of the 191 ms of an
// 8B prefill chunk of 512 tokens at 512 on an H100, bench/GPU_NOTES.md session 8.)
const TILE = 32;
const TILE_DIMS = 32; // per staging step; TILE_DIMS / 4 = TILE / MICRO, so tx also indexes a step's vec4s
const TILE_ROW = TILE_DIMS / 4 + 1;
const MICRO = 4;
const TILE_INVOCATIONS = (TILE / MICRO) ** 2;
// The entry of a one-pass prefill attention (this tiled one and attention-subgroup-matrix.mjs):
// workgroup (1, head h, `tokens` tokens from t0), the last position those tokens see, the head's
// kv offset in a cache row.
export const prefillAttentionEntry = (invocations, tokens) => /* wgsl */ `@compute @workgroup_size(${invocations})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = wid.y;
  let t0 = wid.z * ${tokens}u;
  let last = step.pos0 + min(t0 + ${tokens}u, step.n_tokens) - 1u;
  let hd4 = params.head_dim / 4u;
  let stride = params.n_kv * hd4;
  let kv = (h / (params.n_head / params.n_kv)) * hd4;`;

const S_ROW = TILE + 1; // probabilities' rows, padded

// Prefill attention on real GPUs in one pass (flash attention): a workgroup of 8 x 8 takes TILE
// tokens of one head and walks the positions TILE at a time, up to the last the tokens see. Per
// position tile: the scores, 4 x 4 per invocation (tokens ty + 8a, positions tx + 8b), from q
// and keys staged in workgroup memory TILE_DIMS at a time in rows padded by one vec4, masked past
// each token's own position; each token's running maximum m (the tile's maxima meet in `red`);
// probabilities exp(s - m) into `ptile`; the output, 4 tokens x one vec4 per TILE_DIMS of the
// head per invocation (vec4 tx of each step), rescaled by exp(m_old - m) and summed against the
// values, staged in the keys' tile. Each invocation keeps the running sum of its own positions'
// probabilities, rescaled alike; a token's sum is met once, at the end. No scores buffer: the
// memory that grew with chunk x context is gone (H100: as fast as the three tiled passes it
// replaced, 43.7 against 45.4 ms for an 8B chunk of 1024 at 1024). The head size is fixed at
// generation (the output's registers), and with it `steps` = ceil(head_dim / TILE_DIMS).
export function attentionTiledWGSL(headDim, kvType) {
  const C = TILE_DIMS / 4;
  const steps = Math.ceil(headDim / TILE_DIMS);
  const loads = (TILE * C) / TILE_INVOCATIONS;
  const rows = range(MICRO);
  const pairs = rows.flatMap((a) => range(MICRO).map((b) => [a, b]));
  const outs = rows.flatMap((a) => range(steps).map((c) => [a, c]));
  const rowOf = (a) => `ty + ${(a * TILE) / MICRO}u`;
  const colOf = (b) => `tx + ${(b * TILE) / MICRO}u`;
  return /* wgsl */ `${kvCache(kvType, { keys: true, values: true })}${HEADER}
@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> O: array<vec4<f32>>;
var<workgroup> qtile: array<vec4<f32>, ${TILE * TILE_ROW}>;
// Keys of a dims step, then values of a dims step (position p, vec4 j at p * ${C} + j).
var<workgroup> kvtile: array<vec4<f32>, ${TILE * TILE_ROW}>;
var<workgroup> ptile: array<f32, ${TILE * S_ROW}>;
// Row r's partial maxima (then sums) of the 8 invocations tx at r * 8 + tx.
var<workgroup> red: array<f32, ${TILE * (TILE / MICRO)}>;

${prefillAttentionEntry(TILE_INVOCATIONS, TILE)}
  // The invocation's column tx and row ty of the 8 x 8.
  let tx = li % ${TILE / MICRO}u;
  let ty = li / ${TILE / MICRO}u;
${range(loads).map((j) => `  let q${j} = (min(t0 + ty + ${(j * TILE_INVOCATIONS) / C}u, step.n_tokens - 1u) * params.n_head + h) * hd4;`).join("\n")}
${rows.map((a) => `  let tok${a} = t0 + ${rowOf(a)};
  var m${a} = -3.0e38;
  var l${a} = 0.0;`).join("\n")}
${outs.map(([a, c]) => `  var o${a}_${c} = vec4<f32>(0.0);`).join("\n")}
  for (var p0 = 0u; p0 <= last; p0 += ${TILE}u) {
${pairs.map(([a, b]) => `    var s${a}_${b} = 0.0;`).join("\n")}
    for (var c = 0u; c < hd4; c += ${C}u) {
      let col = c + tx;
      let inside = col < hd4;
      let i = min(col, hd4 - 1u);
${range(loads).map((j) => `      qtile[(ty + ${(j * TILE_INVOCATIONS) / C}u) * ${TILE_ROW}u + tx] = select(vec4<f32>(0.0), Q[q${j} + i], inside);
      kvtile[(ty + ${(j * TILE_INVOCATIONS) / C}u) * ${TILE_ROW}u + tx] = select(vec4<f32>(0.0), key4(min(p0 + ty + ${(j * TILE_INVOCATIONS) / C}u, last) * stride + kv + i), inside);`).join("\n")}
      workgroupBarrier();
      for (var d = 0u; d < ${C}u; d++) {
${rows.map((a) => `        let qa${a} = qtile[(${rowOf(a)}) * ${TILE_ROW}u + d];`).join("\n")}
${range(MICRO).map((b) => `        let kb${b} = kvtile[(${colOf(b)}) * ${TILE_ROW}u + d];`).join("\n")}
${pairs.map(([a, b]) => `        s${a}_${b} += dot(qa${a}, kb${b});`).join("\n")}
      }
      workgroupBarrier();
    }
    // Scaled, masked past each token's own position; the tile's row maxima.
${pairs.map(([a, b]) => `    s${a}_${b} = select(-3.0e38, s${a}_${b} * params.scale, p0 + ${colOf(b)} <= step.pos0 + tok${a});`).join("\n")}
${rows.map((a) => `    red[(${rowOf(a)}) * ${TILE / MICRO}u + tx] = max(max(s${a}_0, s${a}_1), max(s${a}_2, s${a}_3));`).join("\n")}
    workgroupBarrier();
${rows.map((a) => `    var tm${a} = m${a};
    for (var x = 0u; x < ${TILE / MICRO}u; x++) { tm${a} = max(tm${a}, red[(${rowOf(a)}) * ${TILE / MICRO}u + x]); }
    let keep${a} = exp(m${a} - tm${a});
    m${a} = tm${a};`).join("\n")}
${pairs.map(([a, b]) => `    let e${a}_${b} = exp(s${a}_${b} - m${a});
    ptile[(${rowOf(a)}) * ${S_ROW}u + ${colOf(b)}] = e${a}_${b};`).join("\n")}
${rows.map((a) => `    l${a} = l${a} * keep${a} + e${a}_0 + e${a}_1 + e${a}_2 + e${a}_3;`).join("\n")}
${outs.map(([a, c]) => `    o${a}_${c} *= keep${a};`).join("\n")}
${range(steps).map((c) => `    {
${range(loads).map((j) => `      { let e = li + ${j * TILE_INVOCATIONS}u; let vj = ${c * C}u + e % ${C}u;
        kvtile[e] = select(vec4<f32>(0.0), value4(min(p0 + e / ${C}u, last) * stride + kv + min(vj, hd4 - 1u)), vj < hd4); }`).join("\n")}
      workgroupBarrier();
      for (var p = 0u; p < ${TILE}u; p++) {
        let v = kvtile[p * ${C}u + tx];
${rows.map((a) => `        o${a}_${c} += ptile[(${rowOf(a)}) * ${S_ROW}u + p] * v;`).join("\n")}
      }
      workgroupBarrier();
    }`).join("\n")}
  }
  // Each row's sum over its 8 invocations' columns.
${rows.map((a) => `  red[(${rowOf(a)}) * ${TILE / MICRO}u + tx] = l${a};`).join("\n")}
  workgroupBarrier();
${rows.map((a) => `  var z${a} = 0.0;
  for (var x = 0u; x < ${TILE / MICRO}u; x++) { z${a} += red[(${rowOf(a)}) * ${TILE / MICRO}u + x]; }`).join("\n")}
${outs.map(([a, c]) => `  if (tok${a} < step.n_tokens && ${c * C}u + tx < hd4) { O[(tok${a} * params.n_head + h) * hd4 + ${c * C}u + tx] = o${a}_${c} / z${a}; }`).join("\n")}
}`;
}

// The query heads that share a kv head: an emulated scores or one-token mix invocation takes them all.
export const groupSize = ({ nHead, nKv }) => nHead / nKv;

// Emulated GPUs' passes of several tokens: exp(s - max) per (t, h) without the division, which
// mixTokensWGSL applies once per output (its loads of S give it the sum for free): one pass
// over S less (a load and a store per score).
export const ATTENTION_EXPS_WGSL = /* wgsl */ `${HEADER}
@group(0) @binding(3) var<storage, read_write> S: array<f32>;

@compute @workgroup_size(${ATTENTION_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let h = gid.x;
  let t = gid.y;
  if (h >= params.n_head || t >= step.n_tokens) { return; }
  let row = row_of(t, h);
  let n = step.pos0 + t + 1u;
  var m = -3.0e38;
  for (var p = 0u; p < n; p++) { m = max(m, S[row + p]); }
  for (var p = 0u; p < n; p++) { S[row + p] = exp(S[row + p] - m); }
}`;

// What every mix kernel binds: the value cache, the probabilities S, the output O.
const mixBindings = (kvType) => /* wgsl */ `${kvCache(kvType, { values: true })}${HEADER}
@group(0) @binding(3) var<storage, read> S: array<f32>;
@group(0) @binding(6) var<storage, read_write> O: array<vec4<f32>>;`;

// The mix of one token (decode where the GPU is emulated): an invocation takes MIX_ONE_VEC4S
// neighbouring vec4s of the output of all the `heads` query heads of kv head g, so each value is
// loaded once for them and each probability once for all its vec4s (at 1,000 positions, SmolLM2's
// shape, per layer: one vec4 per invocation and 4 positions per iteration 670-716 us, four vec4s
// 567-582; bench/GPU_NOTES.md sessions 6-7). Small workgroups, as the invocations are few and
// SwiftShader runs a workgroup on one thread. Vec4s past the head's end are read clamped and not
// stored.
const MIX_ONE_WORKGROUP = 4;
const MIX_ONE_VEC4S = 4;

// With `quads` (subgroups of exactly 4, kernels/matmul.mjs) a workgroup is one SwiftShader SIMD
// group: its four invocations take every fourth position of one output slot and add their sums
// by subgroupAdd, so that the slots' work spreads over SwiftShader's threads in 4x the
// workgroups (SmolLM2: 12 instead of 3, which two threads ran as 2 + 1).
// S holds exp(score - max) per head (softmaxWgWGSL without its normalizing pass): the mix sums
// the values it loads and divides once at the end, instead of a pass that divides every score.
export function mixOneWGSL(kvType, heads, quads = false) {
  const slots = range(MIX_ONE_VEC4S);
  const rows = range(heads);
  const sum = (acc) => (quads ? `subgroupAdd(${acc})` : acc);
  return /* wgsl */ `${quads ? "enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n" : ""}${mixBindings(kvType)}

@compute @workgroup_size(${MIX_ONE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>${quads ? ", @builtin(workgroup_id) wid: vec3<u32>, @builtin(subgroup_invocation_id) lane: u32" : ""}) {
  let hd4 = params.head_dim / 4u;
  let per_head = (hd4 + ${MIX_ONE_VEC4S - 1}u) / ${MIX_ONE_VEC4S}u;
  let slot = ${quads ? "wid.x" : "gid.x"};
  let g = slot / per_head;
  let d = (slot % per_head) * ${MIX_ONE_VEC4S}u;
  if (g >= params.n_kv) { return; }
  let stride = params.n_kv * hd4;
${slots.map((e) => `  let v${e} = g * hd4 + min(d + ${e}u, hd4 - 1u);`).join("\n")}
  let h0 = g * ${heads}u;
${rows.map((r) => `  let row${r} = row_of(0u, h0 + ${r}u);
  var z${r} = 0.0;
${slots.map((e) => `  var acc${r}_${e} = vec4<f32>(0.0);`).join("\n")}`).join("\n")}
  for (var p = ${quads ? "lane" : "0u"}; p <= step.pos0; p += ${quads ? 4 : 1}u) {
${slots.map((e) => `    let x${e} = value4(p * stride + v${e});`).join("\n")}
${rows.map((r) => `    { let s = S[row${r} + p]; z${r} += s;${slots.map((e) => ` acc${r}_${e} += s * x${e};`).join("")} }`).join("\n")}
  }
${rows.map((r) => `  let inv${r} = 1.0 / ${sum(`z${r}`)};`).join("\n")}
${rows.flatMap((r) => slots.map((e) => `  let o${r}_${e} = ${sum(`acc${r}_${e}`)} * inv${r};`)).join("\n")}
${quads ? "  if (lane != 0u) { return; }\n" : ""}${rows.flatMap((r) => slots.map((e) => `  if (d + ${e}u < hd4) { O[(h0 + ${r}u) * hd4 + d + ${e}u] = o${r}_${e}; }`)).join("\n")}
}`;
}

// Softmax in one workgroup per (h, t), tree reductions in workgroup memory (the one-invocation
// version above runs each row serially): of SOFTMAX_WG on real GPUs; on emulated ones the decode
// takes SOFTMAX_WG_EMULATED, one SwiftShader SIMD group per head, so that the heads spread over
// its threads (at 1,024 positions 13-15 -> 10 ms a token in Node, bench/GPU_NOTES.md session
// 15); their prefill keeps one invocation per (h, t), as those are many. Without `normalize`,
// S keeps exp(score - max) for the one-token mix, which divides by the sum itself (one load and
// store a score less: at 1,000 positions 0.28 -> 0.21 ms a layer).
export const SOFTMAX_WG = 256;
export const SOFTMAX_WG_EMULATED = 4;
export const softmaxWgWGSL = (wg, { normalize = true } = {}) => /* wgsl */ `${HEADER}
@group(0) @binding(3) var<storage, read_write> S: array<f32>;
var<workgroup> red: array<f32, ${wg}>;

@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = wid.x;
  let t = wid.y;
  if (h >= params.n_head || t >= step.n_tokens) { return; }
  let row = row_of(t, h);
  let n = step.pos0 + t + 1u;
  var m = -3.0e38;
  for (var p = li; p < n; p += ${wg}u) { m = max(m, S[row + p]); }${treeReduce("red", "m", wg, maxOf)}
  m = red[0];${normalize ? `
  workgroupBarrier();
  var z = 0.0;
  for (var p = li; p < n; p += ${wg}u) { let e = exp(S[row + p] - m); S[row + p] = e; z += e; }${treeReduce("red", "z", wg, sumOf)}
  let inv = 1.0 / red[0];
  for (var p = li; p < n; p += ${wg}u) { S[row + p] *= inv; }` : `
  for (var p = li; p < n; p += ${wg}u) { S[row + p] = exp(S[row + p] - m); }`}
}`;

// Mix for real GPUs: one workgroup of MIX_WG per (h, t); its invocations split the positions
// into MIX_WG / hd4 slices (hd4 = head_dim / 4, a power of two <= MIX_WG) and sum the slices
// in workgroup memory (the version above runs all positions of a (h, t, d) serially).
export const MIX_WG = 256;
export const mixWgFits = (headDim) => headDim % 4 === 0 && MIX_WG % (headDim / 4) === 0;
export function attentionMixWgWGSL(headDim, kvType) {
  const HD4 = headDim / 4;
  const SL = MIX_WG / HD4;
  return /* wgsl */ `${mixBindings(kvType)}
var<workgroup> red: array<vec4<f32>, ${MIX_WG}>;

@compute @workgroup_size(${MIX_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let h = wid.x;
  let t = wid.y;
  if (h >= params.n_head || t >= step.n_tokens) { return; }
  let d = li % ${HD4}u;
  let v = (h / (params.n_head / params.n_kv)) * ${HD4}u + d;
  let stride = params.n_kv * ${HD4}u;
  let row = row_of(t, h);
  let last = step.pos0 + t;
  var acc = vec4<f32>(0.0);
  for (var p = li / ${HD4}u; p <= last; p += ${SL}u) { acc += S[row + p] * value4(p * stride + v); }${treeReduce("red", "acc", MIX_WG, sumOf, { stride: HD4 })}
  if (li < ${HD4}u) { O[(t * params.n_head + h) * ${HD4}u + li] = red[li]; }
}`;
}

// Decode attention on real GPUs (one token, so no dependent scores / softmax / mix passes): one
// workgroup of MIX_WG per (head, split of `split` positions). Scores go to S (positions
// strided over the invocations, q staged in workgroup memory), max and sum by reductions,
// then the mix as in attentionMixWgWGSL; storageBarrier makes every invocation's S writes visible
// to the mix. A context of one split writes O at once; longer ones (more workgroups in flight)
// leave each split's max, sum and unnormalized output in P for attentionCombineWGSL.
// (A subgroup version, one coalesced key read per position by head_dim / 4 lanes summed with
// shuffles, was slower on an H100 at 1024 positions: bench/GPU_NOTES.md.)
// On an H100 splits of 256 made the 8B shape (head_dim 128) decode 1.3-1.4x faster at 1-2k
// positions, and SmolLM2 (head_dim 64) slower (its heads are cheap; the combine pass is not):
// decodeSplit picks.
export const decodeSplit = ({ headDim, nCtx }) => (headDim >= 128 ? 256 : nCtx);
// `q8` (both decode kernels): the output also as int8 activations into Q8 (binding 8;
// activations-q8.mjs) for the o projection, without a pass of its own: the head's values are
// staged in workgroup memory `from` and its head_dim / 32 blocks rounded by as many invocations.
const Q8_OUTPUT = /* wgsl */ `
@group(0) @binding(8) var<storage, read_write> Q8: array<u32>;
${QUANTIZE_VALUES_FN}`;
const quantizeHead = (hd4, from, index) => /* wgsl */ `
  workgroupBarrier();
  if (${index} < ${hd4 / 8}u) {
    quantize_values(h * ${hd4 / 8}u + ${index}, params.n_head * ${hd4 / 8}u, ${blockArguments((i) => `${from}[${index} * 8u + ${i}u]`)});
  }`;
export const attentionQ8Fits = (headDim) => headDim % 32 === 0;

const partials = (split) => /* wgsl */ `
@group(0) @binding(7) var<storage, read_write> P: array<vec4<f32>>;
fn n_splits() -> u32 { return step.pos0 / ${split}u + 1u; }
// Split s of head h: P[at] = (max, sum, -, -), then head_dim / 4 vec4 of the output.
fn partial_at(h: u32, s: u32, hd4: u32) -> u32 {
  return (h * ((params.n_ctx + ${split - 1}u) / ${split}u) + s) * (hd4 + 1u);
}`;

// `subgroups`: the max and the sum by subgroup operations (two barriers each instead of nine).
// The slices of the mix are summed flat: one barrier, then each of the first head_dim / 4
// invocations adds its column.
export function attentionDecodeWGSL(headDim, split, kvType, { subgroups = false, q8 = false } = {}) {
  const HD4 = headDim / 4;
  const SL = MIX_WG / HD4;
  const reduce = (value, op, combine, result) => (subgroups
    ? subgroupReduce("red", value, MIX_WG, op, combine, result)
    : `${treeReduce("red", value, MIX_WG, combine)}
  let ${result} = red[0];
  workgroupBarrier();`);
  return /* wgsl */ `${subgroups ? "enable subgroups;\n" : ""}${kvCache(kvType, { keys: true, values: true })}${HEADER}
@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> S: array<f32>;
@group(0) @binding(6) var<storage, read_write> O: array<vec4<f32>>;
${partials(split)}${q8 ? Q8_OUTPUT : ""}
var<workgroup> qs: array<vec4<f32>, ${HD4}>;
var<workgroup> red: array<f32, ${MIX_WG}>;
var<workgroup> redv: array<vec4<f32>, ${MIX_WG}>;

@compute @workgroup_size(${MIX_WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32${subgroups ? `,
        @builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) ssz: u32` : ""}) {
  let h = wid.x;
  if (wid.y >= n_splits()) { return; }
  let kv = (h / (params.n_head / params.n_kv)) * ${HD4}u;
  let stride = params.n_kv * ${HD4}u;
  let row = row_of(0u, h);
  let first = wid.y * ${split}u;
  let last = min(first + ${split - 1}u, step.pos0);
  if (li < ${HD4}u) { qs[li] = Q[h * ${HD4}u + li]; }
  workgroupBarrier();
  var mine = -3.0e38;
  for (var p = first + li; p <= last; p += ${MIX_WG}u) {
    var s = 0.0;
    for (var i = 0u; i < ${HD4}u; i++) { s += dot(qs[i], key4(p * stride + kv + i)); }
    s *= params.scale;
    S[row + p] = s;
    mine = max(mine, s);
  }${reduce("mine", "subgroupMax", maxOf, "m")}
  var mySum = 0.0;
  for (var p = first + li; p <= last; p += ${MIX_WG}u) { let e = exp(S[row + p] - m); S[row + p] = e; mySum += e; }
  storageBarrier();${reduce("mySum", "subgroupAdd", sumOf, "z")}
  let d = li % ${HD4}u;
  // Four positions per iteration in separate sums: loads in flight instead of one chain.
${range(4).map((u) => `  var acc${u} = vec4<f32>(0.0);`).join("\n")}
  var p = first + li / ${HD4}u;
  for (; p + ${3 * SL}u <= last; p += ${4 * SL}u) {
${range(4).map((u) => `    acc${u} += S[row + p + ${u * SL}u] * value4((p + ${u * SL}u) * stride + kv + d);`).join("\n")}
  }
  for (; p <= last; p += ${SL}u) { acc0 += S[row + p] * value4(p * stride + kv + d); }
  redv[li] = (acc0 + acc1) + (acc2 + acc3);
  workgroupBarrier();
  var o = vec4<f32>(0.0);
  if (li < ${HD4}u) { o = ${range(SL).map((s) => `redv[li + ${s * HD4}u]`).join(" + ")}; }
  if (n_splits() == 1u) {
    if (li < ${HD4}u) {
      O[h * ${HD4}u + li] = o / z;${q8 ? `
      redv[li] = o / z;` : ""}
    }${q8 ? quantizeHead(HD4, "redv", "li") : ""}
    return;
  }
  if (li >= ${HD4}u) { return; }
  let at = partial_at(h, wid.y, ${HD4}u);
  if (li == 0u) { P[at] = vec4<f32>(m, z, 0.0, 0.0); }
  P[at + 1u + li] = o;
}`;
}

// The splits of each head's decode attention merged: O = sum_s exp(m_s - M) o_s / sum_s exp(m_s - M) z_s.
export function attentionCombineWGSL(headDim, split, { q8 = false } = {}) {
  const HD4 = headDim / 4;
  return /* wgsl */ `${HEADER}
@group(0) @binding(6) var<storage, read_write> O: array<vec4<f32>>;
${partials(split)}${q8 ? `${Q8_OUTPUT}
var<workgroup> out: array<vec4<f32>, ${HD4}>;` : ""}

@compute @workgroup_size(${HD4})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) d: u32) {
  let h = wid.x;
  var top = -3.0e38;
  for (var s = 0u; s < n_splits(); s++) { top = max(top, P[partial_at(h, s, ${HD4}u)].x); }
  var z = 0.0;
  var o = vec4<f32>(0.0);
  for (var s = 0u; s < n_splits(); s++) {
    let at = partial_at(h, s, ${HD4}u);
    let w = exp(P[at].x - top);
    z += w * P[at].y;
    o += w * P[at + 1u + d];
  }
  O[h * ${HD4}u + d] = o / z;${q8 ? `
  out[d] = o / z;${quantizeHead(HD4, "out", "d")}` : ""}
}`;
}

// `block`: the emulated several-token kernels' (benchmarks try others).
export function attentionDispatch({ nHead, nKv, headDim, nCtx }, nTokens, pos0, block = emulatedTokensBlock(nHead / nKv)) {
  const split = decodeSplit({ headDim, nCtx });
  return {
    scores: [Math.ceil((pos0 + nTokens) / BLOCK / SCORES_WORKGROUP_EMULATED), nKv, nTokens],
    softmaxWg: [nHead, nTokens],
    scoresGpu: [Math.ceil((pos0 + nTokens) / SCORES_BLOCK_GPU / ATTENTION_WORKGROUP), nHead, nTokens],
    mixWg: [nHead, nTokens],
    decode: [nHead, Math.floor(pos0 / split) + 1],
    combine: [pos0 >= split ? nHead : 0],
    mixOne: [Math.ceil((nKv * Math.ceil(headDim / 4 / MIX_ONE_VEC4S)) / MIX_ONE_WORKGROUP), 1],
    mixOneQuads: [nKv * Math.ceil(headDim / 4 / MIX_ONE_VEC4S), 1],
    tiled: [1, nHead, Math.ceil(nTokens / TILE)],
    scoresTokens: [Math.ceil((pos0 + nTokens) / block.positions / ATTENTION_WORKGROUP), nKv, Math.ceil(nTokens / block.tokens)],
    exps: [Math.ceil(nHead / ATTENTION_WORKGROUP), nTokens],
    mixTokens: [Math.ceil((nKv * headDim) / 4 / MIX_ONE_WORKGROUP), Math.ceil(nTokens / block.mixTokens)],
  };
}
