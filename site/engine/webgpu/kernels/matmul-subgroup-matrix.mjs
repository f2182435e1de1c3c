// The prefill mat-mat on tensor cores, through WebGPU's subgroup matrices (device feature
// `chromium-experimental-subgroup-matrix`, WGSL `enable chromium_experimental_subgroup_matrix`;
// Dawn with allow_unsafe_apis, Chrome behind a flag). Same Y, bindings, uniforms and epilogue as
// matmulWGSL (kernels/matmul.mjs): Y[t, row_offset + r] = epilogue(sum_k W[r, k] X[t, k]).
//
// A workgroup of SR x ST subgroups owns a tile of tile.rows rows x tile.tokens tokens. Per K step
// of tile.blocks quant blocks (32 weights each) it dequantizes its W tile into workgroup memory
// as f16 and converts its X tile there as f16 (both read into registers during the previous
// step's products, so that the loads overlap them: 8B prefill's mat-mats on an H100 -5%, Q4_K_M
// -2%; the kernel at 64 tokens unchanged), then each subgroup multiplies 16 x 16 fragments
// (left: 16 rows x 16 k of W; right: 16 k x 16 tokens of X^T) into f32 result matrices: each
// subgroup owns FR x FT of them (its rows x tokens share of the tile). At the end each result
// matrix goes through a small f32 staging area of the subgroup so that every element can take
// the scalar epilogue store(r, t, acc) of matmul.mjs, which skips rows and tokens past the end.
//
// Layout of workgroup memory (all strides in elements, as subgroupMatrixLoad counts them):
//   wtile  W tile, row-major: weight (r, k) at r * WS + k, WS = 32 * tile.blocks + pad. A
//          dequantizing invocation writes its runs of 4 weights side by side. A left matrix
//          (16 rows x 16 k) is loaded row-major at r0 * WS + k0 with stride WS, so each lane's
//          pairs of k lie together (H100, the 8B's FFN mat-mats at 1024 tokens: 9-12% faster
//          than the K-major tile this replaced; bench/GPU_NOTES.md, session 10).
//   xtile  X tile, token-major: x (t, k) at t * XS + k, XS = 32 * tile.blocks + pad. Loading
//          invocations take neighbouring vec4s of a token (coalesced reads of X). A right matrix
//          (16 k x 16 tokens) is loaded column-major (column = one token) at t0 * XS + k0.
//   results  f32 staging, 256 floats per subgroup, column-major (element (r, t) at
//          t * 16 + r): lane l reads elements l, l + 32, ..., so 16 neighbouring lanes store 16
//          neighbouring rows of one token (one 64-byte run of Y).
// `pad` (8 halves = 16 bytes) makes the stride of both tiles an odd multiple of 16 bytes modulo
// 128, so the 8 16-byte rows a matrix load reads at once fall in different bank groups.
//
// Assumptions, checked by subgroupMatrixSupport() below: subgroups of exactly 32 invocations
// (subgroup s = invocations 32s .. 32s + 31: the workgroup is one-dimensional and Dawn asks for
// full subgroups), and an f16 x f16 -> f32 16 x 16 x 16 configuration in
// adapter.info.subgroupMatrixConfigs (NVIDIA's is; Apple's are 8 x 8).
// Precision: W and X are rounded to f16 (X beyond +-65504 becomes infinite), products are
// summed in f32 by the tensor cores.
//
// Uniformity: the subgroup matrix builtins want subgroup-uniform pointers and offsets; Tint
// proves only workgroup uniformity, and our offsets depend on the subgroup, so its diagnostic
// chromium.subgroup_matrix_uniformity is turned off (as llama.cpp's and ORT's WebGPU kernels
// do). The loops and barriers around them are workgroup-uniform (bounds from uniforms).

import { MATMUL_BINDINGS } from "./matmul.mjs";
import { dequantEmitter } from "./quant.mjs";

