// RMSNorm: Y[t, :] = X[t, :] / sqrt(mean(X[t, :]^2) + eps) * weight.
// rmsnormWGSL: one invocation per token (emulated GPUs). rmsnormWgWGSL: one workgroup of
// NORM_WG_SIZE per token, reduced in workgroup memory (real GPUs: the serial version
// took ~360 us per 4096-wide row on an H100).
// `q8` (both): the first row also as int8 activations into Q (binding 5; activations-q8.mjs), for
// the one-token pass's mat-vecs, without a dispatch of its own.

import { treeReduce, sumOf } from "./reduce.mjs";
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

const Q8_OUTPUT = /* wgsl */ `@group(0) @binding(5) var<storage, read_write> Q: array<u32>;
${quantizeBlockFn("Y")}`;

export const rmsnormWGSL = ({ q8 = false } = {}) => /* wgsl */ `${RMSNORM_BINDINGS}${q8 ? Q8_OUTPUT : ""}
@compute @workgroup_size(${NORM_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  if (t >= step.n_tokens) { return; }
  let d4 = params.d / 4u;
  let base = t * d4;
  var ss = vec4<f32>(0.0);
  for (var i = 0u; i < d4; i++) { let x = X[base + i]; ss += x * x; }
  let scale = inverseSqrt(dot(ss, vec4<f32>(1.0)) / f32(params.d) + params.eps);
  for (var i = 0u; i < d4; i++) { Y[base + i] = X[base + i] * scale * weight[i]; }${q8 ? `
  if (t == 0u) {
    for (var j = 0u; j < params.d / 32u; j++) { quantize_block(j, params.d / 32u); }
  }` : ""}
}`;


// `subgroups`: subgroupAdd, then one sum over the subgroups' partials, instead of the tree.
// `d`: the row length, known when the kernel is made, so that each invocation issues all its
// loads of X and of the weight before it waits for any (a loop over the row waited once per
// iteration: the kernel was latency-bound, ~12 us per 4096-wide row on an H100).
export function rmsnormWgWGSL({ subgroups = false, d, q8 = false }) {
  const slots = range(Math.ceil(d / 4 / NORM_WG_SIZE));
  const inRow = (s) => ((s + 1) * NORM_WG_SIZE <= d / 4 ? "true" : `li + ${s * NORM_WG_SIZE}u < ${d / 4}u`);
  const reduce = subgroups ? `
  let part = subgroupAdd(dot(ss, vec4<f32>(1.0)));
  if (sid == 0u) { red[li / ssz] = part; }
  workgroupBarrier();
  var total = 0.0;
  for (var i = 0u; i < ${NORM_WG_SIZE}u / ssz; i++) { total += red[i]; }` : `${treeReduce("red", "dot(ss, vec4<f32>(1.0))", NORM_WG_SIZE, sumOf)}
  let total = red[0];`;
  const quantize = q8 ? `
  storageBarrier();
  if (t == 0u) {
    for (var j = li; j < ${d / 32}u; j += ${NORM_WG_SIZE}u) { quantize_block(j, ${d / 32}u); }
  }` : "";
  return /* wgsl */ `${subgroups ? "enable subgroups;\n" : ""}${RMSNORM_BINDINGS}var<workgroup> red: array<f32, ${NORM_WG_SIZE}>;
${q8 ? Q8_OUTPUT : ""}

@compute @workgroup_size(${NORM_WG_SIZE})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32${subgroups ? `,
        @builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) ssz: u32` : ""}) {
  let t = wid.x;
  if (t >= step.n_tokens) { return; }
  let base = t * ${d / 4}u;
${slots.map((s) => `  let i${s} = min(li + ${s * NORM_WG_SIZE}u, ${d / 4 - 1}u);
  let x${s} = select(vec4<f32>(0.0), X[base + i${s}], ${inRow(s)});
  let w${s} = weight[i${s}];`).join("\n")}
  let ss = ${slots.map((s) => `x${s} * x${s}`).join(" + ")};${reduce}
  let scale = inverseSqrt(total / ${d}.0 + params.eps);
${slots.map((s) => `  if (${inRow(s)}) { Y[base + i${s}] = x${s} * scale * w${s}; }`).join("\n")}${quantize}
}`;
}
