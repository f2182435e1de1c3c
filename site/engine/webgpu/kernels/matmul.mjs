// Y[t, row_offset + r] = epilogue(sum_k W[r, k] * X[t, k]) for the rows of one weight part.
// Epilogue: + bias[row] if has_bias; mode 1 adds the old Y (residual); mode 2 multiplies by
// silu(A) (SwiGLU, A holds the gate projection).
//
// matmulWGSL: one invocation owns ROWS rows and TOKENS tokens (register blocking, unrolled by
// the generator): each vec4 of weights is dequantized once and used for TOKENS tokens, each vec4
// of X is loaded once and used for ROWS rows. Prefill on every GPU; with TOKENS = 1 the decode
// mat-vec where the GPU is emulated on the CPU (SwiftShader), which wants exactly this shape.
// matvecLanesWGSL: the decode mat-vec for real GPUs: LANES neighbouring invocations share a row
// (neighbouring blocks, so loads coalesce) and reduce their partial sums in workgroup memory.

import { QUANT_HELPERS, dequantEmitter } from "./quant.mjs";

export const MODE = Object.freeze({ STORE: 0, ADD: 1, SILU_MUL: 2 });
// The kernel shapes per kind of GPU. On an emulated GPU workgroups are small: SwiftShader runs
// one workgroup per CPU thread, so a few hundred rows must still make several workgroups. Real
// GPUs want whole warps; their shapes are first guesses, not yet tuned on hardware.
export const EMULATED_BLOCKS = Object.freeze({
  matvec: Object.freeze({ rows: 4, tokens: 1, workgroup: 16 }),
  matmul: Object.freeze({ rows: 8, tokens: 8, workgroup: 16 }),
});
export const GPU_BLOCKS = Object.freeze({
  matvec: Object.freeze({ rows: 8, lanes: 32 }),
  matmul: Object.freeze({ rows: 4, tokens: 8, workgroup: 64 }),
});
const GET_ROWS_WORKGROUP = 64;

const range = (n) => [...Array(n).keys()];

const SHAPE_AND_STEP = /* wgsl */ `
struct Shape { k: u32, rows: u32, row_bytes: u32, row_offset: u32, y_stride: u32, mode: u32, has_bias: u32, pad: u32 }
struct Step { n_tokens: u32, pos0: u32, pad0: u32, pad1: u32 }`;

const MATMUL_BINDINGS = /* wgsl */ `${SHAPE_AND_STEP}
@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read> A: array<f32>;
@group(0) @binding(5) var<uniform> shape: Shape;
@group(0) @binding(6) var<uniform> step: Step;
${QUANT_HELPERS}

fn store(r: u32, t: u32, acc: f32) {
  if (r >= shape.rows || t >= step.n_tokens) { return; }
  let col = shape.row_offset + r;
  let i = t * shape.y_stride + col;
  var v = acc;
  if (shape.has_bias == 1u) { v += B[col]; }
  if (shape.mode == 1u) { v += Y[i]; }
  if (shape.mode == 2u) { let g = A[i]; v *= g / (1.0 + exp(-g)); }
  Y[i] = v;
}`;