// Measured on an H100 (bench/kernel_check_node.mjs, 4096 rows x 4096 k x 64 tokens, GPU
// timestamps after a warm-up): matmul-tiled.mjs's TILED_BLOCK 190-220 us; this kernel with
// SUBGROUP_MATRIX_BLOCK_16K 120-146 us, 2 blocks per step 86-102 us, SUBGROUP_MATRIX_BLOCK
// 65-88 us (24-33 TFLOP/s; Q4_0 fastest, Q6_K slowest). Fewer barriers and more independent
// loads per step were worth more than bigger tiles (64 x 64 and 128 x 64 tiles were slower).
//
// The default: a 32 x 64 tile, 2 x 2 subgroups of 16 rows x 32 tokens, 4 blocks (128 k) per
// step: 8.5 KiB (W) + 17 KiB (X) + 4 KiB (staging) = 29.5 KiB of workgroup memory, more than the
// 16 KiB every WebGPU device has: the device must be created with maxComputeWorkgroupStorageSize
// raised (index.mjs asks for the adapter's; Chrome gives 32 KiB on desktop GPUs, the H100 under
// Dawn 48 KiB). SUBGROUP_MATRIX_BLOCK_16K (1 block per step, 11.5 KiB) fits any device.
export const SUBGROUP_MATRIX_BLOCK = Object.freeze({
  tile: Object.freeze({ rows: 32, tokens: 64, blocks: 4 }),
  subgroups: Object.freeze({ rows: 2, tokens: 2 }),
  pad: 8,
  // "template": subgroupMatrixLoad<T, col_major>(p, offset, stride) (current Dawn);
  // "legacy": subgroupMatrixLoad<T>(p, offset, col_major, stride) (deprecated: Dawn warns).
  spelling: "template",
});
export const SUBGROUP_MATRIX_BLOCK_16K = Object.freeze({
  ...SUBGROUP_MATRIX_BLOCK, tile: Object.freeze({ rows: 32, tokens: 64, blocks: 1 }),
});

// For parts of at least minRows rows (graph.mjs prefillBlock):
// - XL, where the device's workgroup memory holds it and its tiles make at least minWorkgroups
//   in the pass: 128 x 128 tiles, 2 x 4 subgroups of 64 x 32 (16 x 16 fragments: 4 x 2 each, 8
//   products per 6 fragment loads), 2 blocks per step, 44 KiB. H100, 8B prefill chunk of 512
//   tokens at 512 (engine_node.mjs --profile, same call): the mat-mats 124 -> 102 ms, Q4_0
//   prefill at 1024 tokens 4,322 -> 5,316 tok/s; Q4_K_M 160 -> 122 ms, 3,311 -> 4,304 tok/s.
//   (1 block per step, or 4 x 2 subgroups at 1 block, or 128 x 64 tiles: slower; 128 x 128 at 1
//   block with 2 x 2 subgroups was best for the FFN gate / up but lost on down and o.) At 128
//   tokens its 32 workgroups for a 4096-row matrix left the GPU idle: 8B prefill 2,967 -> 2,563
//   tok/s, hence minWorkgroups; the FFN's 14336 rows make 112, and there XL beat LARGE at 128
//   tokens (gate 185 against 249 us; 8B prefill at 128 tokens +10%, session 10) but lost at 64
//   (168 against 126 us: half of each tile idle), hence minTokens.
// - LARGE otherwise (where it fits): 64 x 64 tiles, 2 x 2 subgroups of 32 x 32, 2 blocks per
//   step (22 KiB; Chrome gives desktop GPUs 32 KiB). Slower in the kernel benchmark at 64
//   tokens, but with prefill chunks of 512 tokens the 8B's prefill went 2,307 -> 2,783 tok/s at
//   128 tokens and 2,055 -> 3,131 at 1024 (H100) with it on every matrix; SmolLM2's 576-row
//   matrices lost (19.5k -> 15.4k at 128 tokens: too few workgroups), hence the row threshold.
export const SUBGROUP_MATRIX_BLOCK_XL = Object.freeze({
  ...SUBGROUP_MATRIX_BLOCK,
  tile: Object.freeze({ rows: 128, tokens: 128, blocks: 2 }),
  subgroups: Object.freeze({ rows: 2, tokens: 4 }),
  minRows: 4096,
  minWorkgroups: 100,
  minTokens: 128,
});
export const SUBGROUP_MATRIX_BLOCK_LARGE = Object.freeze({
  ...SUBGROUP_MATRIX_BLOCK,
  tile: Object.freeze({ rows: 64, tokens: 64, blocks: 2 }),
  minRows: 4096,
});

// The blocks that fit the device's workgroup memory: { matmul } (the default, else the 16 KiB
// one) and, where they fit, { matmulTall, matmulXL } for large parts.
export function subgroupMatrixBlocksFor(maxComputeWorkgroupStorageSize) {
  const fits = (block) => subgroupMatrixWorkgroupBytes(block) <= maxComputeWorkgroupStorageSize;
  return {
    matmul: fits(SUBGROUP_MATRIX_BLOCK) ? SUBGROUP_MATRIX_BLOCK : SUBGROUP_MATRIX_BLOCK_16K,
    matmulTall: fits(SUBGROUP_MATRIX_BLOCK_LARGE) ? SUBGROUP_MATRIX_BLOCK_LARGE : null,
    matmulXL: fits(SUBGROUP_MATRIX_BLOCK_XL) ? SUBGROUP_MATRIX_BLOCK_XL : null,
  };
}

