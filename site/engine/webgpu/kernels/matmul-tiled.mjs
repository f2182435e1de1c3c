// The prefill mat-mat for real GPUs: the Y of matmulWGSL (same bindings, uniforms and epilogue),
// computed a tile of tile.rows rows x tile.tokens tokens per workgroup. matmulWGSL re-reads X
// from global memory in every invocation and stays far below the ALU limit (3-9 TFLOP/s on an
// H100); here, per step of tile.blocks quant blocks along K, the workgroup dequantizes its W
// tile once into workgroup memory and copies its X tile there, then each invocation
// accumulates a register sub-tile of `rows` rows x `tokens` tokens from workgroup memory. The
// next step's W and X are read into registers before the products, so that their loads
// overlap the arithmetic (a step past K reads clamped and is never stored).
//
// Workgroup memory is K-major (vec4 chunk c of row or token i at c * tile + i) and the
// invocations of a warp take consecutive rows or tokens, so reads and writes hit consecutive
// vec4s: no bank conflicts without padding (which would push 64 x 64 tiles past 16 KiB).
// (Tiles stored as f16, each 4-product sum in f16, were measured on an H100: no faster, since
// converting each sum to f32 cost what the f16 products saved; the f16 path uses subgroup
// matrices instead, kernels/matmul-subgroup-matrix.mjs.)

import { MATMUL_BINDINGS, matmulWGSL, matmulDispatch, matvecWarpWGSL, matvecWarpDispatch } from "./matmul.mjs";
import { matmulSubgroupMatrixWGSL } from "./matmul-subgroup-matrix.mjs";
import { dequantEmitter } from "./quant.mjs";
import { matmulTiledQ8WGSL } from "./matmul-tiled-q8.mjs";

// 256 invocations of 2 x 4 outputs in 12 KiB of workgroup memory: each weight is dequantized
// once per 64 tokens of a prefill chunk (graph.mjs); tiles of 32 rows make enough workgroups
// for the 1024-row k/v projections. The fastest shape within 16 KiB (what every
// device allows) on an H100 (Llama-3-8B Q4_0 matrices, 64 tokens).
export const TILED_BLOCK = Object.freeze({
  tile: Object.freeze({ rows: 32, tokens: 64, blocks: 1 }), rows: 2, tokens: 4,
});
// Faster shapes where the device allows more workgroup memory, best first (the same H100 runs):
// two blocks per K step everywhere (down 719 -> 610 us), and for large parts 128 x 64 tiles with
// 8 x 4 outputs per invocation (gate/up 698 -> 396 us at 64 tokens). graph.mjs takes the first
// that fits, and the tall one for parts of minRows rows where its tiles make minWorkgroups: in
// 512-token chunks of the 8B (f32 path, H100) it took q / o / down 39 / 40 / 138 -> 24 / 24 /
// 81 ms a chunk (prefill at 1024 tokens 1,239 -> 1,575 tok/s), but at 128 tokens its 64
// workgroups for 4096 rows lost (1,098 -> 1,014 tok/s) where 112 for 14336 rows at 64 tokens
// had won. Within 32 KiB (Chrome on desktop GPUs) the same tiles at one block per step: 1,083 /
// 1,509 tok/s at 128 / 1024 tokens against 852 / 973 with no large tiles. (128 x 128 tiles of
// 8 x 8: no faster; 64 x 64 of 4 x 4 for the rest: k / v faster, SmolLM2 at 128 tokens 11.9k ->
// 9.9k tok/s.)
export const TILED_BLOCKS = Object.freeze([
  Object.freeze({ tile: Object.freeze({ rows: 32, tokens: 64, blocks: 2 }), rows: 2, tokens: 4 }),
  TILED_BLOCK,
]);
const LARGE_PARTS = Object.freeze({ rows: 8, tokens: 4, minRows: 4096, minWorkgroups: 100 });
export const TILED_TALL_BLOCKS = Object.freeze([
  Object.freeze({ tile: Object.freeze({ rows: 128, tokens: 64, blocks: 2 }), ...LARGE_PARTS }),
  Object.freeze({ tile: Object.freeze({ rows: 128, tokens: 64, blocks: 1 }), ...LARGE_PARTS }),
  ...TILED_BLOCKS,
]);

// Workgroup memory of a tiled block: its W and X tiles, one vec4 per 4 values.
export function tiledWorkgroupBytes({ tile }) {
  return (tile.rows + tile.tokens) * CHUNKS_PER_BLOCK * tile.blocks * 16;
}

// The first of `blocks` whose tiles fit `limitBytes` of workgroup memory.
function firstFitting(blocks, limitBytes) {
  return blocks.find((b) => tiledWorkgroupBytes(b) <= limitBytes);
}

