// The prefill mat-mat for real GPUs without subgroup matrices, on int8 activations: the Y of
// matmulWGSL (same uniforms and epilogue) with X given as int8 rows (activations-q8.mjs, one
// row per token), as llama.cpp's mat-mats without tensor cores read theirs. Per step of
// tile.blocks quant blocks along K the workgroup writes its W tile as int8 values (q8Parts of
// quant.mjs: each weight's byte less its offset, with the block's scales and bias) and its X
// tile's int8 words and scales into workgroup memory; each invocation then accumulates `rows` x
// `tokens` outputs, 32 weights by 8 integer dot products of four (dot4I8Packed) and one or two
// float multiply-adds, where the float tiles (matmul-tiled.mjs) take 32 multiply-adds. As there,
// the next step's share of the tiles is read into registers before the products.
//
// Workgroup memory is K-major: half h (values 16h .. 16h + 15, one vec4<u32>) of block b of row
// or token i at (2b + h) * tile + i, its scales at b * tile + i.

import { MATMUL_BINDINGS_Q8, loadXQ8, matrixEmitter } from "./matmul.mjs";

// 256 invocations of 4 x 4 outputs, 64 x 64 tiles, two blocks a step: 11 KiB of workgroup
// memory, within every device's 16. Other shapes measured: bench/GPU_NOTES.md, session 12.
export const TILED_Q8_BLOCK = Object.freeze({ tile: Object.freeze({ rows: 64, tokens: 64, blocks: 2 }), rows: 4, tokens: 4, q8: true });
// For parts of minRows rows where its tiles make minWorkgroups (graph.mjs fills): 128 x 64 tiles
// of 8 x 4 outputs, one block a step (8.5 KiB). On an H100 the 8B's gate / down / q at 512
// tokens (256+ workgroups) took 6-15% less time, its gate at 128 and 256 tokens (224, 448) 0-13%
// less; with 128 workgroups (down / q at 256 tokens) up to 6% more, with 64 (at 128 tokens) 1.6x
// as much (docs/PERFORMANCE.md, session 13).
export const TILED_Q8_TALL_BLOCK = Object.freeze({
  tile: Object.freeze({ rows: 128, tokens: 64, blocks: 1 }), rows: 8, tokens: 4, q8: true, minRows: 4096, minWorkgroups: 200,
});

const range = (n) => [...Array(n).keys()];

function layoutOf({ tile, rows: R, tokens: T }) {
  const L = {
    R, T, TR: tile.rows, TT: tile.tokens, KB: tile.blocks,
    rowGroups: tile.rows / R, tokenGroups: tile.tokens / T,
  };
  L.invocations = L.rowGroups * L.tokenGroups;
  // Units of tile filling: (row, block) items of W, then (token, block) items of X (invocation
  // li takes units li, li + invocations, ...; where W's items are a multiple of 32, no warp
  // takes both kinds in one pass).
  L.wItems = L.TR * L.KB;
  L.units = L.wItems + L.TT * L.KB;
  const ok = Number.isInteger(L.rowGroups) && Number.isInteger(L.tokenGroups);
  if (!ok) throw new Error(`matmulTiledQ8WGSL: no layout for ${JSON.stringify({ tile, rows: R, tokens: T })}`);
  return L;
}

// A q8 word as signed bytes: bytes below 128 less `offset` (adding 128 - offset to each byte
// cannot carry; flipping bit 7 then reads it as the signed byte less 128).
function signedWord({ offset, signed }, word) {
  if (signed || !offset) return word;
  const add = (128 - offset) * 0x01010101;
  return `((${word}) + 0x${add.toString(16)}u) ^ 0x80808080u`;
}

