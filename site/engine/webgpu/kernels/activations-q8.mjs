// Decode activations as int8 in blocks of 32 (as llama.cpp's mat-vecs read them), so that the
// real-GPU mat-vec takes one integer dot product (dot4I8Packed) per 4 weights instead of four
// conversions and a float dot, and reads a quarter of the x bytes: on an H100 the 8B FFN gate
// mat-vec went 29.7 -> 14.2 us, the output head 156 -> 99 us (bench/GPU_NOTES.md, session 5).
// The one-token pass takes them, and on real GPUs the passes of a few tokens that check drafts
// (a row per token); prefill keeps float activations.
//
// One row of K floats (nb = K / 32 blocks) as u32 words: [0, 8 nb) the int8 values four to a
// word, in order; then per block two f32 (as bits): d = max |x| / 127 and d * (sum of its int8s).
// The values are round(x * 127 / max |x|). tests/engine/reference.py (quantize_activations_q8)
// is the numpy version.

export const Q8_BLOCK_BYTES = 40;
export const QUANTIZE_WORKGROUP = 64;

export function q8RowBytes(k) {
  return (k / 32) * Q8_BLOCK_BYTES;
}

const range = (n) => [...Array(n).keys()];

// quantize_values(j, nb, x0 .. x7): the 32 values of block j of a row of nb blocks (eight vec4s)
// into Q8 (array<u32>), from word `rowStart` (a WGSL expression ending in "+ ", or "").
const quantizeValuesFn = (rowStart) => /* wgsl */ `
fn quantize_values(j: u32, nb: u32, ${range(8).map((i) => `x${i}: vec4<f32>`).join(", ")}) {
  let m = max(max(max(abs(x0), abs(x1)), max(abs(x2), abs(x3))), max(max(abs(x4), abs(x5)), max(abs(x6), abs(x7))));
  let amax = max(max(m.x, m.y), max(m.z, m.w));
  let inv = select(0.0, 127.0 / amax, amax > 0.0);
${range(8).map((i) => `  let q${i} = vec4<i32>(round(x${i} * inv));\n  Q8[${rowStart}j * 8u + ${i}u] = pack4xI8(q${i});`).join("\n")}
  let s = q0 + q1 + q2 + q3 + q4 + q5 + q6 + q7;
  let d = amax / 127.0;
  Q8[${rowStart}8u * nb + 2u * j] = bitcast<u32>(d);
  Q8[${rowStart}8u * nb + 2u * j + 1u] = bitcast<u32>(d * f32(s.x + s.y + s.z + s.w));
}`;
export const QUANTIZE_VALUES_FN = quantizeValuesFn("");

// The eight vec4s of a block as quantize_values' arguments, from `at(i)` (a WGSL expression).
export const blockArguments = (at) => range(8).map(at).join(", ");

// quantize_block(j, nb): block j of the row in `src` (array<vec4<f32>>), its loads all issued
// before any is used.
export const quantizeBlockFn = (src) => /* wgsl */ `${QUANTIZE_VALUES_FN}
fn quantize_block(j: u32, nb: u32) { quantize_values(j, nb, ${blockArguments((i) => `${src}[j * 8u + ${i}u]`)}); }`;

// The standalone pass: one invocation per block, one row of X per dispatch row (the SwiGLU output
// before the down projection; the attention output where the attention is not the fused kernel,
// which writes its own; the rows of a few-token pass). Rows follow each other, Q8RowBytes apart.
export const QUANTIZE_Q8_WGSL = /* wgsl */ `
@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> Q8: array<u32>;
@group(0) @binding(2) var<uniform> params: vec4<u32>;
var<private> row_start: u32;
${quantizeValuesFn("row_start + ")}

@compute @workgroup_size(${QUANTIZE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let nb = params.x / 32u;
  let j = gid.x;
  if (j >= nb) { return; }
  row_start = gid.y * ${Q8_BLOCK_BYTES / 4}u * nb;
  let x0 = gid.y * 8u * nb;
  quantize_values(j, nb, ${blockArguments((i) => `X[x0 + j * 8u + ${i}u]`)});
}`;
