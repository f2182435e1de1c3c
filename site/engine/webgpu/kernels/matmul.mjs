// Y[t, row_offset + r] = epilogue(sum_k W[r, k] * X[t, k]) for the rows of one weight part.
// Epilogue: + bias[row] if has_bias; mode 1 adds the old Y (residual); mode 2 multiplies by
// silu(A) (SwiGLU, A holds the gate projection); mode 3 (q, k and v as one matrix) stores rows
// past y_stride in two equal parts after the first: Y holds three matrices of `tokens` rows,
// [tokens, y_stride] then twice [tokens, (rows - y_stride) / 2].
//
// matmulWGSL: one invocation owns ROWS rows and TOKENS tokens (register blocking, unrolled by
// the generator): each vec4 of weights is dequantized once and used for TOKENS tokens, each vec4
// of X is loaded once and used for ROWS rows. Prefill where the GPU is emulated on the CPU
// (SwiftShader; real GPUs take matmul-tiled.mjs) and, with TOKENS = 1, the decode mat-vec there
// (word by word for the types with `words`: see matmulWGSL).
// matvecLanesWGSL: the decode mat-vec for real GPUs: LANES neighbouring invocations share a row
// (neighbouring blocks, so loads coalesce) and reduce their partial sums in workgroup memory.

import {
  QUANT_HELPERS, KERNEL_TYPES, dequantEmitter, NIBBLE_X, BYTE_X, nibbleDot, byteDot, withQ8, nibbleWords, nibbleWordDot, byteWordDot,
} from "./quant.mjs";
import { Q8_BLOCK_BYTES } from "./activations-q8.mjs";

export const MODE = Object.freeze({ STORE: 0, ADD: 1, SILU_MUL: 2, SPLIT_QKV: 3 });
// The kernel shapes per kind of GPU. On an emulated GPU workgroups are small: SwiftShader runs
// one workgroup per CPU thread, so a few hundred rows must still make several workgroups; the
// mat-vec's 8 rows per invocation share each load of x (SmolLM2 decode on SwiftShader, alternating
// runs: +9% in Chromium, +24% in Node over 4 rows; bench/GPU_NOTES.md session 6). Real GPUs want
// whole warps; their shapes are first guesses, not yet tuned on hardware.
// matmulFew: the shapes for passes of at most `tokens` tokens (the decode's drafts: on SmolLM2's
// Q4_1 mat-vecs a pass of 2 tokens costs ~1.4 one-token steps, of 4 ~2.1; session 22).
// `typeRows`: a type whose mat-vec or few-token mat-mat goes word by word (emit.words) takes its
// own rows (matvecBlockFor).
export const EMULATED_BLOCKS = Object.freeze({
  matvec: Object.freeze({ rows: 8, tokens: 1, workgroup: 16, typeRows: true }),
  matmul: Object.freeze({ rows: 8, tokens: 8, workgroup: 16 }),
  matmulFew: Object.freeze([2, 4].map((tokens) => Object.freeze({ rows: 8, tokens, workgroup: 16, typeRows: true }))),
});
// The real-GPU mat-vec: a warp of 32 lanes owns `rows` rows (each vec4 of X loaded once for all of
// them), `warps` warps per workgroup; `subgroups` (set at load where the device has the feature
// and subgroups of at most 32) reduces with subgroupAdd instead of a workgroup-memory tree.
// `unroll` blocks per lane per loop iteration. matvecTall is for parts of at least TALL_ROWS rows
// (the output head, FFN up/gate when not fused): more rows per warp there (each x load serves
// more weight bytes), fewer where workgroups would be few; matvecGated for the fused FFN
// gate + up (two rows per row, so half the tall shape's). Tuned on an H100 (bench/GPU_NOTES.md).
// Real-GPU prefill: matmul-tiled.mjs (tiles in workgroup memory) or matmul-subgroup-matrix.mjs
// (tensor cores, on the f16 path).
export const TALL_ROWS = 8192;
// matmulFew: the warp mat-vec over a few tokens, for passes of at most `tokens` (the decode's
// drafts; the tiled mat-mats take larger ones). 8B Q4_0 passes of 2 / 4 / 8 / 16 tokens on an
// H100 with int8 rows: 2 rows a warp 7.7 / 10.0 / 11.7 / 17.4 ms, 1 row 8.1 / 8.2 / 11.2 / 19.5,
// 4-8 rows 11-12 (bench/GPU_NOTES.md session 11).
export const GPU_BLOCKS = Object.freeze({
  matvec: Object.freeze({ rows: 2, warps: 4, unroll: 2, subgroups: false }),
  matmulFew: Object.freeze([[4, 1], [8, 2], [16, 2]].map(([tokens, rows]) => Object.freeze({ rows, warps: 4, unroll: 1, subgroups: false, tokens }))),
  matvecTall: Object.freeze({ rows: 8, warps: 2, unroll: 1, subgroups: false }),
  matvecGated: Object.freeze({ rows: 4, warps: 2, unroll: 2, subgroups: false }),
});
// With int8 activations (activations-q8.mjs) a block's dot product is a few instructions, so one
// row per warp and more warps win (H100, 8B shapes: gate 14.2 us at 1 row x 2 warps against 29.5
// for the float kernel's best); the tall shape takes 2 rows so that a 152k vocabulary stays
// within the 65,535 workgroups of one dispatch.
// matvecWide is for rows of at least WIDE_K weights (the 8B's FFN down, 14336): two warps share
// a row, 2 rows x 4 warps per workgroup. Q4_0 4096 x 14336 alone, against 1 row x 2 warps in
// the same call: H100 16.6 -> 15.4, 23.1 -> 21.4, 31.3 -> 21.2 us; H200 19.4 -> 17.0. No gain
// on 4096-wide rows, nor for the K-quants (bound by their arithmetic); in the engine within the
// noise (the down projection is ~15% of an 8B token).
export const WIDE_K = 8192;
export const GPU_BLOCKS_Q8 = Object.freeze({
  matvec: Object.freeze({ rows: 1, warps: 2, unroll: 1, subgroups: false, q8: true }),
  matvecTall: Object.freeze({ rows: 2, warps: 2, unroll: 1, subgroups: false, q8: true }),
  matvecWide: Object.freeze({ rows: 2, warps: 4, unroll: 1, split: 2, subgroups: false, q8: true }),
  matvecGated: Object.freeze({ rows: 1, warps: 2, unroll: 1, subgroups: false, q8: true }),
});
const GET_ROWS_WORKGROUP = 64;

