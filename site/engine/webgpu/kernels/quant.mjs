// Dequantization in WGSL, one emitter per GGML type (block layouts as in ggml-common.h).
// For the 32 weights j*32 .. j*32+31 of the row starting at byte `row` of the storage array `W`:
//   head(row, j, w)  statements declaring the group's scalars (names prefixed with w),
//   chunk(i, w)      an expression for the vec4 of weights 4i .. 4i+3 (i < 8),
//   blockDot(w)      (some types) the block's dot product with x0 .. x7 (vec4s in scope, and
//                    xsum = their sum) with the scale applied once per block, not per weight;
//   blockX           its statements on x0 .. x7 alone, run once per block for all rows;
//   words            (some types) the dot product word by word, for one token or a few
//                    (kernels/matmul.mjs says why) at `rows` rows an invocation, over units of
//                    `blocks` blocks (1, or 2 where a block is not a whole number of words: such
//                    units need rows that start on a word) of `unitWords` words, in parts(p),
//                    each a sum over some of the unit's words: its words `quants` (indices in
//                    the unit), `sums` declaring running sums over x, x(i, x) the statements on
//                    x for its i-th word (x(v): the expression of vec4 v of block `block` of the
//                    unit), dot(q, i) that word's partial dot product, `after` statements once
//                    all are in, scale(word, s) the part's sum s scaled (word(k): the unit's
//                    word k); names prefixed with p (one set per token), unique across parts;
//   q8               (Q8_ACTIVATION_TYPES) the block as int8 values for integer dot products of
//                    four (dot4I8Packed), see q8Parts;
//   blockDotQ8(w)    from q8: the block's dot product with int8 activations (activations-q8.mjs):
//                    their words xa, xb (values 0-15, 16-31) and xd (scale, scale * sum) in
//                    scope, the scales applied once.
// The generated code is straight-line on purpose: SwiftShader spills private arrays and
// aggregate return values to memory, which made kernels several times slower.
// tests/engine/reference.py holds the numpy version of each.

export const QUANT_HELPERS = /* wgsl */ `
fn u16_at(o: u32) -> u32 { return (W[o >> 2u] >> ((o & 2u) * 8u)) & 0xffffu; }
fn u8_at(o: u32) -> u32 { return (W[o >> 2u] >> ((o & 3u) * 8u)) & 0xffu; }
fn f16_at(o: u32) -> f32 { return unpack2x16float(u16_at(o)).x; }
fn i8_at(o: u32) -> f32 { return f32(bitcast<i32>(u8_at(o) << 24u) >> 24u); }
// The u32 at an even byte offset: the word itself or a 16-bit funnel of two words.
fn u32_at_even(o: u32) -> u32 {
  let i = o >> 2u;
  return select(W[i], (W[i] >> 16u) | (W[i + 1u] << 16u), (o & 2u) != 0u);
}
// Nibbles and bytes of a word as floats without shifts: on SwiftShader a shift costs about four
// ANDs (measured; SPIR-V shifts by a vector amount, even for a constant, which x86 lacks), and
// an AND, a conversion and a multiply by a power of two (exact) replace it. Byte b of the masked
// word is worth 2^(8b) times its value, BYTE_WEIGHTS undoes that. Sign: as i32 the top byte's
// bit 31 is negative; flipping it beforehand makes the top nibble or byte come out offset by -8
// or -128 instead, which a constant undoes (for bytes 0-2, flipping their bit 7 does the same
// for i8x4).
// The conversion is the signed one: x86 has none from unsigned (LLVM expands it into several
// instructions; SwiftShader decode 3.9-4.4 -> 4.8-5.2 tok/s once quants converted as signed).
// (Building the float through the mantissa, 2^23 + v minus 2^23, was as fast on SwiftShader but
// not exact on NVIDIA, whose compiler reassociates the subtraction.)
const BYTE_WEIGHTS = vec4<f32>(1.0, 0.00390625, 1.52587890625e-05, 5.9604644775390625e-08);
const LO_NIBBLES = vec4<u32>(0xfu, 0xf00u, 0xf0000u, 0xf000000u);
const HI_NIBBLES = vec4<u32>(0xf0u, 0xf000u, 0xf00000u, 0xf0000000u);
const BYTES = vec4<u32>(0xffu, 0xff00u, 0xff0000u, 0xff000000u);
fn masked(q: u32, m: vec4<u32>) -> vec4<f32> { return vec4<f32>(bitcast<vec4<i32>>(vec4<u32>(q) & m)); }
fn lo_nibbles(q: u32) -> vec4<f32> { return masked(q, LO_NIBBLES) * BYTE_WEIGHTS; }
fn hi_nibbles(q: u32) -> vec4<f32> {
  return masked(q ^ 0x80000000u, HI_NIBBLES) * (BYTE_WEIGHTS * 0.0625) + vec4<f32>(0.0, 0.0, 0.0, 8.0);
}
fn nibbles(q: u32, high: bool) -> vec4<f32> {
  return masked(q ^ select(0u, 0x80000000u, high), select(LO_NIBBLES, HI_NIBBLES, high))
       * (BYTE_WEIGHTS * select(1.0, 0.0625, high)) + vec4<f32>(0.0, 0.0, 0.0, select(0.0, 8.0, high));
}
fn i8x4(q: u32) -> vec4<f32> {
  return masked(q ^ 0x00808080u, BYTES) * BYTE_WEIGHTS - vec4<f32>(128.0, 128.0, 128.0, 0.0);
}
// Bits 0-3 of b as bit 4 of bytes 0-3.
fn spread4(b: u32) -> u32 { return ((b & 1u) << 4u) | ((b & 2u) << 11u) | ((b & 4u) << 18u) | ((b & 8u) << 25u); }
// Q4_K / Q5_K: the 6-bit scale and min of sub-block s from the 12 packed bytes at sc.
fn scale_min_k4(sc: u32, s: u32) -> vec2<f32> {
  if (s < 4u) { return vec2<f32>(f32(u8_at(sc + s) & 63u), f32(u8_at(sc + s + 4u) & 63u)); }
  let a = u8_at(sc + s + 4u);
  return vec2<f32>(f32((a & 0xfu) | ((u8_at(sc + s - 4u) >> 6u) << 4u)),
                   f32((a >> 4u) | ((u8_at(sc + s) >> 6u) << 4u)));
}
`;

