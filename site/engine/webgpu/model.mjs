// What the GGUF says about the model: architecture, hyperparameters and the tensors the graph
// needs, checked before any weight is uploaded.

import { EngineError } from "../errors.mjs";

const ARCHITECTURES = {
  llama: { neoxRope: false, qkvBias: false },
  qwen2: { neoxRope: true, qkvBias: true },
};

export const DEFAULT_MAX_CONTEXT = 4096;

function required(meta, key) {
  const v = meta[key];
  if (v === undefined) throw new EngineError("bad-file", `the GGUF file has no ${key}`);
  return v;
}

const ROPE_SCALING_TYPES = ["none", "linear", "yarn"];
// llama.cpp's YaRN defaults (llama-hparams.h; it reads no GGUF key for them for llama or qwen2).
const YARN_BETA_FAST = 32;
const YARN_BETA_SLOW = 1;

// RoPE scaling as llama.cpp sets up ggml's rope_yarn (llama-model.cpp, llama-context.cpp): pair i
// turns by its angle times mix(ropeFreqScale, 1, ropeExtFactor * ramp(i)), where ramp(i) falls
// from 1 at pair ropeRampStart to 0 at ropeRampStart + ropeRampWidth, and cos and sin are
// scaled by ropeMscale. Linear scaling is the case ropeExtFactor = 0.
function ropeScaling(meta, arch, { headDim, ropeBase, trainCtx }) {
  const k = (key) => `${arch}.rope.scaling.${key}`;
  // No scaling type means linear (by the factor, if there is one), as llama.cpp's load_hparams.
  const type = meta[k("type")] ?? "linear";
  if (!ROPE_SCALING_TYPES.includes(type)) {
    throw new EngineError("unsupported-arch",
      `RoPE scaling "${type}" is not supported by the WebGPU engine (it runs ${ROPE_SCALING_TYPES.join(", ")})`, { arch });
  }
  const factor = (type !== "none" && meta[k("factor")]) || 1;
  const yarn = type === "yarn";
  const [low, high] = yarnCorrDims(headDim, meta[k("original_context_length")] ?? trainCtx, ropeBase);
  // rope_yarn scales by attn_factor * (1 + 0.1 ln factor); for YaRN llama-context.cpp divides
  // that second term out of attn_factor again and puts get_mscale(factor) in its place.
  const yarnMagnitude = yarn && factor > 1 ? 1 + 0.1 * Math.log(factor) : 1;
  return {
    ropeFreqScale: 1 / factor,
    ropeExtFactor: yarn ? 1 : 0,
    ropeRampStart: low,
    ropeRampWidth: Math.max(0.001, high - low),
    ropeMscale: (meta[k("attn_factor")] ?? 1) * yarnMagnitude,
  };
}

// ggml_rope_yarn_corr_dims (ggml.c): the pairs between which YaRN's ramp runs, from the pair that
// turns beta_fast times over the original context to the one that turns beta_slow times.
function yarnCorrDims(nDims, nCtxOrig, base) {
  const corrDim = (turns) => (nDims * Math.log(nCtxOrig / (turns * 2 * Math.PI))) / (2 * Math.log(base));
  return [Math.max(0, Math.floor(corrDim(YARN_BETA_FAST))), Math.min(nDims - 1, Math.ceil(corrDim(YARN_BETA_SLOW)))];
}