export function matmulTiledQ8WGSL(typeName, block) {
  const L = layoutOf(block);
  const emit = matrixEmitter(typeName);
  const parts = emit.q8;
  if (!parts) throw new Error(`matmulTiledQ8WGSL: ${typeName} has no int8 form`);
  const passes = range(Math.ceil(L.units / L.invocations));
  const xBranch = (p) => ((p + 1) * L.invocations > L.units ? ` else if (u < ${L.units}u)` : " else");
  const words = (h) => `vec4<u32>(${range(4).map((k) => signedWord(parts, parts.word("w", 4 * h + k))).join(", ")})`;
  const scales = parts.scales("w");
  const twoScales = scales.length === 2;
  // Unit u's share of the step from block kb, into registers q0, q1 (the two halves) and s.
  const fetch = (kb) => passes.map((p) => `    {
      let u = li + ${p * L.invocations}u;
      if (u < ${L.wItems}u) {
        let j = min(${kb} + u / ${L.TR}u, nb - 1u);
        let wrow = min(r0 + u % ${L.TR}u, shape.rows - 1u) * shape.row_bytes;
${emit.head("wrow", "j", "w").trim().split("\n").map((line) => `        ${line}`).join("\n")}
        q0_${p} = ${words(0)};
        q1_${p} = ${words(1)};
        s_${p} = vec4<f32>(${scales[0]}, ${scales[1] ?? scales[0]}, ${parts.bias ? parts.bias("w") : "0.0"}, 0.0);
      }${xBranch(p)} {
        let v = u - ${L.wItems}u;
        let inside = ${kb} + v / ${L.TT}u < nb;
        let j = min(${kb} + v / ${L.TT}u, nb - 1u);
        let xrow = min(t0 + v % ${L.TT}u, step.n_tokens - 1u) * x_row;
${loadXQ8("nb", "        ", "xrow + ")}
        q0_${p} = select(vec4<u32>(0u), xa, inside);
        q1_${p} = select(vec4<u32>(0u), xb, inside);
        s_${p} = select(vec4<f32>(0.0), vec4<f32>(xd, 0.0, 0.0), inside);
      }
    }`).join("\n");
  const store = passes.map((p) => `    {
      let u = li + ${p * L.invocations}u;
      if (u < ${L.wItems}u) {
        let i = u % ${L.TR}u;
        let b = u / ${L.TR}u;
        tile_wq[2u * b * ${L.TR}u + i] = q0_${p};
        tile_wq[(2u * b + 1u) * ${L.TR}u + i] = q1_${p};
        tile_ws[b * ${L.TR}u + i] = s_${p};
      }${xBranch(p)} {
        let v = u - ${L.wItems}u;
        let i = v % ${L.TT}u;
        let b = v / ${L.TT}u;
        tile_xq[2u * b * ${L.TT}u + i] = q0_${p};
        tile_xq[(2u * b + 1u) * ${L.TT}u + i] = q1_${p};
        tile_xs[b * ${L.TT}u + i] = s_${p}.xy;
      }
    }`).join("\n");
  const dot4 = (a, b) => range(4).map((c) => `dot4I8Packed(${a}.${"xyzw"[c]}, ${b}.${"xyzw"[c]})`).join(" + ");
  const product = (r, t) => (twoScales
    ? `a${r}_${t} += xs${t}.x * (ws${r}.x * exact_f32(${dot4(`wl${r}`, `xl${t}`)}) + ws${r}.y * exact_f32(${dot4(`wh${r}`, `xh${t}`)})) + ws${r}.z * xs${t}.y;`
    : `a${r}_${t} += ws${r}.x * xs${t}.x * exact_f32(${dot4(`wl${r}`, `xl${t}`)} + ${dot4(`wh${r}`, `xh${t}`)}) + ws${r}.z * xs${t}.y;`);
  const products = `    for (var b = 0u; b < ${L.KB}u; b++) {
${range(L.R).map((r) => `      let wl${r} = tile_wq[2u * b * ${L.TR}u + tx + ${r * L.rowGroups}u];
      let wh${r} = tile_wq[(2u * b + 1u) * ${L.TR}u + tx + ${r * L.rowGroups}u];
      let ws${r} = tile_ws[b * ${L.TR}u + tx + ${r * L.rowGroups}u];`).join("\n")}
${range(L.T).map((t) => `      let xl${t} = tile_xq[2u * b * ${L.TT}u + ty + ${t * L.tokenGroups}u];
      let xh${t} = tile_xq[(2u * b + 1u) * ${L.TT}u + ty + ${t * L.tokenGroups}u];
      let xs${t} = tile_xs[b * ${L.TT}u + ty + ${t * L.tokenGroups}u];`).join("\n")}
${range(L.R).flatMap((r) => range(L.T).map((t) => `      ${product(r, t)}`)).join("\n")}
    }`;
  return /* wgsl */ `${MATMUL_BINDINGS_Q8}
var<workgroup> tile_wq: array<vec4<u32>, ${2 * L.KB * L.TR}>;
var<workgroup> tile_ws: array<vec4<f32>, ${L.KB * L.TR}>;
var<workgroup> tile_xq: array<vec4<u32>, ${2 * L.KB * L.TT}>;
var<workgroup> tile_xs: array<vec2<f32>, ${L.KB * L.TT}>;

// An integer of magnitude below 2^22 (a block's dot product: 32 x 128 x 127 at most) as f32 by
// an integer add and a float subtract, where f32(v) is a conversion at a quarter of their rate.
fn exact_f32(v: i32) -> f32 {
  return bitcast<f32>(bitcast<u32>(v) + 0x4b400000u) - 12582912.0;
}

@compute @workgroup_size(${L.invocations})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) li: u32) {
  let r0 = wid.x * ${L.TR}u;
  let t0 = wid.y * ${L.TT}u;
  let tx = li % ${L.rowGroups}u;
  let ty = li / ${L.rowGroups}u;
  let nb = shape.k / 32u;
  let x_row = nb * 5u / 2u;
${passes.map((p) => `  var q0_${p}: vec4<u32>;\n  var q1_${p}: vec4<u32>;\n  var s_${p}: vec4<f32>;`).join("\n")}
${range(L.R).flatMap((r) => range(L.T).map((t) => `  var a${r}_${t} = 0.0;`)).join("\n")}
${fetch("0u")}
  for (var kb0 = 0u; kb0 < nb; kb0 += ${L.KB}u) {
${store}
    workgroupBarrier();
${fetch(`(kb0 + ${L.KB}u)`)}
${products}
    workgroupBarrier();
  }
${range(L.R).flatMap((r) => range(L.T).map((t) => `  store(r0 + tx + ${r * L.rowGroups}u, t0 + ty + ${t * L.tokenGroups}u, a${r}_${t});`)).join("\n")}
}`;
}