// The blocks that fit the device's workgroup memory, as graph.mjs names them (no XL tier here).
export function tiledBlocksFor(maxComputeWorkgroupStorageSize) {
  return {
    matmul: firstFitting(TILED_BLOCKS, maxComputeWorkgroupStorageSize),
    matmulTall: firstFitting(TILED_TALL_BLOCKS, maxComputeWorkgroupStorageSize),
    matmulXL: null,
  };
}

const range = (n) => [...Array(n).keys()];
const CHUNKS_PER_BLOCK = 8; // vec4s of a 32-weight quant block
const indent = (text, spaces) => text.trim().split("\n").map((line) => " ".repeat(spaces) + line).join("\n");

// The numbers the generator works with; throws where the shape cannot be laid out.
function tiledLayout({ tile, rows: R, tokens: T }) {
  const layout = {
    R, T, tileRows: tile.rows, tileTokens: tile.tokens, chunks: CHUNKS_PER_BLOCK * tile.blocks,
    rowGroups: tile.rows / R, tokenGroups: tile.tokens / T, items: tile.rows * tile.blocks,
  };
  layout.invocations = layout.rowGroups * layout.tokenGroups;
  const { invocations: n, items } = layout;
  const loadsWeights = items % n === 0 || (n % items === 0 && CHUNKS_PER_BLOCK % (n / items) === 0);
  const ok = Number.isInteger(layout.rowGroups) && Number.isInteger(layout.tokenGroups) && tile.tokens % 8 === 0
    && (tile.tokens * layout.chunks) % n === 0 && loadsWeights;
  if (!ok) throw new Error(`matmulTiledWGSL: no layout for ${JSON.stringify({ tile, rows: R, tokens: T })}`);
  return layout;
}

// Invocation li's share of the W tile: (row, block) items of 8 chunks each. With fewer items
// than invocations, `parts` invocations split an item's chunks (part = li / items: the same
// across a warp where items is a multiple of 32, so the switch does not diverge); else each
// invocation takes items li, li + n, ... fetch(kb) dequantizes the step from block kb into
// registers, store writes them to the tile.
function weightTileLoad(emit, { items, invocations: n, tileRows }) {
  const parts = Math.max(1, n / items);
  const perPart = CHUNKS_PER_BLOCK / parts;
  const passes = range(Math.max(1, items / n));
  const values = (p) => range(perPart).map((i) => `wv${p}_${i}`);
  const setup = passes.map((p) => `  let wi${p} = ${parts > 1 ? `li % ${items}u` : `li + ${p * n}u`};
  let wrow${p} = min(r0 + wi${p} % ${tileRows}u, shape.rows - 1u) * shape.row_bytes;
  let wblock${p} = wi${p} / ${tileRows}u;
  let wslot${p} = wblock${p} * ${CHUNKS_PER_BLOCK * tileRows}u + ${parts > 1 ? `(li / ${items}u) * ${perPart * tileRows}u + ` : ""}wi${p} % ${tileRows}u;
${values(p).map((v) => `  var ${v}: vec4<f32>;`).join("\n")}`).join("\n");
  const assign = (p, first) => values(p).map((v, i) => `${v} = ${emit.chunk(first + i, "w")};`);
  const assignPart = (p) => (parts === 1
    ? assign(p, 0).join("\n")
    : `switch (li / ${items}u) {
${range(parts).map((part) => `  ${part === parts - 1 ? "default" : `case ${part}u`}: { ${assign(p, part * perPart).join(" ")} }`).join("\n")}
}`);
  const fetch = (kb) => passes.map((p) => `    {
      let j = min(${kb} + wblock${p}, nb - 1u);
${indent(emit.head(`wrow${p}`, "j", "w"), 6)}
${indent(assignPart(p), 6)}
    }`).join("\n");
  const store = passes.flatMap((p) => values(p).map((v, i) => `    wtile[wslot${p} + ${i * tileRows}u] = ${v};`)).join("\n");
  return { setup, fetch, store };
}