export const SUBGROUP = 32; // invocations per subgroup (see subgroupMatrixSupport)
export const FRAG = 16; // M = N = K of the matrix configuration
const CHUNKS_PER_BLOCK = 8; // vec4s of a 32-weight quant block
const range = (n) => [...Array(n).keys()];
const indent = (text, spaces) => text.trim().split("\n").map((line) => " ".repeat(spaces) + line).join("\n");

// Whether this kernel can run: the feature, shader-f16, subgroups of exactly 32, and a
// 16 x 16 x 16 f16 -> f32 configuration. `features`: the device's (or adapter's); `info`: the
// ADAPTER's info (adapter.info): dawn.node's device.adapterInfo has no subgroupMatrixConfigs
// (seen with npm webgpu 0.6.2), so pass adapter.info where the adapter is at hand.
// Returns { ok, why }.
export function subgroupMatrixSupport(features, info = {}) {
  if (!features?.has("chromium-experimental-subgroup-matrix")) return { ok: false, why: "no chromium-experimental-subgroup-matrix" };
  if (!features.has("shader-f16")) return { ok: false, why: "no shader-f16" };
  if (info.subgroupMinSize !== SUBGROUP || info.subgroupMaxSize !== SUBGROUP) {
    return { ok: false, why: `subgroup sizes ${info.subgroupMinSize}..${info.subgroupMaxSize}, need exactly ${SUBGROUP}` };
  }
  const configs = [...(info.subgroupMatrixConfigs ?? [])];
  const fits = configs.some((c) => c.componentType === "f16" && c.resultComponentType === "f32"
    && c.M === FRAG && c.N === FRAG && c.K === FRAG);
  return fits ? { ok: true, why: "" } : { ok: false, why: `no f16 -> f32 ${FRAG}x${FRAG}x${FRAG} in subgroupMatrixConfigs (${configs.length} configs)` };
}

// The numbers the generator works with; throws where the block cannot be laid out.
function layoutOf({ tile, subgroups, pad = 8 }) {
  const L = {
    tileRows: tile.rows, tileTokens: tile.tokens, blocks: tile.blocks ?? 1,
    SR: subgroups.rows, ST: subgroups.tokens, pad,
  };
  L.FR = tile.rows / (L.SR * FRAG); // result fragments per subgroup along rows
  L.FT = tile.tokens / (L.ST * FRAG); // ... along tokens
  L.nSub = L.SR * L.ST;
  L.invocations = L.nSub * SUBGROUP;
  L.TK = 32 * L.blocks; // k per step (K need not be a multiple: the tail reads zero X)
  L.WS = L.TK + pad;
  L.XS = L.TK + pad;
  L.items = tile.rows * L.blocks; // (row, block) pairs of a W tile
  L.parts = Math.max(1, L.invocations / L.items); // invocations per item
  L.passes = Math.max(1, L.items / L.invocations); // items per invocation
  L.xVec4s = (tile.tokens * L.TK) / 4;
  L.xPasses = L.xVec4s / L.invocations;
  L.bytes = 2 * tile.rows * L.WS + 2 * tile.tokens * L.XS + 4 * L.nSub * FRAG * FRAG;
  const ok = [L.FR, L.FT, L.passes, L.xPasses].every((v) => Number.isInteger(v) && v >= 1)
    && Number.isInteger(L.parts) && CHUNKS_PER_BLOCK % L.parts === 0 && pad % 8 === 0 && L.blocks >= 1;
  if (!ok) throw new Error(`matmulSubgroupMatrixWGSL: no layout for ${JSON.stringify({ tile, subgroups, pad })}`);
  return L;
}

// Workgroup memory of a block, in bytes (the caller checks it against the device limit).
export function subgroupMatrixWorkgroupBytes(block) {
  return layoutOf(block).bytes;
}

// Store the vec4<f16> `value` of weights k .. k + 3 of tile row `row` into the W tile.
const storeW = (L, k, row, value) => `{ let o = ${row} * ${L.WS}u + ${k};
  wtile[o] = ${value}.x; wtile[o + 1u] = ${value}.y; wtile[o + 2u] = ${value}.z; wtile[o + 3u] = ${value}.w; }`;