const range = (n) => [...Array(n).keys()];
const indent = (code, pad) => code.split("\n").map((line) => pad + line).join("\n");

const SHAPE_AND_STEP = /* wgsl */ `
struct Shape { k: u32, rows: u32, row_bytes: u32, row_offset: u32, y_stride: u32, mode: u32, has_bias: u32, tokens: u32 }
struct Step { n_tokens: u32, pos0: u32, pad0: u32, pad1: u32 }`;

// X: float activations, or (q8) a row of int8 activations (activations-q8.mjs) read as vec4<u32>.
const matmulBindings = (q8 = false) => /* wgsl */ `${SHAPE_AND_STEP}
@group(0) @binding(0) var<storage, read> W: array<u32>;
@group(0) @binding(1) var<storage, read> X: array<vec4<${q8 ? "u32" : "f32"}>>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
@group(0) @binding(3) var<storage, read> B: array<f32>;
@group(0) @binding(4) var<storage, read> A: array<f32>;
@group(0) @binding(5) var<uniform> shape: Shape;
@group(0) @binding(6) var<uniform> step: Step;
${QUANT_HELPERS}

fn silu(g: f32) -> f32 { return g / (1.0 + exp(-g)); }

fn store(r: u32, t: u32, acc: f32) {
  if (r >= shape.rows || t >= step.n_tokens) { return; }
  let col = shape.row_offset + r;
  var i = t * shape.y_stride + col;
  var v = acc;
  if (shape.has_bias == 1u) { v += B[col]; }
  if (shape.mode == 1u) { v += Y[i]; }
  if (shape.mode == 2u) { v *= silu(A[i]); }
  if (shape.mode == 3u && col >= shape.y_stride) {
    let width = (shape.rows - shape.y_stride) / 2u;
    let part = select(0u, 1u, col - shape.y_stride >= width);
    i = shape.tokens * (shape.y_stride + part * width) + t * width + col - shape.y_stride - part * width;
  }
  Y[i] = v;
}`;
export const MATMUL_BINDINGS = matmulBindings();
export const MATMUL_BINDINGS_Q8 = matmulBindings(true);