// Invocation li's share of the X tile: element e = li + q * n is token (e / (8 * chunks)) * 8 +
// e % 8, chunk (e / 8) % chunks: 8 neighbouring invocations read 8 tokens' same vec4 (64-byte
// runs per token per warp) and write 8 neighbouring slots. Chunks past K are zero.
function tokenTileLoad({ tileTokens, chunks, invocations: n }) {
  const passes = range((tileTokens * chunks) / n);
  const setup = passes.map((q) => `  let xe${q} = li + ${q * n}u;
  let xtok${q} = (xe${q} / ${8 * chunks}u) * 8u + xe${q} % 8u;
  let xchunk${q} = (xe${q} / 8u) % ${chunks}u;
  let xrow${q} = min(t0 + xtok${q}, step.n_tokens - 1u) * k4;
  let xslot${q} = xchunk${q} * ${tileTokens}u + xtok${q};
  var xv${q}: vec4<f32>;`).join("\n");
  const fetch = (kb) => passes.map((q) => `    {
      let chunk = ${kb} * 8u + xchunk${q};
      xv${q} = select(vec4<f32>(0.0), X[xrow${q} + min(chunk, k4 - 1u)], chunk < k4);
    }`).join("\n");
  const store = passes.map((q) => `    xtile[xslot${q}] = xv${q};`).join("\n");
  return { setup, fetch, store };
}

// One K step's products from workgroup memory: rows tx + r * rowGroups, tokens ty + t * tokenGroups.
function tileProducts({ R, T, tileRows, tileTokens, chunks, rowGroups, tokenGroups }) {
  return `    for (var c = 0u; c < ${chunks}u; c++) {
      let wbase = c * ${tileRows}u + tx;
      let xbase = c * ${tileTokens}u + ty;
${range(R).map((r) => `      let w${r} = wtile[wbase + ${r * rowGroups}u];`).join("\n")}
${range(T).map((t) => `      let x${t} = xtile[xbase + ${t * tokenGroups}u];`).join("\n")}
${range(R).flatMap((r) => range(T).map((t) => `      a${r}_${t} += dot(w${r}, x${t});`)).join("\n")}
    }`;
}

export function matmulTiledWGSL(typeName, block) {
  const L = tiledLayout(block);
  const weights = weightTileLoad(dequantEmitter(typeName), L);
  const tokens = tokenTileLoad(L);
  const fetch = (kb) => `${weights.fetch(kb)}\n${tokens.fetch(kb)}`;
  const accumulators = range(L.R).flatMap((r) => range(L.T).map((t) => `  var a${r}_${t} = 0.0;`)).join("\n");
  const stores = range(L.R).flatMap((r) => range(L.T).map((t) => `  store(r0 + tx + ${r * L.rowGroups}u, t0 + ty + ${t * L.tokenGroups}u, a${r}_${t});`)).join("\n");
  const KB = block.tile.blocks;
  return /* wgsl */ `${MATMUL_BINDINGS}
var<workgroup> wtile: array<vec4<f32>, ${L.tileRows * L.chunks}>;
var<workgroup> xtile: array<vec4<f32>, ${L.tileTokens * L.chunks}>;

@compute @workgroup_size(${L.invocations})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let r0 = wid.x * ${L.tileRows}u;
  let t0 = wid.y * ${L.tileTokens}u;
  let tx = li % ${L.rowGroups}u;
  let ty = li / ${L.rowGroups}u;
  let nb = shape.k / 32u;
  let k4 = shape.k / 4u;
${weights.setup}
${tokens.setup}
${accumulators}
${fetch("0u")}
  for (var kb0 = 0u; kb0 < nb; kb0 += ${KB}u) {
${weights.store}
${tokens.store}
    workgroupBarrier();
${fetch(`(kb0 + ${KB}u)`)}
${tileProducts(L)}
    workgroupBarrier();
  }
${stores}
}`;
}

// Workgroups for a block with a `tile` (this kernel's or the subgroup matrix one's).
export function matmulTiledDispatch(rows, nTokens, { tile }) {
  return [Math.ceil(rows / tile.rows), Math.ceil(nTokens / tile.tokens)];
}

// The prefill mat-mat for a block of any shape: the warp mat-vec for a few tokens where the
// block has `warps`, on subgroup matrices where it has `subgroups`
// (kernels/matmul-subgroup-matrix.mjs), tiled where it has a `tile` (on int8 activations where
// it has `q8`, kernels/matmul-tiled-q8.mjs), else matmulWGSL.
const prefillKernel = (block) => {
  if (block.warps) return [matvecWarpWGSL, (rows, nTokens, b) => matvecWarpDispatch(rows, b)];
  if (block.subgroups) return [matmulSubgroupMatrixWGSL, matmulTiledDispatch];
  if (block.tile) return [block.q8 ? matmulTiledQ8WGSL : matmulTiledWGSL, matmulTiledDispatch];
  return [matmulWGSL, matmulDispatch];
};

export function prefillMatmulWGSL(typeName, block) {
  return prefillKernel(block)[0](typeName, block);
}

export function prefillMatmulDispatch(rows, nTokens, block) {
  return prefillKernel(block)[1](rows, nTokens, block);
}