const range = (n) => [...Array(n).keys()];

// For the block dot products of nibbles and bytes read by masks (see BYTE_WEIGHTS): x0 .. x7
// with BYTE_WEIGHTS applied once per block instead of once per row, as xp0 .. xp7 (for nibbles
// xp4 .. xp7 also undo the high nibble's factor 16), and xtop, the sum of the values that meet a
// top high nibble or a top byte (w components).
export const NIBBLE_X = `${range(8).map((i) => `let xp${i} = x${i} * ${i < 4 ? "BYTE_WEIGHTS" : "(BYTE_WEIGHTS * 0.0625)"};`).join("\n")}
let xtop = x4.w + x5.w + x6.w + x7.w;`;
export const BYTE_X = `${range(8).map((i) => `let xp${i} = x${i} * BYTE_WEIGHTS;`).join("\n")}
let xtop = ${range(8).map((i) => `x${i}.w`).join(" + ")};`;
// Word q's nibbles times x: its low ones against lo, its high ones against hi (x already times
// 1/16), except that its top high nibble counts 8 less.
export const nibbleWordDot = (q, lo, hi) => `dot(masked(${q}, LO_NIBBLES), ${lo}) + dot(masked(${q} ^ 0x80000000u, HI_NIBBLES), ${hi})`;
// Word q's signed bytes times x, except that bytes 0-2 count 128 more.
export const byteWordDot = (q, x) => `dot(masked(${q} ^ 0x00808080u, BYTES), ${x})`;
// Sum over the four words q(k) of a block's nibbles (low ones against xp0 .. xp3, high ones
// against xp4 .. xp7) of value * x, except that each top high nibble counts 8 less (add 8 * xtop).
export const nibbleDot = (q) => range(4).map((k) => nibbleWordDot(q(k), `xp${k}`, `xp${k + 4}`)).join("\n         + ");
// Sum over the eight words q(k) of a block's signed bytes of value * x, except that bytes 0-2 of
// each word count 128 more (subtract 128 * (xsum - xtop)).
export const byteDot = (q) => range(8).map((k) => byteWordDot(q(k), `xp${k}`)).join("\n         + ");