// Invocation li's share of the W tile: item i = (row i % tile.rows, block i / tile.rows), 8
// chunks each. With more invocations than items, `parts` invocations split an item's chunks
// (part = li / items, the same across a subgroup where items is a multiple of 32, so the switch
// does not diverge); else each invocation takes items li, li + n, ... fetch(kb) dequantizes the
// step from block kb into registers (as f16), store writes them to the tile.
function weightTileLoad(emit, L) {
  const perPart = CHUNKS_PER_BLOCK / L.parts;
  const values = (p) => range(perPart).map((i) => `wv${p}_${i}`);
  const setup = range(L.passes).map((p) => `  let wi${p} = ${L.parts > 1 ? `li % ${L.items}u` : `li + ${p * L.invocations}u`};
  let dr${p} = wi${p} % ${L.tileRows}u;
  let wrow${p} = min(r0 + dr${p}, shape.rows - 1u) * shape.row_bytes;
  let wblock${p} = wi${p} / ${L.tileRows}u;
  let wk${p} = wblock${p} * 32u${L.parts > 1 ? ` + (li / ${L.items}u) * ${4 * perPart}u` : ""};
${values(p).map((v) => `  var ${v}: vec4<f16>;`).join("\n")}`).join("\n");
  const assign = (p, first) => values(p).map((v, i) => `${v} = vec4<f16>(${emit.chunk(first + i, "w")});`);
  const assignPart = (p) => (L.parts === 1
    ? assign(p, 0).join("\n")
    : `switch (li / ${L.items}u) {
${range(L.parts).map((part) => `  ${part === L.parts - 1 ? "default" : `case ${part}u`}: {
${indent(assign(p, part * perPart).join("\n"), 4)}
  }`).join("\n")}
}`);
  const fetch = (kb) => range(L.passes).map((p) => `    {
      // Blocks past K (tile.blocks > 1 and an odd number of blocks, or the step after the last)
      // read the last block again; their X is zero or never used.
      let j = min(${kb} + wblock${p}, nb - 1u);
${indent(emit.head(`wrow${p}`, "j", "w"), 6)}
${indent(assignPart(p), 6)}
    }`).join("\n");
  const store = range(L.passes).flatMap((p) => values(p).map((v, i) => `    ${storeW(L, `wk${p} + ${4 * i}u`, `dr${p}`, v)}`)).join("\n");
  return { setup, fetch, store };
}

// Invocation li's share of the X tile: vec4 e = li + q * n is token e / (TK / 4), chunk
// e % (TK / 4) of the step: neighbouring invocations read neighbouring vec4s of a token.
// Tokens past the end read the last token (their results are not stored); k past K reads zero.
function tokenTileLoad(L) {
  const perToken = L.TK / 4;
  const setup = range(L.xPasses).map((q) => `  let xe${q} = li + ${q * L.invocations}u;
  let xtok${q} = xe${q} / ${perToken}u;
  let xchunk${q} = xe${q} % ${perToken}u;
  let xrow${q} = min(t0 + xtok${q}, step.n_tokens - 1u) * k4;
  let xslot${q} = xtok${q} * ${L.XS}u + xchunk${q} * 4u;
  var xv${q}: vec4<f16>;`).join("\n");
  const fetch = (kb) => range(L.xPasses).map((q) => `    {
      let c = ${kb} * 8u + xchunk${q};
      xv${q} = vec4<f16>(select(vec4<f32>(0.0), X[xrow${q} + min(c, k4 - 1u)], c < k4));
    }`).join("\n");
  const store = range(L.xPasses).map((q) => `    xtile[xslot${q}] = xv${q}.x; xtile[xslot${q} + 1u] = xv${q}.y; xtile[xslot${q} + 2u] = xv${q}.z; xtile[xslot${q} + 3u] = xv${q}.w;`).join("\n");
  return { setup, fetch, store };
}

// The matrix builtins in either spelling (kernels/attention-subgroup-matrix.mjs uses them too).
export function matrixOps(spelling) {
  const legacy = spelling === "legacy";
  if (!legacy && spelling !== "template") throw new Error(`matmulSubgroupMatrixWGSL: unknown spelling ${spelling}`);
  const load = (type, array, offset, stride, major = "col_major") => (legacy
    ? `subgroupMatrixLoad<${type}>(&${array}, ${offset}, ${major === "col_major"}, ${stride})`
    : `subgroupMatrixLoad<${type}, ${major}>(&${array}, ${offset}, ${stride})`);
  const store = (array, offset, value, stride) => (legacy
    ? `subgroupMatrixStore(&${array}, ${offset}, ${value}, true, ${stride});`
    : `subgroupMatrixStore<col_major>(&${array}, ${offset}, ${value}, ${stride});`);
  return { load, store };
}

