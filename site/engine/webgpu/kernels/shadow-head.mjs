// The output head's Q4_1 shadow, for greedy steps where the GPU is emulated on the CPU.
//
// On SwiftShader the head (vocabulary x width, e.g. SmolLM2's 49152 x 576 in Q8_0) is the
// largest mat-vec of a token, and Q8_0 costs about twice Q4_1 a weight there. A greedy step only
// needs the argmax, so it runs the head in Q4_1 (the shadow: each row requantized once at load,
// shadowQuantizeWGSL), keeps every token whose shadow logit lies within delta of the shadow's
// maximum (shadowCandidatesWGSL) and recomputes those from the real weights
// (shadowRescoreWGSL). The logits row then holds exact values for the candidates and shadow
// values below max - delta elsewhere, so its argmax is the exact head's wherever the exact
// argmax is a candidate and the shadow's error on the shadow's own top row is within delta.
// delta = SHADOW_Z * e * |x|_2 / sqrt(k), with e the largest row error norm |W_shadow - W|_2 of
// the model: SHADOW_Z standard deviations of that row's logit error if its errors were
// independent of x. bench/shadow_head_numpy.py, ~600 positions of 4 real prompts each: the exact
// argmax's shadow logit at most 0.42 delta (SmolLM2-135M, delta 3.5-5.4 logits; 12 candidates
// at the median, 594 at most) and 0.43 delta (Qwen2.5-Coder-0.5B's 151936 x 896 Q8_0 head, delta
// 1.1-2.4; 3 and 22) below the shadow's maximum. More than SHADOW_CAPACITY candidates and the
// rescoring recomputes the whole row.
// tests/engine/reference.py holds the numpy version of the requantization (shadow_q4_1).

import { QUANT_HELPERS, dequantEmitter } from "./quant.mjs";
import { treeReduce, maxOf, sumOf } from "./reduce.mjs";

export const SHADOW_TYPE = "Q4_1";
export const SHADOW_Z = 3;
export const SHADOW_CAPACITY = 1024;
// Words per logits row of the candidate lists: the count, then the candidates' rows.
export const SHADOW_LIST_WORDS = SHADOW_CAPACITY + 1;
const QUANTIZE_WORKGROUP = 64;
// One SwiftShader subgroup: see SAMPLE_WORKGROUP in sample.mjs.
const CANDIDATES_WORKGROUP = 4;
const RESCORE_WORKGROUP = 64;
const range = (n) => [...Array(n).keys()];

// Types whose emulated mat-vec costs more a weight than Q4_1's (bench/matvec_emulated_node.mjs):
// a shadow pays where the head is one of them.
export const SHADOWED_TYPES = Object.freeze(["F32", "F16", "Q8_0", "Q5_0", "Q4_K", "Q5_K", "Q6_K"]);

// One invocation per row of a weight part: each block of 32 dequantized, requantized to Q4_1
// (scale and minimum rounded to f16 first, so the quants fit the stored values) into S, and the
// row's error norm into E.
export function shadowQuantizeWGSL(typeName) {
  const emit = dequantEmitter(typeName);
  const q = (i) => `vec4<u32>(clamp(round((c${i} - dm.y) * inv), vec4<f32>(0.0), vec4<f32>(15.0)))`;
  const err = (i) => `c${i} - (vec4<f32>(q${i}) * dm.x + dm.y)`;
  // Byte b of the quants holds quant b (low nibble) and quant b + 16 (high): word w's bytes are
  // quants 4w .. 4w + 3 (vec4 w) and 16 + 4w .. (vec4 w + 4).
  const word = (w) => {
    const pair = (c) => `(q${w}.${c} | (q${w + 4}.${c} << 4u))`;
    return `${pair("x")} | (${pair("y")} << 8u) | (${pair("z")} << 16u) | (${pair("w")} << 24u)`;
  };
  return /* wgsl */ `
struct Shape { k: u32, rows: u32, row_bytes: u32, pad: u32 }
@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read_write> S: array<u32>;
@group(0) @binding(2) var<storage, read_write> E: array<f32>;
@group(0) @binding(3) var<uniform> shape: Shape;
${QUANT_HELPERS}

@compute @workgroup_size(${QUANTIZE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= shape.rows) { return; }
  let row = r * shape.row_bytes;
  let blocks = shape.k / 32u;
  var err2 = 0.0;
  for (var j = 0u; j < blocks; j++) {
${emit.head("row", "j", "w")}
${range(8).map((i) => `    let c${i} = ${emit.chunk(i, "w")};`).join("\n")}
    let lo4 = min(min(min(c0, c1), min(c2, c3)), min(min(c4, c5), min(c6, c7)));
    let hi4 = max(max(max(c0, c1), max(c2, c3)), max(max(c4, c5), max(c6, c7)));
    let lo = min(min(lo4.x, lo4.y), min(lo4.z, lo4.w));
    let hi = max(max(hi4.x, hi4.y), max(hi4.z, hi4.w));
    let packed = pack2x16float(vec2<f32>((hi - lo) / 15.0, lo));
    let dm = unpack2x16float(packed);
    let inv = select(0.0, 1.0 / dm.x, dm.x > 0.0);
${range(8).map((i) => `    let q${i} = ${q(i)};`).join("\n")}
    let o = (r * blocks + j) * 5u;
    S[o] = packed;
${range(4).map((w) => `    S[o + ${w + 1}u] = ${word(w)};`).join("\n")}
${range(8).map((i) => `    let e${i} = ${err(i)};`).join("\n")}
    err2 += ${range(8).map((i) => `dot(e${i}, e${i})`).join(" + ")};
  }
  E[r] = sqrt(err2);
}`;
}

