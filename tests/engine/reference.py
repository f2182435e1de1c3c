"""Numpy reference for the WebGPU engine (test code only): one dequantizer per GGML type, written
from the block layouts in ggml-common.h, and a forward pass for the llama and qwen2 graphs."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gguf import GGUFReader

from pyapp.model.tensor_types import TENSOR_TYPES


def _f16(blocks: np.ndarray, start: int) -> np.ndarray:
    """The f16 at byte `start` of each block, as an f32 column."""
    return blocks[:, start:start + 2].copy().view(np.float16).astype(np.float32)


def _nibbles(qs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return (qs & 0xF).astype(np.float32), (qs >> 4).astype(np.float32)


def _q4_0(b: np.ndarray) -> np.ndarray:
    lo, hi = _nibbles(b[:, 2:18])
    return (np.concatenate([lo, hi], axis=1) - 8) * _f16(b, 0)


def _q4_1(b: np.ndarray) -> np.ndarray:
    lo, hi = _nibbles(b[:, 4:20])
    return np.concatenate([lo, hi], axis=1) * _f16(b, 0) + _f16(b, 2)


def _q5_0(b: np.ndarray) -> np.ndarray:
    qh = b[:, 2:6].copy().view(np.uint32)
    high = ((qh >> np.arange(32, dtype=np.uint32)) & 1).astype(np.float32) * 16
    lo, hi = _nibbles(b[:, 6:22])
    return (np.concatenate([lo, hi], axis=1) + high - 16) * _f16(b, 0)


def _q8_0(b: np.ndarray) -> np.ndarray:
    return b[:, 2:34].view(np.int8).astype(np.float32) * _f16(b, 0)


def _k4_scales(sc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The 6-bit (scale, min) pairs of the 8 sub-blocks of Q4_K/Q5_K (get_scale_min_k4)."""
    sc = sc.astype(np.uint32)
    scale = np.empty((len(sc), 8), np.float32)
    mins = np.empty((len(sc), 8), np.float32)
    scale[:, :4] = sc[:, 0:4] & 63
    mins[:, :4] = sc[:, 4:8] & 63
    scale[:, 4:] = (sc[:, 8:12] & 0xF) | ((sc[:, 0:4] >> 6) << 4)
    mins[:, 4:] = (sc[:, 8:12] >> 4) | ((sc[:, 4:8] >> 6) << 4)
    return scale, mins


def _q4_k(b: np.ndarray) -> np.ndarray:
    scale, mins = _k4_scales(b[:, 4:16])
    lo, hi = _nibbles(b[:, 16:144].reshape(-1, 4, 32))
    q = np.stack([lo, hi], axis=2).reshape(-1, 8, 32)  # sub-block 2p: low nibbles of qs[p]
    d = _f16(b, 0)[:, :, None] * scale[:, :, None]
    m = _f16(b, 2)[:, :, None] * mins[:, :, None]
    return (q * d - m).reshape(-1, 256)


def _q5_k(b: np.ndarray) -> np.ndarray:
    scale, mins = _k4_scales(b[:, 4:16])
    qh = b[:, 16:48]
    high = ((qh[:, None, :] >> np.arange(8, dtype=np.uint8)[None, :, None]) & 1).astype(np.float32) * 16
    lo, hi = _nibbles(b[:, 48:176].reshape(-1, 4, 32))
    q = np.stack([lo, hi], axis=2).reshape(-1, 8, 32) + high
    d = _f16(b, 0)[:, :, None] * scale[:, :, None]
    m = _f16(b, 2)[:, :, None] * mins[:, :, None]
    return (q * d - m).reshape(-1, 256)


def _q6_k(b: np.ndarray) -> np.ndarray:
    ql = b[:, 0:128].reshape(-1, 2, 2, 32)  # [half, ql half, l]
    qh = b[:, 128:192].reshape(-1, 2, 32)  # [half, l]
    scales = b[:, 192:208].view(np.int8).astype(np.float32).reshape(-1, 2, 4, 2)  # [half, c, l // 16]
    out = np.empty((len(b), 2, 4, 32), np.float32)
    for c in range(4):
        nib = ql[:, :, c & 1, :]
        nib = (nib >> 4) if c >= 2 else (nib & 0xF)
        q = (nib | (((qh >> (2 * c)) & 3) << 4)).astype(np.float32) - 32
        out[:, :, c, :] = q * np.repeat(scales[:, :, c, :], 16, axis=2)
    return (out.reshape(-1, 256) * _f16(b, 208)).astype(np.float32)