export function describeModel(header, { nCtx } = {}) {
  const meta = header.metadata;
  const arch = meta["general.architecture"];
  if (typeof arch !== "string") throw new EngineError("bad-file", "the GGUF file names no architecture");
  const traits = ARCHITECTURES[arch];
  if (!traits) {
    throw new EngineError("unsupported-arch",
      `the model architecture "${arch}" is not supported by the WebGPU engine (it runs ${Object.keys(ARCHITECTURES).join(", ")})`,
      { arch });
  }
  const k = (key) => `${arch}.${key}`;
  const tensors = new Map(header.tensors.map((t) => [t.name, t]));
  const nEmbd = required(meta, k("embedding_length"));
  const nHead = required(meta, k("attention.head_count"));
  const nLayer = required(meta, k("block_count"));
  const embd = tensors.get("token_embd.weight");
  if (!embd) throw new EngineError("bad-file", "the GGUF file has no token_embd.weight");
  const trainCtx = meta[k("context_length")] ?? DEFAULT_MAX_CONTEXT;
  const headDim = meta[k("attention.key_length")] ?? nEmbd / nHead;
  const ropeBase = meta[k("rope.freq_base")] ?? 10000;
  const hp = {
    arch,
    ...traits,
    nEmbd,
    nHead,
    nLayer,
    nKv: meta[k("attention.head_count_kv")] ?? nHead,
    headDim,
    nFf: required(meta, k("feed_forward_length")),
    eps: meta[k("attention.layer_norm_rms_epsilon")] ?? 1e-5,
    ropeBase,
    ...ropeScaling(meta, arch, { headDim, ropeBase, trainCtx }),
    ropeFreqs: tensors.has("rope_freqs.weight"),
    nVocab: embd.shape[1],
    trainCtx,
    nCtx: Math.min(nCtx ?? DEFAULT_MAX_CONTEXT, trainCtx),
    tiedOutput: !tensors.has("output.weight"),
  };
  if (hp.nHead % hp.nKv || hp.headDim % 4 || hp.nEmbd % 32 || hp.nFf % 32) {
    throw new EngineError("unsupported-arch", `unsupported shape: ${JSON.stringify(hp)}`, { arch });
  }
  checkTensors(hp, tensors);
  return hp;
}

export function layerTensorNames(hp, i) {
  const names = {
    attnNorm: `blk.${i}.attn_norm.weight`,
    wq: `blk.${i}.attn_q.weight`,
    wk: `blk.${i}.attn_k.weight`,
    wv: `blk.${i}.attn_v.weight`,
    wo: `blk.${i}.attn_output.weight`,
    ffnNorm: `blk.${i}.ffn_norm.weight`,
    wGate: `blk.${i}.ffn_gate.weight`,
    wUp: `blk.${i}.ffn_up.weight`,
    wDown: `blk.${i}.ffn_down.weight`,
  };
  if (hp.qkvBias) {
    Object.assign(names, { bq: `blk.${i}.attn_q.bias`, bk: `blk.${i}.attn_k.bias`, bv: `blk.${i}.attn_v.bias` });
  }
  return names;
}

// Per layer, the tensors the decode pass reads as one matrix where they lie back to back
// (graph.mjs): q, k and v, their biases, and the FFN gate and up.
export function fusedGroups(hp) {
  return Array.from({ length: hp.nLayer }, (_, i) => layerTensorNames(hp, i))
    .flatMap((w) => [[w.wq, w.wk, w.wv], ...(w.bq ? [[w.bq, w.bk, w.bv]] : []), [w.wGate, w.wUp]]);
}

const VECTOR_KEYS = new Set(["attnNorm", "ffnNorm", "bq", "bk", "bv"]);

function checkTensors(hp, tensors) {
  const need = [["token_embd.weight", false], ["output_norm.weight", true]];
  if (hp.ropeFreqs) need.push(["rope_freqs.weight", true]);
  if (!hp.tiedOutput) need.push(["output.weight", false]);
  for (let i = 0; i < hp.nLayer; i++) {
    for (const [key, name] of Object.entries(layerTensorNames(hp, i))) need.push([name, VECTOR_KEYS.has(key)]);
  }
  for (const [name, isVector] of need) {
    const t = tensors.get(name);
    if (!t) throw new EngineError("bad-file", `the GGUF file has no tensor ${name}`);
    if (isVector ? t.type.name !== "F32" : !t.type.supported) {
      throw new EngineError("unsupported-type",
        `tensor ${name} has type ${t.type.name}, which the WebGPU engine cannot run`, { tensor: name, type: t.type.name });
    }
  }
}
