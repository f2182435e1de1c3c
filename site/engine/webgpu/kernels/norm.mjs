// RMSNorm: Y[t, :] = X[t, :] / sqrt(mean(X[t, :]^2) + eps) * weight. One invocation per token.

export const NORM_WORKGROUP = 16;

export const RMSNORM_WGSL = /* wgsl */ `
struct Params { d: u32, eps: f32, pad0: u32, pad1: u32 }
struct Step { n_tokens: u32, pos0: u32, pad0: u32, pad1: u32 }
@group(0) @binding(0) var<storage, read> X: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> weight: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> Y: array<vec4<f32>>;
@group(0) @binding(3) var<uniform> params: Params;
@group(0) @binding(4) var<uniform> step: Step;

@compute @workgroup_size(${NORM_WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let t = gid.x;
  if (t >= step.n_tokens) { return; }
  let d4 = params.d / 4u;
  let base = t * d4;
  var ss = vec4<f32>(0.0);
  for (var i = 0u; i < d4; i++) { let x = X[base + i]; ss += x * x; }
  let scale = inverseSqrt(dot(ss, vec4<f32>(1.0)) / f32(params.d) + params.eps);
  for (var i = 0u; i < d4; i++) { Y[base + i] = X[base + i] * scale * weight[i]; }
}`;