// Block j of the int8 row X (activations-q8.mjs) in scope as xa, xb (its 32 values) and xd (scale,
// scale * sum); `nb` is the row's block count (a WGSL expression), `row` where the row starts
// (an expression ending in "+ ", or "").
export const loadXQ8 = (nb, indent, row = "") => [
  `let xa = X[${row}j * 2u];`,
  `let xb = X[${row}j * 2u + 1u];`,
  `let xs = X[${row}2u * ${nb} + (j >> 1u)];`,
  "let xd = bitcast<vec2<f32>>(select(xs.xy, xs.zw, (j & 1u) != 0u));",
].map((line) => indent + line).join("\n");

export function matmulWGSL(typeName, { rows: R, tokens: T, workgroup, q8 = false, quads = false, typeRows = false }) {
  // Rows and tokens past the end are clamped for loading and skipped for storing.
  const emit = matrixEmitter(typeName);
  const heads = range(R).map((r) => emit.head(`row${r}`, "j", `r${r}`)).join("\n");
  // One token (the emulated decode mat-vec): each row's block dot product scaled once; `q8`:
  // against int8 activations (activations-q8.mjs), one integer dot product per 4 weights.
  const blockDotsQ8 = `    {
${loadXQ8("(shape.k / 32u)", "      ")}
${range(R).map((r) => `      a${r}_0 += ${emit.blockDotQ8?.(`r${r}`)};`).join("\n")}
    }`;
  // X's vec4 i of token t in block `block`. With `quads` (subgroups of exactly 4 invocations: one
  // SwiftShader SIMD group, whose loads at run-time indices go lane by lane) each invocation loads
  // a quarter of the block's x (xLoads) and takes the rest from its neighbours: the decode mat-vec
  // 10-15% less time a weight, Chromium's decode +5% and prefill +18% (bench/GPU_NOTES.md session
  // 15). A subgroup then returns early only as a whole (subgroupAll), which WGSL's uniformity
  // analysis cannot see, hence its diagnostic off.
  const broadcastX = quads && !q8;
  const xLoads = (t, block, indent, name = `xl${t}`) => (broadcastX
    ? range(2).map((h) => `${indent}let ${name}_${h} = X[xt${t} + ${block} * 8u + lane * 2u + ${h}u];`).join("\n") : "");
  const xVec = (t, block, i, name = `xl${t}`) => (broadcastX ? `subgroupBroadcast(${name}_${i & 1}, ${i >> 1}u)` : `X[xt${t} + ${block} * 8u + ${i}u]`);
  // Block `block`'s x0 .. x7 and xsum, then blockX's statements and each row's dot product.
  const blockDotsOf = (block, blockX, dot) => `    {
${xLoads(0, block, "      ")}
${range(8).map((i) => `      let x${i} = ${xVec(0, block, i)};`).join("\n")}
      let xsum = dot(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7, vec4<f32>(1.0));
${blockX ?? ""}
${range(R).map((r) => `      a${r}_0 += ${dot?.(`r${r}`)};`).join("\n")}
    }`;
  const blockDots = q8 ? blockDotsQ8 : blockDotsOf("j", emit.blockX, emit.blockDot);
  // Word by word (emit.words, on float x): for each quant word its x, then that word of every
  // row, each row's sum scaled once a part's words are in. Few values live at once, so
  // SwiftShader's JIT (Subzero), whose code for whole blocks spent most of its instructions
  // spilling registers and reloading constants, keeps more in registers (a third less time a
  // weight for Q4_1, 10-20% for Q4_0 / Q8_0; bench/GPU_NOTES.md session 16). Each type's rows
  // (words.rows) share every load and broadcast of x: Q4_1 at 12 rows took 12-15% off its 4-row
  // time (session 22); Q4_0 and Q8_0 gain nothing past 8. One token, or the few tokens of a block
  // that takes its type's rows (`typeRows`: the drafts' passes), each word loaded once for all of
  // them (Q4_1 passes of 2 / 4 tokens a third / a quarter less time than the block form, session
  // 22). Units of two blocks need rows that start on a word; others take the whole blocks,
  // funnelled.
  const words = !q8 && (T === 1 || typeRows) ? emit.words : null;
  const tokenParts = words ? range(T).map((t) => words.parts(T === 1 ? "" : `t${t}_`)) : [];
  const loaded = new Set(tokenParts[0]?.flatMap((part) => part.quants));
  const wordAt = (r, k) => `W[wb${r} + unit + ${k}u]`;
  const wordOf = (r) => (k) => (loaded.has(k) ? `q${r}_${k}` : wordAt(r, k));
  const sum = (r, p, t) => `s${r}_${p}${T === 1 ? "" : `_${t}`}`;
  const wordDots = words && `    {
      let unit = ${words.blocks === 2 ? "(j >> 1u)" : "j"} * ${words.unitWords}u;
${tokenParts[0].map((first, p) => {
    const block = first.block ? `(j + ${first.block}u)` : "j";
    const tokens = range(T).map((t) => ({ t, part: tokenParts[t][p], xl: T === 1 ? `xl${p}` : `xl${p}t${t}` }));
    return `${tokens.map(({ t, part, xl }) => `${xLoads(t, block, "      ", xl)}
${range(R).map((r) => `      var ${sum(r, p, t)} = 0.0;`).join("\n")}
${indent(part.sums, "      ")}`).join("\n")}
${first.quants.map((k, i) => `${tokens.map(({ t, part, xl }) => indent(part.x(i, (v) => xVec(t, block, v, xl)), "      ")).join("\n")}
${range(R).map((r) => `      let q${r}_${k} = ${wordAt(r, k)};
${tokens.map(({ t, part }) => `      ${sum(r, p, t)} += ${part.dot(`q${r}_${k}`, i)};`).join("\n")}`).join("\n")}`).join("\n")}
${tokens.map(({ part }) => indent(part.after, "      ")).join("\n")}
${range(R).flatMap((r) => tokens.map(({ t, part }) => `      a${r}_${t} += ${part.scale(wordOf(r), sum(r, p, t))};`)).join("\n")}`;
  }).join("\n")}
    }`;
  const wordLoop = words && `  for (var j = 0u; j < shape.k / 32u; j += ${words.blocks}u) {
${wordDots}
  }`;
  const chunks = T === 1 && (q8 || emit.blockDot) ? blockDots : [...range(T).map((t) => xLoads(t, "j", "    ")), ...range(8).map((i) => `    {
${range(R).map((r) => `      let w${r} = ${emit.chunk(i, `r${r}`)};`).join("\n")}
${range(T).map((t) => `      { let x = ${xVec(t, "j", i)};${range(R).map((r) => ` a${r}_${t} += dot(w${r}, x);`).join("")} }`).join("\n")}
    }`)].filter(Boolean).join("\n");
  const blockLoop = `  for (var j = 0u; j < shape.k / 32u; j++) {
${heads}
${chunks}
  }`;
  const mainLoop = !words ? blockLoop : words.blocks === 1 ? wordLoop
    : `  if ((shape.row_bytes & 3u) == 0u) {\n${indent(wordLoop, "  ")}\n  } else {\n${indent(blockLoop, "  ")}\n  }`;
  const stores = range(R).flatMap((r) => range(T).map((t) => `  store(r0 + ${r}u, t0 + ${t}u, a${r}_${t});`)).join("\n");
  return /* wgsl */ `${broadcastX ? "enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n" : ""}${matmulBindings(q8)}

@compute @workgroup_size(${workgroup})
fn main(@builtin(global_invocation_id) gid: vec3<u32>${broadcastX ? ", @builtin(subgroup_invocation_id) lane: u32" : ""}) {
  let r0 = gid.x * ${R}u;
  let t0 = gid.y * ${T}u;
${broadcastX ? "  if (subgroupAll(r0 >= shape.rows)) { return; }" : "  if (r0 >= shape.rows || t0 >= step.n_tokens) { return; }"}
  let k4 = shape.k / 4u;
${range(R).map((r) => `  let row${r} = min(r0 + ${r}u, shape.rows - 1u) * shape.row_bytes;${words ? ` let wb${r} = row${r} >> 2u;` : ""}`).join("\n")}
${range(T).map((t) => `  let xt${t} = min(t0 + ${t}u, step.n_tokens - 1u) * k4;`).join("\n")}
${range(R).flatMap((r) => range(T).map((t) => `  var a${r}_${t} = 0.0;`)).join("\n")}
${mainLoop}
${stores}
}`;
}

