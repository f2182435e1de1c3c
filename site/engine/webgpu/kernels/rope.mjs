// RoPE on Q and K, then K and V stored into the layer's KV cache at positions pos0 + t.
// Invocation (h, t): h < n_head rotates query head h in place; otherwise it handles KV head
// h - n_head. neox = 1 rotates pairs (i, i + head_dim/2) (qwen2), neox = 0 pairs (2i, 2i+1) (llama).
// Pair i turns by pos * pos_scale * base^(-2i/head_dim) / freqs[i] (freqs: Llama 3.1+
// rope_freqs when has_freqs = 1; pos_scale: linear RoPE scaling).

export const ROPE_WORKGROUP = 64;

// The same for real GPUs with one invocation per (head, pair i) instead of per head.
export const ROPE_PAIRS_WGSL = () => ROPE_STORE_WGSL.replace(/@compute[\s\S]*$/, ROPE_PAIRS_MAIN);
const ROPE_PAIRS_MAIN = /* wgsl */ `@compute @workgroup_size(${ROPE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = params.head_dim / 2u;
  let h = gid.x / half;
  let i = gid.x % half;
  let t = gid.y;
  if (h >= params.n_head + params.n_kv || t >= step.n_tokens) { return; }
  let pos = step.pos0 + t;
  if (h < params.n_head) {
    turn_query(t, h, i, pos);
    return;
  }
  let at = kv_offsets(t, h - params.n_head, pos);
  store_key(at, i, pos);
  Vc[at.y + 2u * i] = V[at.x + 2u * i];
  Vc[at.y + 2u * i + 1u] = V[at.x + 2u * i + 1u];
}`;

export const ROPE_STORE_WGSL = /* wgsl */ `
struct Params { n_head: u32, n_kv: u32, head_dim: u32, neox: u32, log2_base: f32, pos_scale: f32, has_freqs: u32, pad: u32 }
struct Step { n_tokens: u32, pos0: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read_write> Q: array<f32>;
// K and V are only read, but declared writable: q, k and v may be thirds of one buffer (the
// fused decode projection, graph.mjs), and a buffer may not be both read-only and writable
// storage in one dispatch.
@group(0) @binding(1) var<storage, read_write> K: array<f32>;
@group(0) @binding(2) var<storage, read_write> V: array<f32>;
@group(0) @binding(3) var<storage, read_write> Kc: array<f32>;
@group(0) @binding(4) var<storage, read_write> Vc: array<f32>;
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

fn angle(i: u32, pos: u32) -> vec2<f32> {
  var theta = f32(pos) * params.pos_scale * exp2(-params.log2_base * f32(2u * i) / f32(params.head_dim));
  if (params.has_freqs == 1u) { theta /= freqs[i]; }
  return vec2<f32>(cos(theta), sin(theta));
}

// Pair i of query head h of token t, turned in place.
fn turn_query(t: u32, h: u32, i: u32, pos: u32) {
  let p = pair(i) + (t * params.n_head + h) * params.head_dim;
  let q = turn(Q[p.x], Q[p.y], angle(i, pos));
  Q[p.x] = q.x;
  Q[p.y] = q.y;
}

// Where KV head g of token t is read (K, V) and stored (Kc, Vc at position pos).
fn kv_offsets(t: u32, g: u32, pos: u32) -> vec2<u32> {
  let kv_dim = params.n_kv * params.head_dim;
  return vec2<u32>(t * kv_dim, pos * kv_dim) + g * params.head_dim;
}

// Pair i of a key (at.x in K) turned and stored into the cache (at.y in Kc).
fn store_key(at: vec2<u32>, i: u32, pos: u32) {
  let p = pair(i);
  let k = turn(K[at.x + p.x], K[at.x + p.y], angle(i, pos));
  Kc[at.y + p.x] = k.x;
  Kc[at.y + p.y] = k.y;
}

@compute @workgroup_size(${ROPE_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let h = gid.x;
  let t = gid.y;
  if (h >= params.n_head + params.n_kv || t >= step.n_tokens) { return; }
  let half = params.head_dim / 2u;
  let pos = step.pos0 + t;
  if (h < params.n_head) {
    for (var i = 0u; i < half; i++) { turn_query(t, h, i, pos); }
    return;
  }
  let at = kv_offsets(t, h - params.n_head, pos);
  for (var i = 0u; i < half; i++) { store_key(at, i, pos); }
  for (var i = 0u; i < params.head_dim; i++) { Vc[at.y + i] = V[at.x + i]; }
}`;
