// RoPE on Q and K, then K and V stored into the layer's KV cache at positions pos0 + t.
// neox = 1 rotates pairs (i, i + head_dim/2) (qwen2), neox = 0 pairs (2i, 2i+1) (llama).
// Pair i turns by pos * base^(-2i/head_dim) / freqs[i] (freqs: Llama 3.1+ rope_freqs when
// has_freqs = 1), scaled as ggml's rope_yarn does (model.mjs ropeScaling: linear or YaRN).

const ROPE_WORKGROUP = 64;
const ROPE_WORKGROUP_EMULATED = 8;

// Real GPUs (`pairs`): invocation (h * head_dim / 2 + i, t) takes pair i of head h, query heads
// first, then kv heads. Emulated ones: invocation (i, t) takes pair i of every head, so its angle
// (an exp2, a cos and a sin) is computed once for all of them, in small workgroups so that they
// spread over SwiftShader's threads (it runs a workgroup on one). `kvType`: the KV cache's
// element type, f32 or f16 (graph.mjs).
export function ropeWGSL({ pairs, kvType }) {
  return `${kvType === "f16" ? "enable f16;\n" : ""}${ropeCommon(kvType)}${pairs ? ROPE_PAIRS_MAIN : ROPE_SHARED_MAIN}`;
}

export const ropeDispatch = ({ nHead, nKv, headDim }, nTokens, emulated) => (emulated
  ? [Math.ceil(headDim / 2 / ROPE_WORKGROUP_EMULATED), nTokens]
  : [Math.ceil((nHead + nKv) * headDim / 2 / ROPE_WORKGROUP), nTokens]);

const ROPE_PAIRS_MAIN = /* wgsl */ `@compute @workgroup_size(${ROPE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = params.head_dim / 2u;
  let h = gid.x / half;
  let i = gid.x % half;
  let t = gid.y;
  if (h >= params.n_head + params.n_kv || t >= step.n_tokens) { return; }
  let pos = step.pos0 + t;
  let cs = angle(i, pos);
  if (h < params.n_head) {
    turn_query(t, h, i, cs);
    return;
  }
  store_kv(kv_offsets(t, h - params.n_head, pos), i, cs);
}`;

const ROPE_SHARED_MAIN = /* wgsl */ `@compute @workgroup_size(${ROPE_WORKGROUP_EMULATED})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  let t = gid.y;
  if (i >= params.head_dim / 2u || t >= step.n_tokens) { return; }
  let pos = step.pos0 + t;
  let cs = angle(i, pos);
  for (var h = 0u; h < params.n_head; h++) { turn_query(t, h, i, cs); }
  for (var g = 0u; g < params.n_kv; g++) { store_kv(kv_offsets(t, g, pos), i, cs); }
}`;

const ropeCommon = (kvType) => /* wgsl */ `
struct Params {
  n_head: u32, n_kv: u32, head_dim: u32, neox: u32, log2_base: f32, freq_scale: f32, has_freqs: u32,
  ext_factor: f32, ramp_start: f32, ramp_width: f32, mscale: f32, pad: u32,
}
struct Step { n_tokens: u32, pos0: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read_write> Q: array<f32>;
// K and V are only read, but declared writable: q, k and v may be thirds of one buffer (the
// fused decode projection, graph.mjs), and a buffer may not be both read-only and writable
// storage in one dispatch.
@group(0) @binding(1) var<storage, read_write> K: array<f32>;
@group(0) @binding(2) var<storage, read_write> V: array<f32>;
@group(0) @binding(3) var<storage, read_write> Kc: array<${kvType}>;
@group(0) @binding(4) var<storage, read_write> Vc: array<${kvType}>;
@group(0) @binding(5) var<uniform> params: Params;
@group(0) @binding(6) var<uniform> step: Step;
@group(0) @binding(7) var<storage, read> freqs: array<f32>;

fn pair(i: u32) -> vec2<u32> {
  if (params.neox == 1u) { return vec2<u32>(i, i + params.head_dim / 2u); }
  return vec2<u32>(2u * i, 2u * i + 1u);
}

// (a, b) turned by the angle whose (cos, sin) is cs.
fn turn(a: f32, b: f32, cs: vec2<f32>) -> vec2<f32> {
  return vec2<f32>(a * cs.x - b * cs.y, a * cs.y + b * cs.x);
}

// YaRN: the share of pair i's angle left unscaled, ext_factor up to pair ramp_start, falling to 0
// at ramp_start + ramp_width (0 for every pair with ext_factor 0: linear or no scaling).
fn extrapolation(i: u32) -> f32 {
  return params.ext_factor * (1.0 - clamp((f32(i) - params.ramp_start) / params.ramp_width, 0.0, 1.0));
}

// (cos, sin) of pair i's angle at pos, times the magnitude mscale.
fn angle(i: u32, pos: u32) -> vec2<f32> {
  var theta = f32(pos) * exp2(-params.log2_base * f32(2u * i) / f32(params.head_dim));
  if (params.has_freqs == 1u) { theta /= freqs[i]; }
  theta *= mix(params.freq_scale, 1.0, extrapolation(i));
  return params.mscale * vec2<f32>(cos(theta), sin(theta));
}

// Pair i of query head h of token t, turned in place by the angle whose (cos, sin) is cs.
fn turn_query(t: u32, h: u32, i: u32, cs: vec2<f32>) {
  let p = pair(i) + (t * params.n_head + h) * params.head_dim;
  let q = turn(Q[p.x], Q[p.y], cs);
  Q[p.x] = q.x;
  Q[p.y] = q.y;
}

// Where KV head g of token t is read (K, V) and stored (Kc, Vc at position pos).
fn kv_offsets(t: u32, g: u32, pos: u32) -> vec2<u32> {
  let kv_dim = params.n_kv * params.head_dim;
  return vec2<u32>(t * kv_dim, pos * kv_dim) + g * params.head_dim;
}

// Pair i of a key (at.x in K) turned by cs and stored into the cache (at.y in Kc).
fn store_key(at: vec2<u32>, i: u32, cs: vec2<f32>) {
  let p = pair(i);
  let k = turn(K[at.x + p.x], K[at.x + p.y], cs);
  Kc[at.y + p.x] = ${kvType}(k.x);
  Kc[at.y + p.y] = ${kvType}(k.y);
}

// Element d of a value (at.x in V) stored into the cache (at.y in Vc).
fn store_value(at: vec2<u32>, d: u32) {
  Vc[at.y + d] = ${kvType}(V[at.x + d]);
}

// Pair i of a key turned by cs, and the value's elements 2i and 2i + 1, into the cache.
fn store_kv(at: vec2<u32>, i: u32, cs: vec2<f32>) {
  store_key(at, i, cs);
  store_value(at, 2u * i);
  store_value(at, 2u * i + 1u);
}
`;
