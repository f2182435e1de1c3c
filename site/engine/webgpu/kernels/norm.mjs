// RMSNorm: Y[t, :] = X[t, :] / sqrt(mean(X[t, :]^2) + eps) * weight.
// rmsnormWGSL: one invocation per token (emulated GPUs). rmsnormWgWGSL: one workgroup of
// NORM_WG_SIZE per token, reduced in workgroup memory (real GPUs: the serial version
// took ~360 us per 4096-wide row on an H100).
// `q8` (both): the first row also as int8 activations into Q8 (binding 5; activations-q8.mjs), for
// the one-token pass's mat-vecs, without a dispatch of its own.

import { treeReduce, subgroupReduce, sumOf } from "./reduce.mjs";
import { quantizeBlockFn } from "./activations-q8.mjs";

export const NORM_WORKGROUP = 16;
const range = (n) => [...Array(n).keys()];

export const NORM_WG_SIZE = 256;

// The bindings both versions share.
const RMSNORM_BINDINGS = /* wgsl */ `
struct Params { d: u32, eps: f32, pad0: u32, pad1: u32 }
struct Step { n_tokens: u32, pos0: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<uniform> step: Step;
`;

const Q8_OUTPUT = /* wgsl */ `@group(0) @binding(5) var<storage, read_write> Q8: array<u32>;
${quantizeBlockFn("Y")}`;

// The workgroups' y splits a row's output into as many parts (each invocation still sums the whole
// row), so that a lone row (decode) spreads over SwiftShader's threads; with `q8`, one part only.
export const rmsnormWGSL = ({ q8 = false } = {}) => /* wgsl */ `${RMSNORM_BINDINGS}${q8 ? Q8_OUTPUT : ""}
@compute @workgroup_size(${NORM_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>) {
  let t = gid.x;
  if (t >= step.n_tokens) { return; }
  let d4 = params.d / 4u;
  let base = t * d4;
  var ss = vec4<f32>(0.0);
  for (var i = 0u; i < d4; i++) { let x = X[base + i]; ss += x * x; }
  let scale = inverseSqrt(dot(ss, vec4<f32>(1.0)) / f32(params.d) + params.eps);
  let part = (d4 + groups.y - 1u) / groups.y;
  for (var i = gid.y * part; i < min(d4, (gid.y + 1u) * part); i++) { Y[base + i] = X[base + i] * scale * weight[i]; }${q8 ? `
  if (t == 0u) {
    for (var j = 0u; j < params.d / 32u; j++) { quantize_block(j, params.d / 32u); }
  }` : ""}
}`;


// `subgroups`: subgroupAdd, then one sum over the subgroups' partials, instead of the tree; with
// `q8`, each invocation takes two neighbouring vec4s, so that four neighbouring invocations hold a
// block of 32 and round it from their own values, its max and sum taken by shuffles (subgroups of
// at least 4). Without subgroups: a barrier, then quantize_block re-reads Y (on an H100 the 8B
// decode was 0.5-2% slower so, about the noise between runs).
// `d`: the row length, known when the kernel is made, so that each invocation issues all its
// loads of X and of the weight before it waits for any (a loop over the row waited once per
// iteration: the kernel was latency-bound, ~12 us per 4096-wide row on an H100).
export function rmsnormWgWGSL({ subgroups = false, d, q8 = false }) {
  const shuffled = q8 && subgroups;
  const per = shuffled ? 2 : 1;
  const rowSlots = d / 4 / per;
  const slots = range(Math.ceil(rowSlots / NORM_WG_SIZE));
  const parts = (s) => range(per).map((e) => `${s}_${e}`);
  const all = slots.flatMap(parts);
  const inRow = (s) => ((s + 1) * NORM_WG_SIZE <= rowSlots ? "true" : `li + ${s * NORM_WG_SIZE}u < ${rowSlots}u`);
  const inRowOf = (n) => inRow(Number(n.split("_")[0]));
  const reduce = subgroups ? subgroupReduce("red", "dot(ss, vec4<f32>(1.0))", NORM_WG_SIZE, "subgroupAdd", sumOf, "total") : `${treeReduce("red", "dot(ss, vec4<f32>(1.0))", NORM_WG_SIZE, sumOf)}
  let total = red[0];`;
  const across4 = (v, op) => [1, 2].map((m) => `    ${v} = ${op(v, `subgroupShuffleXor(${v}, ${m}u)`)};`).join("\n");
  const quantizeShuffled = slots.map((s) => `
  {
    let y0 = x${s}_0 * scale * w${s}_0;
    let y1 = x${s}_1 * scale * w${s}_1;
    let a = max(abs(y0), abs(y1));
    var m = max(max(a.x, a.y), max(a.z, a.w));
${across4("m", (x, y) => `max(${x}, ${y})`)}
    let inv = select(0.0, 127.0 / m, m > 0.0);
    let q0 = vec4<i32>(round(y0 * inv));
    let q1 = vec4<i32>(round(y1 * inv));
    let qs = q0 + q1;
    var sum = qs.x + qs.y + qs.z + qs.w;
${across4("sum", (x, y) => `${x} + ${y}`)}
    if (${inRow(s)}) {
      Q8[i${s}_0] = pack4xI8(q0);
      Q8[i${s}_1] = pack4xI8(q1);
      if ((i${s}_0 & 7u) == 0u) {
        Q8[${d / 4}u + i${s}_0 / 4u] = bitcast<u32>(m / 127.0);
        Q8[${d / 4}u + i${s}_0 / 4u + 1u] = bitcast<u32>(m / 127.0 * f32(sum));
      }
    }
  }`).join("");
  const quantize = !q8 ? "" : shuffled ? `
  if (t == 0u) {${quantizeShuffled}
  }` : `
  storageBarrier();
  if (t == 0u) {
    for (var j = li; j < ${d / 32}u; j += ${NORM_WG_SIZE}u) { quantize_block(j, ${d / 32}u); }
  }`;
  return /* wgsl */ `${subgroups ? "enable subgroups;\n" : ""}${RMSNORM_BINDINGS}var<workgroup> red: array<f32, ${NORM_WG_SIZE}>;
${q8 ? Q8_OUTPUT : ""}

@compute @workgroup_size(${NORM_WG_SIZE})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32${subgroups ? `,
        @builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) ssz: u32` : ""}) {
  let t = wid.x;
  if (t >= step.n_tokens) { return; }
  let base = t * ${d / 4}u;
${slots.flatMap((s) => parts(s).map((n, e) => `  let i${n} = min((li + ${s * NORM_WG_SIZE}u) * ${per}u + ${e}u, ${d / 4 - 1}u);
  let x${n} = select(vec4<f32>(0.0), X[base + i${n}], ${inRow(s)});
  let w${n} = weight[i${n}];`)).join("\n")}
  let ss = ${all.map((n) => `x${n} * x${n}`).join(" + ")};${reduce}
  let scale = inverseSqrt(total / ${d}.0 + params.eps);
${all.map((n) => `  if (${inRowOf(n)}) { Y[base + i${n}] = x${n} * scale * w${n}; }`).join("\n")}${quantize}
}`;
}