// An emulated mat-vec's or few-token mat-mat's block for a type: the rows of its words where it
// goes word by word.
export function matvecBlockFor(typeName, block) {
  const words = block.typeRows && !block.q8 ? matrixEmitter(typeName).words : null;
  return words ? { ...block, rows: words.rows } : block;
}

// The workgroup of an emulated mat-vec or few-token mat-mat (`block`) for a part of `rows` rows:
// SwiftShader runs each workgroup on one of its `threads` threads, so of 16, 12 and 8 invocations
// (whole SIMD groups of 4) the one whose workgroups spread most evenly over them; ties keep the
// block's. SmolLM2's k and v at 4 rows an invocation (48 invocations) made 3 workgroups of 16 for
// 2 threads, 4 of 12 with this (kernel -23%); at 12 rows they make 2 of 8.
export function emulatedWorkgroup(rows, block, threads) {
  const invocations = Math.ceil(rows / block.rows);
  const busiest = (workgroup) => Math.ceil(Math.ceil(invocations / workgroup) / threads) * workgroup;
  return [12, 8].reduce((best, workgroup) => (busiest(workgroup) < busiest(best) ? workgroup : best), block.workgroup);
}

export function matmulDispatch(rows, nTokens, { rows: R, tokens: T, workgroup }) {
  return [Math.ceil(rows / R / workgroup), Math.ceil(nTokens / T)];
}