// A part of a type's word-by-word dot products (the `words` of an emitter) over aligned words of
// nibbles: the block's words `quants` hold values 4i.. (low nibbles) and 16 + 4i.. (high), read
// by masks as in nibbleDot; its sum counts each top high nibble 8 less, so scale(word, s) gets
// xtop and xsum (names prefixed with p) to undo that and apply the block's scales.
export const nibbleWords = (p, quants, scale) => ({
  block: 0,
  quants,
  sums: `var ${p}xs4 = vec4<f32>(0.0);\nvar ${p}xtop = 0.0;`,
  x: (i, x) => `let ${p}xlo${i} = ${x(i)};
let ${p}xhi${i} = ${x(i + 4)};
${p}xs4 += ${p}xlo${i} + ${p}xhi${i};
${p}xtop += ${p}xhi${i}.w;
let ${p}xpl${i} = ${p}xlo${i} * BYTE_WEIGHTS;
let ${p}xph${i} = ${p}xhi${i} * (BYTE_WEIGHTS * 0.0625);`,
  dot: (q, i) => nibbleWordDot(q, `${p}xpl${i}`, `${p}xph${i}`),
  after: `let ${p}xsum = dot(${p}xs4, vec4<f32>(1.0));`,
  scale,
});

// The int8 activation word of values 4k .. 4k+3 of the block (k < 8).
const xWord = (k) => `${k < 4 ? "xa" : "xb"}.${"xyzw"[k % 4]}`;
// A block as int8 values (q8Parts): word(w, k) an expression for the word of values 4k .. 4k+3
// (k < 8) as four bytes, each less than 128, or signed bytes where `signed`; a weight is
// scale * (byte - offset) + bias, where scales(w) gives one scale for the block or two, for
// values 0-15 and 16-31, and bias(w) (if any) one more term per block.
const q8Parts = (parts) => ({ offset: 0, signed: false, bias: null, ...parts });

// The integer dot product of words k0 .. k0 + n - 1 of the block with its int8 activations.
const dotQ8 = (word, k0 = 0, n = 8) => range(n).map((k) => `dot4I8Packed(${word(k0 + k)}, ${xWord(k0 + k)})`).join("\n           + ");
// The sum of the int8 activations k0 .. k0+3 words (a 16-value half of the block).
const halfSumQ8 = (k0) => range(4).map((k) => `dot4I8Packed(${xWord(k0 + k)}, 0x01010101u)`).join(" + ");

// The block's dot product with int8 activations from its q8 parts: sum over values of
// scale * (byte - offset) * d * xq + bias * d * xq, with xd = (d, d * sum xq).
function blockDotQ8({ word, offset, scales, bias }) {
  return (w) => {
    const wordOf = (k) => word(w, k);
    const s = scales(w);
    const biasTerm = bias ? ` + ${bias(w)} * xd.y` : "";
    if (s.length === 2) {
      const half = (k0) => `f32(${dotQ8(wordOf, k0, 4)}${offset ? ` - ${offset} * (${halfSumQ8(k0)})` : ""})`;
      return `xd.x * (${s[0]} * ${half(0)} + ${s[1]} * ${half(4)})${biasTerm}`;
    }
    const dots = `xd.x * f32(${dotQ8(wordOf)})`;
    return `${s[0]} * ${offset ? `(${dots} - ${offset}.0 * xd.y)` : dots}${biasTerm}`;
  };
}

// An emitter's q8 parts and the block dot product made from them.
export const withQ8 = (parts) => ({ q8: q8Parts(parts), blockDotQ8: blockDotQ8(q8Parts(parts)) });

const LO4 = (q) => `(${q}) & 0x0f0f0f0fu`;
// Four bits of h (from bit `first`) moved to bit 4 of each byte of a word.
const bitsToBytes = (h, first) => `spread4((${h} >> ${first}u) & 0xfu)`;
const HI4 = (q) => `((${q}) >> 4u) & 0x0f0f0f0fu`;

// Bits first .. first + 3 of h, each worth 16, as a vec4: read by masks, as the nibbles are (bit
// 31 reads negative as i32, so its weight is negative too).
const fifthBits = (h, first) => {
  const bits = range(4).map((c) => first + c);
  const masks = bits.map((b) => `0x${((1 << b) >>> 0).toString(16)}u`);
  const weights = bits.map((b) => (b === 31 ? -16 : 16) * 2 ** -b);
  return `(masked(${h}, vec4<u32>(${masks.join(", ")})) * vec4<f32>(${weights.join(", ")}))`;
};
// Low or high nibbles of q; `high` is a JS boolean (chosen while generating) or a WGSL bool.
const nib = (q, high) => (typeof high === "boolean" ? `${high ? "hi" : "lo"}_nibbles(${q})` : `nibbles(${q}, ${high})`);