export const LEFT = `subgroup_matrix_left<f16, ${FRAG}, ${FRAG}>`;
export const RIGHT = `subgroup_matrix_right<f16, ${FRAG}, ${FRAG}>`;
export const RESULT = `subgroup_matrix_result<f32, ${FRAG}, ${FRAG}>`;

// One K step's products from workgroup memory: per 16 k, FR left and FT right fragments
// (each loaded once), FR x FT multiply-accumulates into c{a}_{b}.
function tileProducts(L, ops) {
  return range(L.TK / FRAG).map((s) => `    {
${range(L.FR).map((a) => `      let l${a} = ${ops.load(LEFT, "wtile", `${a * FRAG * L.WS + s * FRAG}u + wr0 * ${L.WS}u`, `${L.WS}u`, "row_major")};`).join("\n")}
${range(L.FT).map((b) => `      let x${b} = ${ops.load(RIGHT, "xtile", `${b * FRAG * L.XS + s * FRAG}u + xt0`, `${L.XS}u`)};`).join("\n")}
${range(L.FR).flatMap((a) => range(L.FT).map((b) => `      c${a}_${b} = subgroupMatrixMultiplyAccumulate(l${a}, x${b}, c${a}_${b});`)).join("\n")}
    }`).join("\n");
}

// Each result matrix through the subgroup's staging area into the epilogue. The barriers make
// the matrix store visible to the lanes' loads and keep the next store from overwriting values
// still being read; every subgroup runs the same number of them (workgroup-uniform).
function epilogue(L, ops) {
  return range(L.FR).flatMap((a) => range(L.FT).map((b) => `  ${ops.store("results", "sbase", `c${a}_${b}`, `${FRAG}u`)}
  workgroupBarrier();
${range((FRAG * FRAG) / SUBGROUP).map((i) => `  store(r0 + wr0 + ${a * FRAG}u + er, t0 + tt0 + ${b * FRAG + 2 * i}u + et, results[sbase + lane + ${i * SUBGROUP}u]);`).join("\n")}
  workgroupBarrier();`)).join("\n");
}

export function matmulSubgroupMatrixWGSL(typeName, block = SUBGROUP_MATRIX_BLOCK) {
  const L = layoutOf(block);
  const ops = matrixOps(block.spelling ?? "template");
  const weights = weightTileLoad(dequantEmitter(typeName), L);
  const tokens = tokenTileLoad(L);
  const accumulators = range(L.FR).flatMap((a) => range(L.FT).map((b) => `  var c${a}_${b} = ${RESULT}();`)).join("\n");
  return /* wgsl */ `enable f16;
enable subgroups;
enable chromium_experimental_subgroup_matrix;
diagnostic(off, chromium.subgroup_matrix_uniformity);
${MATMUL_BINDINGS}

// ${L.bytes} bytes of workgroup memory.
var<workgroup> wtile: array<f16, ${L.tileRows * L.WS}>;
var<workgroup> xtile: array<f16, ${L.tileTokens * L.XS}>;
var<workgroup> results: array<f32, ${L.nSub * FRAG * FRAG}>;

@compute @workgroup_size(${L.invocations})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let r0 = wid.x * ${L.tileRows}u;
  let t0 = wid.y * ${L.tileTokens}u;
  let nb = shape.k / 32u;
  let k4 = shape.k / 4u;
  // This invocation's subgroup (subgroups of 32 consecutive invocations), its lane, and the
  // subgroup's share of the tile: rows wr0 .. wr0 + ${L.FR * FRAG}, tokens tt0 .. tt0 + ${L.FT * FRAG}.
  let sg = li / ${SUBGROUP}u;
  let lane = li % ${SUBGROUP}u;
  let wr0 = (sg % ${L.SR}u) * ${L.FR * FRAG}u;
  let tt0 = (sg / ${L.SR}u) * ${L.FT * FRAG}u;
  let xt0 = tt0 * ${L.XS}u;
  let sbase = sg * ${FRAG * FRAG}u;
  let er = lane % ${FRAG}u;
  let et = lane / ${FRAG}u;
${weights.setup}
${tokens.setup}
${accumulators}
${weights.fetch("0u")}
${tokens.fetch("0u")}
  for (var kb0 = 0u; kb0 < nb; kb0 += ${L.blocks}u) {
${weights.store}
${tokens.store}
    workgroupBarrier();
${weights.fetch(`(kb0 + ${L.blocks}u)`)}
${tokens.fetch(`(kb0 + ${L.blocks}u)`)}
${tileProducts(L, ops)}
    workgroupBarrier();
  }
${epilogue(L, ops)}
}`;
}