// Embedding lookup: X[t, :] = dequantized row ids[t] of the table (rows of this part only).
export function matvecLanesWGSL(typeName, { rows: R, lanes: L }) {
  const emit = matrixEmitter(typeName);
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

// Blocks of an f16 scale and `quantWords` words of quants (Q4_0: 18 bytes, Q8_0: 34) read as
// whole aligned words (rows start at even bytes, so a block starts at byte 0 or 2 of a word)
// instead of a 16-bit funnel of two loads per word: declares the scale d and the words q0...
// (Funnelling the words is cheaper on SwiftShader than dotting the straddling words against x
// values arranged for either start, chosen per row: measured, bench/GPU_NOTES.md session 6; the
// pairs of blocks below need no choice.)
const scaleThenWords = (quantWords) => (row, j, w) => `
let ${w}o = ${row} + ${j} * ${2 + 4 * quantWords}u;
let ${w}i = ${w}o >> 2u;
let ${w}odd = (${w}o & 2u) != 0u;
${range(quantWords + 1).map((k) => `let ${w}w${k} = W[${w}i + ${k}u];`).join("\n")}
let ${w}d = unpack2x16float(select(${w}w0, ${w}w0 >> 16u, ${w}odd)).x;
${range(quantWords).map((k) => `let ${w}q${k} = select((${w}w${k} >> 16u) | (${w}w${k + 1} << 16u), ${w}w${k + 1}, ${w}odd);`).join("\n")}`;

// Where rows hold an even number of blocks (so start on a word), a pair of Q4_0 / Q8_0 blocks
// (j even, j + 1) is a whole number of words (9 / 17): block j's scale in the low half of word 0
// and its quants from byte 2, block j + 1's scale in the high half of the word after them and its
// quants aligned. Block j's words are dotted against x arranged to match them (value v at byte
// v + 2, zero where a byte holds a scale) instead of funnelling each word into place (on
// SwiftShader a fifth less time a weight for Q8_0, a tenth for Q4_0; bench/GPU_NOTES.md session
// 14). `straddled(i, last, v)`: that arrangement for word i of the words 0 .. last holding the
// values of x's vec4s v(0) .. v(last - 1) (names in scope) two bytes late.
const straddled = (i, last, v) => `vec4<f32>(${i === 0 ? "0.0, 0.0" : `${v(i - 1)}.z, ${v(i - 1)}.w`}, ${i === last ? "0.0, 0.0" : `${v(i)}.x, ${v(i)}.y`})`;
const Q4_0_PAIR_WORDS = {
  rows: 8,
  blocks: 2,
  unitWords: 9,
  parts: (p) => [{
    // Words 0 .. 4: their low nibbles are values 4i - 2 .. 4i + 1, their high ones 16 more; the
    // top high nibbles (xetop) read 8 less, as in nibbleDot.
    block: 0,
    quants: range(5),
    sums: `var ${p}xes4 = vec4<f32>(0.0);\nvar ${p}xetop = 0.0;`,
    x: (i, x) => `${i < 4 ? `let ${p}xel${i} = ${x(i)};\nlet ${p}xeh${i} = ${x(i + 4)};\n${p}xes4 += ${p}xel${i} + ${p}xeh${i};\n` : ""}let ${p}xepl${i} = ${straddled(i, 4, (v) => `${p}xel${v}`)} * BYTE_WEIGHTS;
let ${p}xehs${i} = ${straddled(i, 4, (v) => `${p}xeh${v}`)};
${p}xetop += ${p}xehs${i}.w;
let ${p}xeph${i} = ${p}xehs${i} * (BYTE_WEIGHTS * 0.0625);`,
    dot: (q, i) => nibbleWordDot(q, `${p}xepl${i}`, `${p}xeph${i}`),
    after: `let ${p}xesum = dot(${p}xes4, vec4<f32>(1.0));`,
    scale: (word, s) => `unpack2x16float(${word(0)}).x * (${s} + 8.0 * (${p}xetop - ${p}xesum))`,
  },
  { ...nibbleWords(`${p}o`, [5, 6, 7, 8], (word, s) => `unpack2x16float(${word(4)}).y * (${s} + 8.0 * (${p}oxtop - ${p}oxsum))`), block: 1 }],
};
const Q8_0_PAIR_WORDS = {
  rows: 8,
  blocks: 2,
  unitWords: 17,
  parts: (p) => [{
    // Words 0 .. 8: their bytes are values 4i - 2 .. 4i + 1; bytes 0-2 read 128 more (xelow).
    block: 0,
    quants: range(9),
    sums: `var ${p}xelow4 = vec4<f32>(0.0);`,
    x: (i, x) => `${i < 8 ? `let ${p}xev${i} = ${x(i)};\n` : ""}let ${p}xes${i} = ${straddled(i, 8, (v) => `${p}xev${v}`)};
${p}xelow4 += ${p}xes${i};
let ${p}xep${i} = ${p}xes${i} * BYTE_WEIGHTS;`,
    dot: (q, i) => byteWordDot(q, `${p}xep${i}`),
    after: `let ${p}xelow = dot(${p}xelow4, vec4<f32>(1.0, 1.0, 1.0, 0.0));`,
    scale: (word, s) => `unpack2x16float(${word(0)}).x * (${s} - 128.0 * ${p}xelow)`,
  }, {
    block: 1,
    quants: range(8).map((i) => 9 + i),
    sums: `var ${p}xolow4 = vec4<f32>(0.0);`,
    x: (i, x) => `let ${p}xov${i} = ${x(i)};
${p}xolow4 += ${p}xov${i};
let ${p}xop${i} = ${p}xov${i} * BYTE_WEIGHTS;`,
    dot: (q, i) => byteWordDot(q, `${p}xop${i}`),
    after: `let ${p}xolow = dot(${p}xolow4, vec4<f32>(1.0, 1.0, 1.0, 0.0));`,
    scale: (word, s) => `unpack2x16float(${word(8)}).y * (${s} - 128.0 * ${p}xolow)`,
  }],
};

const Q4_0_ALIGNED = {
  head: scaleThenWords(4),
  chunk: (i, w) => `(${i >= 4 ? "hi" : "lo"}_nibbles(${w}q${i % 4}) - 8.0) * ${w}d`,
  // The whole block's dot with x0..x7: d * (q . x - 8 * sum(x)).
  blockX: NIBBLE_X,
  blockDot: (w) => `${w}d * (${nibbleDot((k) => `${w}q${k}`)} + 8.0 * (xtop - xsum))`,
  words: Q4_0_PAIR_WORDS,
  // Word k's low nibbles are values 4k.., its high nibbles 16 + 4k...
  ...withQ8({ word: (w, k) => `(${w}q${k % 4}${k < 4 ? "" : " >> 4u"}) & 0x0f0f0f0fu`, offset: 8, scales: (w) => [`${w}d`] }),
};
const Q8_0_ALIGNED = {
  head: scaleThenWords(8),
  chunk: (i, w) => `i8x4(${w}q${i}) * ${w}d`,
  blockX: BYTE_X,
  blockDot: (w) => `${w}d * (${byteDot((k) => `${w}q${k}`)} - 128.0 * (xsum - xtop))`,
  words: Q8_0_PAIR_WORDS,
  ...withQ8({ word: (w, k) => `${w}q${k}`, signed: true, scales: (w) => [`${w}d`] }),
};

// The emitter the mat-vec / mat-mat kernels use: aligned word reads where a type has them.
export const matrixEmitter = (typeName) => ({ Q4_0: Q4_0_ALIGNED, Q8_0: Q8_0_ALIGNED })[typeName] ?? dequantEmitter(typeName);

// The weight types whose one-token mat-vec can take int8 activations (the `q8` block option):
// those with an int8 dot product.
export const Q8_ACTIVATION_TYPES = Object.freeze(KERNEL_TYPES.filter((t) => matrixEmitter(t).blockDotQ8));

// `gated`: W holds two matrices of shape.rows rows each (FFN gate, then up), the warp takes the
// same R rows of both, and Y[r] = silu(gate . x) * (up . x) (SwiGLU in one pass over x).
// `q8`: X is the int8 row of activations-q8.mjs (types of Q8_ACTIVATION_TYPES).
// `split`: that many warps share each row (neighbouring warps, each a stride of the row's blocks)
// and their sums meet in workgroup memory: more loads in flight for long rows (FFN down).
// `tokens`: T > 1 tokens at once, each block's weights read once for all of them: the passes of a
// few tokens that check drafts, which the tiled mat-mats, made for hundreds of tokens, run at a
// fraction of the memory bandwidth (with `q8`, X holds a row per token, Q8 rows apart).
export function matvecWarpWGSL(typeName, { rows: R, warps: NW, subgroups, unroll: U = 1, split: S = 1, gated = false, q8 = false, tokens: T = 1 }) {
  const emit = matrixEmitter(typeName);
  const WG = NW * 32;
  const rows = range(gated ? 2 * R : R);
  const tokens = range(T);
  // Partial sums: one accumulator and one `red` span of WG per (row, token).
  const acc = (r, t) => (T === 1 ? `a${r}` : `a${r}_${t}`);
  const redAt = (r, t) => `${(r * T + t) * WG}u`;
  const rowIndex = (r) => (r < R ? `min(r0 + ${r}u, shape.rows - 1u)` : `(shape.rows + min(r0 + ${r - R}u, shape.rows - 1u))`);
  const result = (r, sum) => (gated ? `silu(${sum(r)}) * ${sum(R + r)}` : sum(r));
  // Partial sums land in `red`, one per subgroup or (after a tree) per warp; the first lane of a
  // row's first warp adds up the row's, `step` apart, and stores.
  const pairs = rows.flatMap((r) => tokens.map((t) => [r, t]));
  const storeRows = (step) => `  if (lane == 0u && part == 0u) {
${pairs.map(([r, t]) => `    var t${acc(r, t)} = 0.0;
    for (var q = 0u; q < ${32 * S}u; q += ${step}) { t${acc(r, t)} += red[${redAt(r, t)} + li + q]; }`).join("\n")}
${range(R).flatMap((r) => tokens.map((t) => `    store(r0 + ${r}u, ${t}u, ${result(r, (i) => `t${acc(i, t)}`)});`)).join("\n")}
  }`;
  const reduce = subgroups
    ? `${pairs.map(([r, t]) => `  let s${acc(r, t)} = subgroupAdd(${acc(r, t)});
  if (sid == 0u) { red[${redAt(r, t)} + li] = s${acc(r, t)}; }`).join("\n")}
  workgroupBarrier();
${storeRows("ssz")}`
    : `${pairs.map(([r, t]) => `  red[${redAt(r, t)} + li] = ${acc(r, t)};`).join("\n")}
  workgroupBarrier();
  for (var s = 16u; s > 0u; s >>= 1u) {
    if (lane < s) {${pairs.map(([r, t]) => ` red[${redAt(r, t)} + li] += red[${redAt(r, t)} + li + s];`).join("")} }
    workgroupBarrier();
  }
${storeRows("32u")}`;
  // U blocks per lane per iteration (j0, j0 + 32 S, ...): more loads in flight; a block past the
  // end is read clamped and its sum dropped with select.
  const loadX = (row = "") => (q8 ? loadXQ8("nb", "    ", row)
    : `${range(8).map((i) => `    let x${i} = X[${row}j * 8u + ${i}u];`).join("\n")}
${emit.blockDot ? `    let xsum = dot(x0 + x1 + x2 + x3 + x4 + x5 + x6 + x7, vec4<f32>(1.0));\n${emit.blockX ?? ""}` : ""}`);
  const blockDot = (w) => {
    if (q8) return emit.blockDotQ8(w);
    return emit.blockDot ? emit.blockDot(w) : range(8).map((i) => `dot(${emit.chunk(i, w)}, x${i})`).join("\n         + ");
  };
  const add = (u, b) => (u === 0 ? b : `select(0.0, ${b}, j0 + ${32 * S * u}u < nb)`);
  // One token: x first, then each row's block. T tokens: each row's block first, then each
  // token's x (clamped to the last token) against all of them.
  const blockStep = (u) => (T === 1 ? `    {
    let j = min(j0 + ${32 * S * u}u, nb - 1u);
${loadX()}
${rows.map((r) => `    {${emit.head(`row${r}`, "j", "w").replace(/\n/g, "\n      ")}
      let b = ${blockDot("w")};
      a${r} += ${add(u, "b")};
    }`).join("\n")}
    }` : `    {
    let j = min(j0 + ${32 * S * u}u, nb - 1u);
${rows.map((r) => emit.head(`row${r}`, "j", `w${r}`)).join("\n")}
${tokens.map((t) => `    {
${loadX(`min(${t}u, step.n_tokens - 1u) * x_row + `)}
${rows.map((r) => `    ${acc(r, t)} += ${add(u, blockDot(`w${r}`))};`).join("\n")}
    }`).join("\n")}
    }`);
  return /* wgsl */ `${subgroups ? "enable subgroups;\n" : ""}${matmulBindings(q8)}
var<workgroup> red: array<f32, ${matvecWarpWorkgroupBytes({ rows: R, warps: NW, gated, tokens: T }) / 4}>;

@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32${subgroups ? `,
        @builtin(subgroup_invocation_id) sid: u32, @builtin(subgroup_size) ssz: u32` : ""}) {
  let lane = li % 32u;
  let part = (li / 32u) % ${S}u;
  let r0 = (wid.x * ${NW / S}u + li / ${32 * S}u) * ${R}u;
${rows.map((r) => `  let row${r} = ${rowIndex(r)} * shape.row_bytes;
${tokens.map((t) => `  var ${acc(r, t)} = 0.0;`).join("\n")}`).join("\n")}
  let nb = shape.k / 32u;
${T === 1 ? "" : `  let x_row = ${q8 ? `${Q8_BLOCK_BYTES / 8}u * nb / 2u` : "shape.k / 4u"}; // vec4s per row of X${q8 ? " (nb is even)" : ""}
`}  for (var j0 = li % ${32 * S}u; j0 < nb; j0 += ${32 * S * U}u) {
${range(U).map((u) => blockStep(u)).join("\n")}
  }
${reduce}
}`;
}

// Workgroup memory of matvecWarpWGSL's partial sums (`red`).
export function matvecWarpWorkgroupBytes({ rows: R, warps: NW, gated = false, tokens: T = 1 }) {
  return (gated ? 2 : 1) * R * T * NW * 32 * 4;
}

export function matvecWarpDispatch(rows, { rows: R, warps: NW, split: S = 1 }) {
  return [Math.ceil((rows * S) / (R * NW)), 1];
}

// The decode mat-vec for a block of any shape.
export function matvecWGSL(typeName, block) {
  if (block.warps) return matvecWarpWGSL(typeName, block);
  return block.lanes ? matvecLanesWGSL(typeName, block) : matmulWGSL(typeName, block);
}

export function matvecDispatch(rows, block) {
  if (block.warps) return matvecWarpDispatch(rows, block);
  return block.lanes ? matvecLanesDispatch(rows, block) : matmulDispatch(rows, 1, block);
}

export function getRowsDispatch(rowLength, nTokens) {
  return [Math.ceil(rowLength / 32 / GET_ROWS_WORKGROUP), nTokens];
}

export function getRowsWGSL(typeName) {
  const emit = matrixEmitter(typeName);
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
