// Prefill attention on tensor cores, through subgroup matrices (the device feature and WGSL
// extension of kernels/matmul-subgroup-matrix.mjs, with the same assumptions: subgroups of 32,
// 16 x 16 x 16 f16 -> f32 fragments). Same bindings, uniforms and result as attentionTiledWGSL
// (kernels/attention.mjs), which runs where this one cannot (no feature, the f32 path, a head
// size other than 32, 64, 128, 256 or 512, too little workgroup memory, or a compiler that refuses it).
//
// A workgroup of 4 subgroups takes QUERIES (64) tokens of one head, 16 per subgroup, and walks
// the positions KEYS (32) at a time, up to the last one its tokens see, twice:
//   1. the scores S = q k^T (16 x 32 per subgroup: head_dim / 16 x 2 products) through a staging
//      area in workgroup memory, where each lane keeps the largest unmasked score of 16 positions
//      of one token; the two lanes of a token meet at the end: its maximum M;
//   2. the scores again, P = exp(S * scale - M) (0 where masked) as f16, each lane summing its
//      share, and O += P v on the tensor cores (16 x head_dim per subgroup, head_dim / 16
//      result fragments held for the whole walk).
// Knowing M before the second walk means O never needs rescaling, which fragments cannot do row
// by row; the price is q k^T twice, on tensor cores the cheap part. At the end O / Z goes out
// through the staging area, two fragments at a time.
//
// Workgroup memory (f16 unless said; strides in elements, as subgroupMatrixLoad counts them):
//   kvq     first q, head-dimension-major (q(t, d) at d * Q_STRIDE + t), read once into left
//           fragments (16 tokens x 16 dims, column-major: a column is one dimension); then, each
//           step, the keys position-major (k(p, d) at p * (head_dim + 8) + d: a right fragment,
//           16 dims x 16 positions, is column-major with a column per position) followed by the
//           values head-dimension-major (v(p, d) at d * V_STRIDE + p: a right fragment of 16
//           positions x 16 dims, a column per dimension).
//   scores  f32, 16 x 32 per subgroup, column-major (s(t, p) at p * 16 + t): lane l reads token
//           l % 16, positions 16 * (l / 16) ..; 16 neighbouring lanes read 16 neighbouring floats.
//   probs   P, 16 x 32 per subgroup, column-major like the scores: a left fragment (16 tokens x
//           16 positions) is 16 of its columns.
// The paddings make each tile's stride an odd multiple of 16 bytes, so the 8 rows a fragment
// load reads at once fall in different banks.
// Precision: q, k, v and P are f16 (k and v already are in the f16 KV cache), the products
// summed in f32; the tiled kernel keeps q and P in f32.

import { HEADER, kvCache, prefillAttentionEntry } from "./attention.mjs";
import { FRAG, SUBGROUP, LEFT, RIGHT, RESULT, matrixOps } from "./matmul-subgroup-matrix.mjs";

const QUERIES = 64;
const KEYS = 32;
const SUBGROUPS = QUERIES / FRAG;
const INVOCATIONS = SUBGROUPS * SUBGROUP;
const Q_STRIDE = QUERIES + 8;
const V_STRIDE = KEYS + 8;
const STAGE = FRAG * KEYS; // a subgroup's share of the scores and of the probabilities
const range = (n) => [...Array(n).keys()];

const layoutOf = (headDim) => {
  const kStride = headDim + 8;
  const kvFloats = KEYS * kStride + headDim * V_STRIDE;
  return { kStride, kvq: Math.max(headDim * Q_STRIDE, kvFloats), vBase: KEYS * kStride };
};

// Whether the kernel applies to a head size (the output goes out 32 dimensions at a time, and the
// invocations split a head's vec4s evenly: 32, 64, 128, 256 or 512), and its workgroup memory
// in bytes.
export const attentionSubgroupMatrixFits = (headDim) => headDim % (2 * FRAG) === 0 && (4 * INVOCATIONS) % headDim === 0;
export function attentionSubgroupMatrixBytes(headDim) {
  return 2 * layoutOf(headDim).kvq + 4 * SUBGROUPS * STAGE + 2 * SUBGROUPS * STAGE;
}