// Sub-block j % 8 of super-block j / 8, for the 256-weight K-quants.
const kHead = (row, j, w, bytes) => `
let ${w}b = ${row} + (${j} >> 3u) * ${bytes}u;
let ${w}s = ${j} & 7u;`;

const K4_SCALES = (w) => `
let ${w}dm = unpack2x16float(W[${w}b >> 2u]);
let ${w}sm = scale_min_k4(${w}b + 4u, ${w}s);
let ${w}d = ${w}dm.x * ${w}sm.x;
let ${w}m = ${w}dm.y * ${w}sm.y;
let ${w}odd = (${w}s & 1u) == 1u;`;

const EMIT = {
  F32: {
    head: (row, j, w) => `let ${w}b = (${row} >> 2u) + ${j} * 32u;`,
    chunk: (i, w) => `bitcast<vec4<f32>>(vec4<u32>(W[${w}b + ${4 * i}u], W[${w}b + ${4 * i + 1}u], W[${w}b + ${4 * i + 2}u], W[${w}b + ${4 * i + 3}u]))`,
  },
  F16: {
    head: (row, j, w) => `let ${w}b = (${row} >> 2u) + ${j} * 16u;`,
    chunk: (i, w) => `vec4<f32>(unpack2x16float(W[${w}b + ${2 * i}u]), unpack2x16float(W[${w}b + ${2 * i + 1}u]))`,
  },
  Q4_0: {
    head: (row, j, w) => `
let ${w}b = ${row} + ${j} * 18u;
let ${w}d = f16_at(${w}b);`,
    chunk: (i, w) => `(${nib(`u32_at_even(${w}b + ${2 + 4 * (i % 4)}u)`, i >= 4)} - 8.0) * ${w}d`,
  },
  Q4_1: {
    head: (row, j, w) => `
let ${w}b = (${row} >> 2u) + ${j} * 5u;
let ${w}dm = unpack2x16float(W[${w}b]);
${range(4).map((k) => `let ${w}q${k} = W[${w}b + ${1 + k}u];`).join("\n")}`,
    chunk: (i, w) => `${nib(`${w}q${i % 4}`, i >= 4)} * ${w}dm.x + ${w}dm.y`,
    blockX: NIBBLE_X,
    blockDot: (w) => `${w}dm.x * (${nibbleDot((k) => `${w}q${k}`)} + 8.0 * xtop) + ${w}dm.y * xsum`,
    // Word by word: one block of 5 words, its scales (d, m) in word 0; 12 rows an invocation.
    words: {
      rows: 12,
      blocks: 1,
      unitWords: 5,
      parts: (p) => [nibbleWords(p, [1, 2, 3, 4], (word, s) => `dot(unpack2x16float(${word(0)}), vec2<f32>(${s} + 8.0 * ${p}xtop, ${p}xsum))`)],
    },
    ...withQ8({ word: (w, k) => (k < 4 ? LO4 : HI4)(`${w}q${k % 4}`), scales: (w) => [`${w}dm.x`], bias: (w) => `${w}dm.y` }),
  },
  Q5_0: {
    head: (row, j, w) => `
let ${w}b = ${row} + ${j} * 22u;
let ${w}d = f16_at(${w}b);
let ${w}h = u32_at_even(${w}b + 2u);
${range(4).map((k) => `let ${w}q${k} = u32_at_even(${w}b + ${6 + 4 * k}u);`).join("\n")}`,
    chunk: (i, w) => `(${nib(`${w}q${i % 4}`, i >= 4)} + ${fifthBits(`${w}h`, 4 * i)} - 16.0) * ${w}d`,
    // Each byte's value: its nibble and the fifth bit from h, less 16.
    ...withQ8({ word: (w, k) => `(${(k < 4 ? LO4 : HI4)(`${w}q${k % 4}`)}) | ${bitsToBytes(`${w}h`, 4 * k)}`, offset: 16, scales: (w) => [`${w}d`] }),
  },
  Q8_0: {
    head: (row, j, w) => `
let ${w}b = ${row} + ${j} * 34u;
let ${w}d = f16_at(${w}b);`,
    chunk: (i, w) => `i8x4(u32_at_even(${w}b + ${2 + 4 * i}u)) * ${w}d`,
  },
  Q4_K: {
    head: (row, j, w) => `${kHead(row, j, w, 144)}${K4_SCALES(w)}
let ${w}qs = ((${w}b + 16u) >> 2u) + (${w}s >> 1u) * 8u;`,
    chunk: (i, w) => `nibbles(W[${w}qs + ${i}u], ${w}odd) * ${w}d - ${w}m`,
    ...withQ8({ word: (w, k) => LO4(`W[${w}qs + ${k}u] >> select(0u, 4u, ${w}odd)`), scales: (w) => [`${w}d`], bias: (w) => `-${w}m` }),
  },
  Q5_K: {
    head: (row, j, w) => `${kHead(row, j, w, 176)}${K4_SCALES(w)}
let ${w}qs = ((${w}b + 48u) >> 2u) + (${w}s >> 1u) * 8u;
let ${w}qh = (${w}b + 16u) >> 2u;
let ${w}hm = vec4<u32>(1u, 0x100u, 0x10000u, 0x1000000u) << vec4<u32>(${w}s);
let ${w}hs = BYTE_WEIGHTS * vec4<f32>(1.0, 1.0, 1.0, select(1.0, -1.0, ${w}s == 7u)) * (16.0 / f32(1u << ${w}s));`,
    // Bit s of each qh byte, read by the mask hm and worth 16 (hs; as i32, bit 31 is negative).
    chunk: (i, w) => `(nibbles(W[${w}qs + ${i}u], ${w}odd) + masked(W[${w}qh + ${i}u], ${w}hm) * ${w}hs) * ${w}d - ${w}m`,
    // The fifth bit of each byte's value: bit s of each qh byte, moved to bit 4.
    ...withQ8({
      word: (w, k) => `(${LO4(`W[${w}qs + ${k}u] >> select(0u, 4u, ${w}odd)`)}) | (((W[${w}qh + ${k}u] >> ${w}s) & 0x01010101u) << 4u)`,
      scales: (w) => [`${w}d`], bias: (w) => `-${w}m`,
    }),
  },
  Q6_K: {
    head: (row, j, w) => `${kHead(row, j, w, 210)}
let ${w}half = ${w}s >> 2u;
let ${w}c = ${w}s & 3u;
let ${w}d = f16_at(${w}b + 208u);
let ${w}ql = ${w}b + ${w}half * 64u + (${w}c & 1u) * 32u;
let ${w}qh = ${w}b + 128u + ${w}half * 32u;
let ${w}sc = ${w}b + 192u + ${w}half * 8u + ${w}c * 2u;
let ${w}d0 = ${w}d * i8_at(${w}sc);
let ${w}d1 = ${w}d * i8_at(${w}sc + 1u);
let ${w}high = ${w}c >= 2u;
let ${w}hm = vec4<u32>(3u, 0x300u, 0x30000u, 0x3000000u) << vec4<u32>(2u * ${w}c);
let ${w}hflip = select(0u, 0x80000000u, ${w}c == 3u);
let ${w}hs = BYTE_WEIGHTS * (16.0 / f32(1u << (2u * ${w}c)));
let ${w}hoff = vec4<f32>(-32.0, -32.0, -32.0, select(-32.0, 0.0, ${w}c == 3u));`,
    // Bits 2c, 2c + 1 of each qh byte, read by the mask hm, worth 16 each (hs), less 32; where c
    // is 3 the top byte's pair reads 2 less once bit 31 is flipped (hflip), so hoff spares it.
    chunk: (i, w) => `(nibbles(u32_at_even(${w}ql + ${4 * i}u), ${w}high) + masked(u32_at_even(${w}qh + ${4 * i}u) ^ ${w}hflip, ${w}hm) * ${w}hs + ${w}hoff) * ${w}d${i < 4 ? 0 : 1}`,
    // Two halves of 16 with their own scales. Each byte's value: its nibble and, above it, 2
    // bits of the qh byte, less 32.
    ...withQ8({
      word: (w, k) => `((u32_at_even(${w}ql + ${4 * k}u) >> select(0u, 4u, ${w}high)) & 0x0f0f0f0fu) | (((u32_at_even(${w}qh + ${4 * k}u) >> (2u * ${w}c)) & 0x03030303u) << 4u)`,
      offset: 32, scales: (w) => [`${w}d0`, `${w}d1`],
    }),
  },
};

export function dequantEmitter(typeName) {
  const emit = EMIT[typeName];
  if (!emit) throw new Error(`no dequant kernel for ${typeName}`);
  return emit;
}

export const KERNEL_TYPES = Object.freeze(Object.keys(EMIT));