export function matmulWGSL(typeName, { rows: R, tokens: T, workgroup }) {
  // Rows and tokens past the end are clamped for loading and skipped for storing.
  const emit = dequantEmitter(typeName);
  const heads = range(R).map((r) => emit.head(`row${r}`, "j", `r${r}`)).join("\n");
  const chunks = range(8).map((i) => `    {
${range(R).map((r) => `      let w${r} = ${emit.chunk(i, `r${r}`)};`).join("\n")}
${range(T).map((t) => `      { let x = X[xt${t} + j * 8u + ${i}u];${range(R).map((r) => ` a${r}_${t} += dot(w${r}, x);`).join("")} }`).join("\n")}
    }`).join("\n");
  const stores = range(R).flatMap((r) => range(T).map((t) => `  store(r0 + ${r}u, t0 + ${t}u, a${r}_${t});`)).join("\n");
  return /* wgsl */ `${MATMUL_BINDINGS}

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r0 = gid.x * ${R}u;
  let t0 = gid.y * ${T}u;
  if (r0 >= shape.rows || t0 >= step.n_tokens) { return; }
  let k4 = shape.k / 4u;
${range(R).map((r) => `  let row${r} = min(r0 + ${r}u, shape.rows - 1u) * shape.row_bytes;`).join("\n")}
${range(T).map((t) => `  let xt${t} = min(t0 + ${t}u, step.n_tokens - 1u) * k4;`).join("\n")}
${range(R).flatMap((r) => range(T).map((t) => `  var a${r}_${t} = 0.0;`)).join("\n")}
  for (var j = 0u; j < shape.k / 32u; j++) {
${heads}
${chunks}
  }
${stores}
}`;
}

export function matmulDispatch(rows, nTokens, { rows: R, tokens: T, workgroup }) {
  return [Math.ceil(rows / R / workgroup), Math.ceil(nTokens / T)];
}

// Embedding lookup: X[t, :] = dequantized row ids[t] of the table (rows of this part only).
export function matvecLanesWGSL(typeName, { rows: R, lanes: L }) {
  const emit = dequantEmitter(typeName);
  return /* wgsl */ `${MATMUL_BINDINGS}
var<workgroup> partial: array<f32, ${R * L}>;

@compute @workgroup_size(${R * L})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let lane = li % ${L}u;
  let r = wid.x * ${R}u + li / ${L}u;
  let row = min(r, shape.rows - 1u) * shape.row_bytes;
  var acc = 0.0;
  for (var j = lane; j < shape.k / 32u; j += ${L}u) {
${emit.head("row", "j", "w")}
    acc += ${range(8).map((i) => `dot(${emit.chunk(i, "w")}, X[j * 8u + ${i}u])`).join("\n         + ")};
  }
  partial[li] = acc;
  workgroupBarrier();
  for (var s = ${L / 2}u; s > 0u; s >>= 1u) {
    if (lane < s) { partial[li] += partial[li + s]; }
    workgroupBarrier();
  }
  if (lane == 0u) { store(r, 0u, partial[li]); }
}`;
}

export function matvecLanesDispatch(rows, { rows: R }) {
  return [Math.ceil(rows / R), 1];
}

// The decode mat-vec for a block of either shape.
export function matvecWGSL(typeName, block) {
  return block.lanes ? matvecLanesWGSL(typeName, block) : matmulWGSL(typeName, block);
}

export function matvecDispatch(rows, block) {
  return block.lanes ? matvecLanesDispatch(rows, block) : matmulDispatch(rows, 1, block);
}

export function getRowsDispatch(rowLength, nTokens) {
  return [Math.ceil(rowLength / 32 / GET_ROWS_WORKGROUP), nTokens];
}

export function getRowsWGSL(typeName) {
  const emit = dequantEmitter(typeName);
  return /* wgsl */ `${SHAPE_AND_STEP}
@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<vec4<f32>>;
@group(0) @binding(5) var<uniform> shape: Shape;
@group(0) @binding(6) var<uniform> step: Step;
${QUANT_HELPERS}

@compute @workgroup_size(${GET_ROWS_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let j = gid.x;
  let t = gid.y;
  if (j >= shape.k / 32u || t >= step.n_tokens) { return; }
  let id = ids[t];
  if (id < shape.row_offset || id >= shape.row_offset + shape.rows) { return; }
  let row = (id - shape.row_offset) * shape.row_bytes;
  let y = t * (shape.k / 4u) + j * 8u;
${emit.head("row", "j", "w")}
${range(8).map((i) => `  Y[y + ${i}u] = ${emit.chunk(i, "w")};`).join("\n")}
}`;
}