export function shadowQuantizeDispatch(rows) {
  return [Math.ceil(rows / QUANTIZE_WORKGROUP)];
}

// One workgroup per logits row t: delta from |x_t| (z_e = SHADOW_Z * e / sqrt(k), from the
// host), the row's maximum, then the rows at or above max - delta into list t (count first;
// a count past `capacity` means "rescore every row"). Lists are capacity + 1 words apart.
export const shadowCandidatesWGSL = (capacity = SHADOW_CAPACITY) => /* wgsl */ `
struct Params { n_vocab: u32, k: u32, z_e: f32, pad: u32 }
@group(0) @binding(0) var<storage, read> L: array<f32>;
@group(0) @binding(1) var<storage, read> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> lists: array<u32>;
@group(0) @binding(3) var<uniform> params: Params;

const N = ${CANDIDATES_WORKGROUP}u;
var<workgroup> red: array<f32, N>;
var<workgroup> count: atomic<u32>;

@compute @workgroup_size(${CANDIDATES_WORKGROUP})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let t = wid.x;
  if (li == 0u) { atomicStore(&count, 0u); }
  var s = 0.0;
  for (var i = li; i < params.k; i += N) {
    let v = X[t * params.k + i];
    s += v * v;
  }
${treeReduce("red", "s", CANDIDATES_WORKGROUP, sumOf)}
  let delta = params.z_e * sqrt(red[0]);
  workgroupBarrier();
  let row = t * params.n_vocab;
  var m = -3.4e38;
  for (var i = li; i < params.n_vocab; i += N) { m = max(m, L[row + i]); }
${treeReduce("red", "m", CANDIDATES_WORKGROUP, maxOf)}
  let threshold = red[0] - delta;
  let list = t * ${capacity + 1}u;
  for (var i = li; i < params.n_vocab; i += N) {
    if (L[row + i] >= threshold) {
      let slot = atomicAdd(&count, 1u);
      if (slot < ${capacity}u) { lists[list + 1u + slot] = i; }
    }
  }
  workgroupBarrier();
  if (li == 0u) { lists[list] = atomicLoad(&count); }
}`;

export function shadowCandidatesDispatch(nTokens) {
  return [nTokens];
}

// Invocation (i, t): candidate i of list t, its logit recomputed from the real weights of one
// part (rows row_start .. row_start + rows); past `capacity` candidates, rows i, i + capacity,
// ... of the whole vocabulary.
export function shadowRescoreWGSL(typeName, capacity = SHADOW_CAPACITY) {
  const emit = dequantEmitter(typeName);
  return /* wgsl */ `
struct Shape { k: u32, rows: u32, row_bytes: u32, row_start: u32, n_vocab: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> L: array<f32>;
@group(0) @binding(3) var<storage, read> lists: array<u32>;
@group(0) @binding(4) var<uniform> shape: Shape;
${QUANT_HELPERS}

fn rescore(r: u32, t: u32) {
  if (r < shape.row_start || r >= shape.row_start + shape.rows) { return; }
  let row = (r - shape.row_start) * shape.row_bytes;
  let x0 = t * (shape.k / 4u);
  var acc = 0.0;
  for (var j = 0u; j < shape.k / 32u; j++) {
${emit.head("row", "j", "w")}
    acc += ${range(8).map((i) => `dot(${emit.chunk(i, "w")}, X[x0 + j * 8u + ${i}u])`).join("\n         + ")};
  }
  L[t * shape.n_vocab + r] = acc;
}

@compute @workgroup_size(${RESCORE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  let list = t * ${capacity + 1}u;
  let count = lists[list];
  if (count <= ${capacity}u) {
    if (i < count) { rescore(lists[list + 1u + i], t); }
    return;
  }
  for (var r = i; r < shape.n_vocab; r += ${capacity}u) { rescore(r, t); }
}`;
}

export function shadowRescoreDispatch(nTokens, capacity = SHADOW_CAPACITY) {
  return [Math.ceil(capacity / RESCORE_WORKGROUP), nTokens];
}