export const attentionSubgroupMatrixDispatch = ({ nHead }, nTokens) => [1, nHead, Math.ceil(nTokens / QUERIES)];

export function attentionSubgroupMatrixWGSL(headDim, kvType, spelling = "template") {
  if (!attentionSubgroupMatrixFits(headDim)) throw new Error(`attentionSubgroupMatrixWGSL: no layout for a head size of ${headDim}`);
  const ops = matrixOps(spelling);
  const L = layoutOf(headDim);
  const F = headDim / FRAG; // fragments along the head
  const C = headDim / 4; // vec4s of a head
  const qLoads = (QUERIES * C) / INVOCATIONS;
  const kvLoads = (KEYS * C) / INVOCATIONS;
  // Keys (or values) of positions p0 .. p0 + KEYS: fetch(p0) reads them into registers during
  // the previous step's products, store() writes them to kvq; positions past `last` repeat it.
  // Keys: neighbouring invocations take neighbouring vec4s of a position; values:
  // neighbouring positions of a vec4, so that their 2-byte stores hit neighbouring halves.
  const tile = (name, read, keys) => ({
    setup: range(kvLoads).map((i) => `  let ${name}p${i} = ${keys ? `${i * INVOCATIONS / C}u + li / ${C}u` : `li % ${KEYS}u`};
  let ${name}c${i} = ${keys ? `li % ${C}u` : `${i * INVOCATIONS / KEYS}u + li / ${KEYS}u`};
  var ${name}${i}: vec4<f16>;`).join("\n"),
    fetch: (p0) => range(kvLoads).map((i) => `    ${name}${i} = vec4<f16>(${read}(min(${p0} + ${name}p${i}, last) * stride + kv + ${name}c${i}));`).join("\n"),
    store: range(kvLoads).map((i) => (keys
      ? `    { let o = ${name}p${i} * ${L.kStride}u + 4u * ${name}c${i};
      kvq[o] = ${name}${i}.x; kvq[o + 1u] = ${name}${i}.y; kvq[o + 2u] = ${name}${i}.z; kvq[o + 3u] = ${name}${i}.w; }`
      : `    { let o = ${L.vBase}u + 4u * ${name}c${i} * ${V_STRIDE}u + ${name}p${i};
      kvq[o] = ${name}${i}.x; kvq[o + ${V_STRIDE}u] = ${name}${i}.y; kvq[o + ${2 * V_STRIDE}u] = ${name}${i}.z; kvq[o + ${3 * V_STRIDE}u] = ${name}${i}.w; }`)).join("\n"),
  });
  const keys = tile("kn", "key4", true);
  const values = tile("vn", "value4", false);
  // This subgroup's 16 x 32 scores into its staging area.
  const scores = `    var s0 = ${RESULT}();
    var s1 = ${RESULT}();
${range(F).map((d) => `    s0 = subgroupMatrixMultiplyAccumulate(q${d}, ${ops.load(RIGHT, "kvq", `${d * FRAG}u`, `${L.kStride}u`)}, s0);
    s1 = subgroupMatrixMultiplyAccumulate(q${d}, ${ops.load(RIGHT, "kvq", `${FRAG * L.kStride + d * FRAG}u`, `${L.kStride}u`)}, s1);`).join("\n")}
    ${ops.store("scores", "stage", "s0", `${FRAG}u`)}
    ${ops.store("scores", "stage + 256u", "s1", `${FRAG}u`)}`;
  // Lane l's 16 scores (token l % 16, positions p0 + half .. + 16), scaled; `seen` is false
  // past the token's own position.
  const eachScore = (body) => `    for (var j = 0u; j < 16u; j++) {
      let p = half + j;
      let seen = p0 + p <= see;
      let s = scores[stage + p * ${FRAG}u + row] * params.scale;
${body}
    }`;
  return /* wgsl */ `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
${kvCache(kvType, { keys: true, values: true }).replace("enable f16;\n", "")}${HEADER}
@group(0) @binding(0) var<storage, read> Q: array<vec4<f32>>;
@group(0) @binding(6) var<storage, read_write> O: array<vec4<f32>>;

// ${attentionSubgroupMatrixBytes(headDim)} bytes of workgroup memory.
var<workgroup> kvq: array<f16, ${L.kvq}>;
var<workgroup> scores: array<f32, ${SUBGROUPS * STAGE}>;
var<workgroup> probs: array<f16, ${SUBGROUPS * STAGE}>;

${prefillAttentionEntry(INVOCATIONS, QUERIES)}
  let sg = li / ${SUBGROUP}u;
  let lane = li % ${SUBGROUP}u;
  let stage = sg * ${STAGE}u;
  // This lane's token (of the subgroup's 16), the last position it sees, its half of a step.
  let row = lane % ${FRAG}u;
  let tok = t0 + sg * ${FRAG}u + row;
  let see = step.pos0 + tok;
  let half = (lane / ${FRAG}u) * 16u;
${range(qLoads).map((i) => `  { let e = li + ${i * INVOCATIONS}u; let t = e % ${QUERIES}u; let c = e / ${QUERIES}u;
    let q = vec4<f16>(Q[(min(t0 + t, step.n_tokens - 1u) * params.n_head + h) * hd4 + c]);
    let o = 4u * c * ${Q_STRIDE}u + t;
    kvq[o] = q.x; kvq[o + ${Q_STRIDE}u] = q.y; kvq[o + ${2 * Q_STRIDE}u] = q.z; kvq[o + ${3 * Q_STRIDE}u] = q.w; }`).join("\n")}
  workgroupBarrier();
${range(F).map((d) => `  let q${d} = ${ops.load(LEFT, "kvq", `${d * FRAG * Q_STRIDE}u + sg * ${FRAG}u`, `${Q_STRIDE}u`)};`).join("\n")}
${keys.setup}
${values.setup}
  var m = -3.0e38;
${keys.fetch("0u")}
  for (var p0 = 0u; p0 <= last; p0 += ${KEYS}u) {
    workgroupBarrier();
${keys.store}
    workgroupBarrier();
${keys.fetch(`(p0 + ${KEYS}u)`)}
${scores}
    workgroupBarrier();
${eachScore("      m = select(m, max(m, s), seen);")}
  }
  m = max(m, subgroupShuffleXor(m, 16u));
${range(F).map((n) => `  var o${n} = ${RESULT}();`).join("\n")}
  var z = 0.0;
${keys.fetch("0u")}
${values.fetch("0u")}
  for (var p0 = 0u; p0 <= last; p0 += ${KEYS}u) {
    workgroupBarrier();
${keys.store}
${values.store}
    workgroupBarrier();
${keys.fetch(`(p0 + ${KEYS}u)`)}
${values.fetch(`(p0 + ${KEYS}u)`)}
${scores}
    workgroupBarrier();
${eachScore(`      let e = select(0.0, exp(s - m), seen);
      z += e;
      probs[stage + p * ${FRAG}u + row] = f16(e);`)}
    workgroupBarrier();
${range(2).map((k) => `    {
      let pk = ${ops.load(LEFT, "probs", `stage + ${k * 256}u`, `${FRAG}u`)};
${range(F).map((n) => `      o${n} = subgroupMatrixMultiplyAccumulate(pk, ${ops.load(RIGHT, "kvq", `${L.vBase + n * FRAG * V_STRIDE + k * FRAG}u`, `${V_STRIDE}u`)}, o${n});`).join("\n")}
    }`).join("\n")}
  }
  z += subgroupShuffleXor(z, 16u);
  // O / Z, two fragments (32 dims) at a time through the scores' staging area: lane l writes
  // token l % 16's vec4s l / 16, l / 16 + 2, ...
${range(F / 2).map((pair) => `  workgroupBarrier();
  ${ops.store("scores", "stage", `o${2 * pair}`, `${FRAG}u`)}
  ${ops.store("scores", "stage + 256u", `o${2 * pair + 1}`, `${FRAG}u`)}
  workgroupBarrier();
  if (tok < step.n_tokens) {
    for (var c = lane / ${FRAG}u; c < 8u; c += 2u) {
      let at = stage + 4u * c * ${FRAG}u + row;
      O[(tok * params.n_head + h) * hd4 + ${pair * 8}u + c] = vec4<f32>(scores[at], scores[at + ${FRAG}u], scores[at + ${2 * FRAG}u], scores[at + ${3 * FRAG}u]) / z;
    }
  }`).join("\n")}
}`;
}