DEQUANTIZERS = {
    "F32": lambda raw: raw.view(np.float32),
    "F16": lambda raw: raw.view(np.float16).astype(np.float32),
    "Q4_0": _q4_0,
    "Q4_1": _q4_1,
    "Q5_0": _q5_0,
    "Q8_0": _q8_0,
    "Q4_K": _q4_k,
    "Q5_K": _q5_k,
    "Q6_K": _q6_k,
}
TYPE_IDS = {t.name: t.type_id for t in TENSOR_TYPES.values()}


def dequantize(type_name: str, raw: bytes | np.ndarray, row_length: int) -> np.ndarray:
    """Bytes of whole rows of `type_name` -> float32 [rows, row_length]."""
    t = TENSOR_TYPES[TYPE_IDS[type_name]]
    data = np.frombuffer(raw, np.uint8) if isinstance(raw, bytes) else np.ascontiguousarray(raw).view(np.uint8).ravel()
    if t.block_size == 1:
        return DEQUANTIZERS[type_name](data).reshape(-1, row_length).astype(np.float32)
    blocks = data.reshape(-1, t.block_bytes)
    return DEQUANTIZERS[type_name](blocks).reshape(-1, row_length).astype(np.float32)


def shadow_q4_1(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of dequantized weights requantized as the engine's output-head shadow
    (kernels/shadow-head.mjs): per block of 32, d = (max - min) / 15 and m = min rounded to f16,
    q = clamp(round((w - m) / d), 0, 15). The shadow's values (float32, as w) and each row's
    error norm |shadow - w|_2."""
    blocks = w.astype(np.float32).reshape(w.shape[0], -1, 32)
    lo, hi = blocks.min(axis=-1, keepdims=True), blocks.max(axis=-1, keepdims=True)
    d = ((hi - lo) / np.float32(15)).astype(np.float16).astype(np.float32)
    m = lo.astype(np.float16).astype(np.float32)
    inv = np.divide(np.float32(1), d, out=np.zeros_like(d), where=d > 0)
    q = np.clip(np.round((blocks - m) * inv), 0, 15)
    shadow = (q * d + m).reshape(w.shape).astype(np.float32)
    return shadow, np.linalg.norm((shadow - w).astype(np.float64), axis=1)


ROPE_SCALING_TYPES = ("none", "linear", "yarn")
YARN_BETA_FAST, YARN_BETA_SLOW = 32.0, 1.0  # llama.cpp's defaults (llama-hparams.h)


@dataclass(frozen=True)
class RopeScaling:
    """RoPE scaling as llama.cpp hands it to ggml's rope_yarn (ggml-cpu/ops.cpp): `attn_factor` is
    llama.cpp's cparams.yarn_attn_factor, `corr_dims` the pairs YaRN's ramp runs over."""
    freq_scale: float = 1.0
    ext_factor: float = 0.0
    corr_dims: tuple[float, float] = (0.0, 0.0)
    attn_factor: float = 1.0

    def rope_yarn(self, theta_extrap: np.ndarray) -> tuple[np.ndarray, float]:
        """Angles [..., pair] -> (the scaled angles, the magnitude of their cos and sin)."""
        theta_interp = self.freq_scale * theta_extrap
        if self.ext_factor == 0:
            return theta_interp, self.attn_factor
        low, high = self.corr_dims
        ramp = 1 - np.clip((np.arange(theta_extrap.shape[-1]) - low) / max(0.001, high - low), 0, 1)
        mix = ramp * self.ext_factor
        theta = theta_interp * (1 - mix) + theta_extrap * mix
        return theta, self.attn_factor * (1 + 0.1 * math.log(1 / self.freq_scale))


def yarn_corr_dims(n_dims: int, n_ctx_orig: int, base: float) -> tuple[float, float]:
    """ggml_rope_yarn_corr_dims (ggml.c)."""
    def corr_dim(n_rot):
        return n_dims * math.log(n_ctx_orig / (n_rot * 2 * math.pi)) / (2 * math.log(base))
    return max(0.0, math.floor(corr_dim(YARN_BETA_FAST))), min(n_dims - 1.0, math.ceil(corr_dim(YARN_BETA_SLOW)))


def _get_mscale(factor: float) -> float:
    return 1.0 if factor <= 1 else 1 + 0.1 * math.log(factor)


def _rope_scaling(field, arch: str, head_dim: int, base: float) -> RopeScaling:
    """What llama.cpp's load_hparams (llama-model.cpp) and llama_context (llama-context.cpp) make
    of the GGUF's rope.scaling keys, for llama and qwen2."""
    key = f"{arch}.rope.scaling."
    kind = field(key + "type", "linear")  # llama.cpp's default: a bare factor scales linearly
    if kind not in ROPE_SCALING_TYPES:
        raise ValueError(f"RoPE scaling {kind!r}")
    factor = (field(key + "factor", 0.0) or 1.0) if kind != "none" else 1.0
    attn_factor = field(key + "attn_factor", 1.0)
    if kind != "yarn":
        return RopeScaling(freq_scale=1 / factor, attn_factor=attn_factor)
    n_ctx_orig = field(key + "original_context_length", field(f"{arch}.context_length"))
    # llama-context.cpp: get_mscale(factor) in place of the 1 + 0.1 ln(factor) rope_yarn applies
    attn_factor *= _get_mscale(factor) / (1 + 0.1 * math.log(factor))
    return RopeScaling(freq_scale=1 / factor, ext_factor=1.0, corr_dims=yarn_corr_dims(head_dim, n_ctx_orig, base),
                       attn_factor=attn_factor)


@dataclass
class Model:
    arch: str
    hp: dict
    weights: dict[str, np.ndarray]  # numpy orientation: [rows (out), row_length (in)]
    types: dict[str, str]  # GGML type name by tensor name


def load_model(path: Path) -> Model:
    reader = GGUFReader(path)

    def field(key, default=None):
        f = reader.fields.get(key)
        if f is None:
            return default
        value = f.parts[f.data[0]]
        return bytes(value).decode() if f.types[0].name == "STRING" else value[0].item()

    arch = field("general.architecture")
    hp = {
        "n_layer": field(f"{arch}.block_count"),
        "n_embd": field(f"{arch}.embedding_length"),
        "n_head": field(f"{arch}.attention.head_count"),
        "n_kv": field(f"{arch}.attention.head_count_kv"),
        "eps": field(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5),
        "rope_base": field(f"{arch}.rope.freq_base", 10000.0),
    }
    hp["head_dim"] = field(f"{arch}.attention.key_length", hp["n_embd"] // hp["n_head"])
    hp["rope_scaling"] = _rope_scaling(field, arch, hp["head_dim"], hp["rope_base"])
    weights = {}
    types = {t.name: t.tensor_type.name for t in reader.tensors}
    for t in reader.tensors:
        row_length = int(t.shape[0])
        weights[t.name] = dequantize(t.tensor_type.name, t.data, row_length).reshape(
            [int(d) for d in reversed(t.shape)])
    return Model(arch=arch, hp=hp, weights=weights, types=types)


def rms_norm(x: np.ndarray, w: np.ndarray, eps: float) -> np.ndarray:
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def rope(x: np.ndarray, positions: np.ndarray, base: float, neox: bool,
         factors: np.ndarray | None = None, scaling: RopeScaling = RopeScaling()) -> np.ndarray:
    """x: [T, heads, head_dim]; `factors` divide the per-pair frequencies (Llama 3.1 rope_freqs)."""
    hd = x.shape[-1]
    freqs = base ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    if factors is not None:
        freqs = freqs / factors
    theta, mscale = scaling.rope_yarn(positions[:, None].astype(np.float64) * freqs[None, :])
    cos, sin = mscale * np.cos(theta)[:, None, :], mscale * np.sin(theta)[:, None, :]
    if neox:
        a, b = x[..., : hd // 2], x[..., hd // 2:]
    else:
        a, b = x[..., 0::2], x[..., 1::2]
    ra, rb = a * cos - b * sin, a * sin + b * cos
    out = np.empty_like(x)
    if neox:
        out[..., : hd // 2], out[..., hd // 2:] = ra, rb
    else:
        out[..., 0::2], out[..., 1::2] = ra, rb
    return out


# The weight types whose one-token mat-vec reads int8 activations on real GPUs
# (Q8_ACTIVATION_TYPES in kernels/matmul.mjs).
Q8_ACTIVATION_TYPES = frozenset({"Q4_0", "Q4_1", "Q5_0", "Q8_0", "Q4_K", "Q5_K", "Q6_K"})


def activations_q8(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of x as the engine's int8 activations (kernels/activations-q8.mjs): blocks of 32,
    q = round(x * 127 / max|x|) in f32, and each block's scale d = max|x| / 127: int8 q [..., nb,
    32] and f32 d [..., nb, 1]."""
    blocks = x.astype(np.float32).reshape(*x.shape[:-1], -1, 32)
    amax = np.abs(blocks).max(axis=-1, keepdims=True)
    inv = np.divide(np.float32(127), amax, out=np.zeros_like(amax), where=amax > 0)
    return np.round(blocks * inv).astype(np.int8), amax / np.float32(127)


def quantize_activations_q8(x: np.ndarray) -> np.ndarray:
    """Rows of x rounded as the engine's int8 activations, back as float64."""
    q, d = activations_q8(x)
    return (q * d).reshape(x.shape).astype(np.float64)


def activations_q8_bytes(x: np.ndarray) -> bytes:
    """Rows of x in the engine's int8 activation layout, one after another: a row's int8s, then
    (d, d * sum) per block."""
    q, d = activations_q8(np.atleast_2d(x))
    scales = np.concatenate([d, d * q.sum(axis=-1, keepdims=True, dtype=np.int32).astype(np.float32)], axis=-1)
    return b"".join(row.tobytes() + row_scales.astype(np.float32).tobytes() for row, row_scales in zip(q, scales))


def _project(model: Model, h: np.ndarray, name: str, q8_from: int | None) -> np.ndarray:
    if q8_from is not None and model.types[name] in Q8_ACTIVATION_TYPES:
        h = np.concatenate([h[:q8_from], quantize_activations_q8(h[q8_from:])])
    return h @ model.weights[name].T


def head_name(model: Model) -> str:
    """The output head's tensor: its own, or the tied token embeddings."""
    return "output.weight" if "output.weight" in model.weights else "token_embd.weight"


def forward(model: Model, ids: list[int], q8_from: int | None = None) -> np.ndarray:
    """Logits [T, vocab] for every position of `ids` (positions 0..T-1), in float64. `q8_from`:
    positions from there on run as the engine's one-token pass on a real GPU, whose mat-vecs of
    Q8_ACTIVATION_TYPES read their input rounded to int8 blocks."""
    return _project(model, head_input(model, ids, q8_from), head_name(model), q8_from)


def head_input(model: Model, ids: list[int], q8_from: int | None = None) -> np.ndarray:
    """The output head's input [T, n_embd] (the last RMSNorm's output) for every position."""
    w, hp = model.weights, model.hp

    def project(h: np.ndarray, name: str) -> np.ndarray:
        return _project(model, h, name, q8_from)

    neox = model.arch == "qwen2"
    n_head, n_kv, hd = hp["n_head"], hp["n_kv"], hp["head_dim"]
    T = len(ids)
    pos = np.arange(T)
    factors = w.get("rope_freqs.weight")
    x = w["token_embd.weight"][np.asarray(ids)].astype(np.float64)
    mask = np.triu(np.full((T, T), -np.inf), 1)
    for i in range(hp["n_layer"]):
        p = f"blk.{i}."
        h = rms_norm(x, w[p + "attn_norm.weight"], hp["eps"])
        q = project(h, p + "attn_q.weight") + w.get(p + "attn_q.bias", 0)
        k = project(h, p + "attn_k.weight") + w.get(p + "attn_k.bias", 0)
        v = project(h, p + "attn_v.weight") + w.get(p + "attn_v.bias", 0)
        q = rope(q.reshape(T, n_head, hd), pos, hp["rope_base"], neox, factors, hp["rope_scaling"])
        k = rope(k.reshape(T, n_kv, hd), pos, hp["rope_base"], neox, factors, hp["rope_scaling"])
        v = v.reshape(T, n_kv, hd)
        group = n_head // n_kv
        k = np.repeat(k, group, axis=1)
        v = np.repeat(v, group, axis=1)
        scores = np.einsum("thd,shd->hts", q, k) / np.sqrt(hd) + mask
        scores = np.exp(scores - scores.max(axis=-1, keepdims=True))
        scores /= scores.sum(axis=-1, keepdims=True)
        attn = np.einsum("hts,shd->thd", scores, v).reshape(T, n_head * hd)
        x = x + project(attn, p + "attn_output.weight")
        h = rms_norm(x, w[p + "ffn_norm.weight"], hp["eps"])
        gate = project(h, p + "ffn_gate.weight")
        up = project(h, p + "ffn_up.weight")
        x = x + project(gate / (1 + np.exp(-gate)) * up, p + "ffn_down.weight")
    return rms_norm(x, w["output_norm.weight"], hp["eps"])
