"""Each dequantizing mat-vec / mat-mat kernel against numpy (dequantize, then float64 product).

Tolerance: |engine - numpy| <= 1e-5 * sum_k |W[r, k] x[t, k]| per output, a bound on f32
accumulation over K = 512 terms in any order."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from tests.engine.conftest import b64, from_b64
from tests.engine.reference import (
    DEQUANTIZERS, Q8_ACTIVATION_TYPES, activations_q8, activations_q8_bytes, dequantize, quantize_activations_q8, rms_norm,
)
from tests.fixtures.synthetic_gguf import _matrix

pytestmark = pytest.mark.browser

ROWS, K = 70, 512  # 70 rows: not a multiple of the workgroup or the row block: bounds checks run
# A type reaches a kernel through its emitter (quant.mjs: head, chunk, blockDot, blockDotQ8), and
# each kernel family reads it one way; the shapes within a family lay out rows, tokens and lanes
# alike for every type. So every type runs one shape of each family (FAMILIES), and every other
# shape (SHAPES) runs with an aligned-word type and a K-quant (SHAPE_TYPES).
TILED = {"tile": {"rows": 32, "tokens": 64, "blocks": 1}, "rows": 2, "tokens": 4}
FAMILIES = [
    # The emulated mat-vec (EMULATED_BLOCKS; word by word where a type has words, whose rows are
    # 8 or 4), and with x shared by subgroups of 4.
    (1, {"rows": 8, "tokens": 1, "workgroup": 16}),
    (1, {"rows": 4, "tokens": 1, "workgroup": 16, "quads": True}),
    (11, {"rows": 8, "tokens": 8, "workgroup": 16}),  # the emulated mat-mat
    (3, {"rows": 8, "tokens": 4, "workgroup": 16}),  # an emulated few-token shape (matmulFew)
    # and word by word where a type has words (typeRows), with x shared by subgroups of 4
    (3, {"rows": 8, "tokens": 4, "workgroup": 16, "quads": True, "typeRows": True}),
    (1, {"rows": 8, "lanes": 32}),
    (1, {"rows": 4, "warps": 4, "subgroups": False}),  # the real GPUs' warp mat-vec
    (7, {"rows": 3, "warps": 2, "subgroups": True, "unroll": 2, "tokens": 8}),  # and over tokens
    # The tiled prefill kernel (kernels/matmul-tiled.mjs TILED_BLOCK: eight invocations share
    # each weight item) with partial tiles; three weight items per invocation with K steps of 3
    # blocks (the last past K).
    (100, TILED),
    (13, {"tile": {"rows": 32, "tokens": 8, "blocks": 3}, "rows": 2, "tokens": 4}),
]
# The shapes in site/engine/webgpu/kernels/matmul.mjs (EMULATED_BLOCKS, GPU_BLOCKS, the former
# real-GPU prefill shape rows 4 tokens 8 workgroup 64) and odd ones.
SHAPES = [
    (1, {"rows": 4, "warps": 4, "subgroups": True}),
    (1, {"rows": 3, "warps": 2, "subgroups": True}),
    (1, {"rows": 2, "warps": 4, "subgroups": True, "unroll": 2}),
    (1, {"rows": 4, "warps": 2, "subgroups": True, "unroll": 2}),
    (1, {"rows": 8, "warps": 2, "subgroups": True, "unroll": 1}),
    (1, {"rows": 1, "warps": 2, "subgroups": False, "unroll": 3}),
    (11, {"rows": 4, "tokens": 8, "workgroup": 64}),
    (3, {"rows": 3, "tokens": 2, "workgroup": 64}),
    # The few-token shapes (matmulFew), one short of their tokens; the warp one at full width.
    (1, {"rows": 8, "tokens": 2, "workgroup": 16}),
    (1, {"rows": 12, "tokens": 2, "workgroup": 12, "quads": True, "typeRows": True}),
    # The emulated mat-mat and a few-token shape with x shared by subgroups of 4.
    (11, {"rows": 8, "tokens": 8, "workgroup": 16, "quads": True}),
    (3, {"rows": 8, "tokens": 4, "workgroup": 16, "quads": True}),
    (3, {"rows": 1, "warps": 4, "subgroups": True, "tokens": 4}),
    (16, {"rows": 2, "warps": 4, "subgroups": False, "tokens": 16}),
    # The tiled kernel at other token counts, and four and two invocations per weight item.
    *[(n, TILED) for n in (1, 7, 64)],
    (37, {"tile": {"rows": 64, "tokens": 64, "blocks": 1}, "rows": 4, "tokens": 4}),
    (9, {"tile": {"rows": 32, "tokens": 32, "blocks": 2}, "rows": 2, "tokens": 4}),
    # The shapes graph.mjs takes where the device allows more workgroup memory (TILED_BLOCKS;
    # TILED_TALL_BLOCKS with one block per step: in f32 two would pass SwiftShader's 32 KiB).
    (100, {"tile": {"rows": 32, "tokens": 64, "blocks": 2}, "rows": 2, "tokens": 4}),
    (70, {"tile": {"rows": 128, "tokens": 64, "blocks": 1}, "rows": 8, "tokens": 4}),
]
SHAPE_TYPES = ("Q4_0", "Q4_K")
# The prefill mat-mat on int8 activations (kernels/matmul-tiled-q8.mjs TILED_Q8_BLOCK) with
# partial tiles, for every int8 type; again short of a tile, with K steps of 3 blocks (the last
# past K), and in the tall tiles (TILED_Q8_TALL_BLOCK), with one and two scales a block.
TILED_Q8 = {"tile": {"rows": 64, "tokens": 64, "blocks": 2}, "rows": 4, "tokens": 4, "q8": True}
SHAPES_Q8 = [
    (17, TILED_Q8),
    (40, {"tile": {"rows": 32, "tokens": 32, "blocks": 3}, "rows": 2, "tokens": 4, "q8": True}),
    (70, {"tile": {"rows": 128, "tokens": 64, "blocks": 1}, "rows": 8, "tokens": 4, "q8": True}),
]
MATMUL_CASES = (
    [(t, n, b) for t in DEQUANTIZERS for n, b in FAMILIES]
    + [(t, n, b) for t in SHAPE_TYPES for n, b in SHAPES]
    + [(t, 100, TILED_Q8) for t in sorted(Q8_ACTIVATION_TYPES)]
    + [(t, n, b) for t in ("Q4_0", "Q6_K") for n, b in SHAPES_Q8]
)


def run_matmul(harness, type_name, raw, x, block, k=K):
    """x: float rows, given to a q8 block as int8 activation rows."""
    row_bytes = raw.shape[1] if raw.dtype == np.uint8 else raw.shape[1] * raw.itemsize
    n_tokens, x_bytes = len(x), activations_q8_bytes(x) if block.get("q8") else x.astype(np.float32).tobytes()
    out = harness.evaluate(
        "(a) => window.harness.matmul(a)",
        {"type": type_name, "weights": b64(raw), "rows": ROWS, "k": k, "rowBytes": row_bytes,
         "x": b64(np.frombuffer(x_bytes, dtype=np.uint8)), "nTokens": n_tokens, "block": block},
    )
    return from_b64(out).reshape(n_tokens, ROWS)


@pytest.mark.parametrize("type_name,n_tokens,block", MATMUL_CASES)
def test_matmul_kernel(harness, type_name, n_tokens, block):
    """Every mat-mat shape against numpy: float64 products of the dequantized weights and x (for
    an int8 block, x rounded as the engine rounds it)."""
    rng = np.random.default_rng(3)
    raw, _ = _matrix(rng, type_name, ROWS, K, scale=0.5)
    w = dequantize(type_name, raw, K).astype(np.float64)
    x = rng.standard_normal((n_tokens, K))
    got = run_matmul(harness, type_name, raw, x, block)
    if block.get("q8"):
        x = quantize_activations_q8(x)
    expected = x @ w.T
    bound = 1e-5 * (np.abs(x) @ np.abs(w).T) + 1e-6
    assert np.all(np.abs(got - expected) <= bound), np.max(np.abs(got - expected) / bound)


@pytest.mark.parametrize("type_name", ["Q4_0", "Q4_K", "Q6_K", "F16"])
@pytest.mark.parametrize("block", [
    {"rows": 2, "warps": 4, "subgroups": True, "unroll": 2, "gated": True},
    {"rows": 3, "warps": 2, "subgroups": False, "gated": True},
    {"rows": 2, "warps": 4, "subgroups": True, "tokens": 8, "gated": True},
])
def test_gated_matvec(harness, type_name, block):
    """The decode FFN kernel: W holds gate then up (ROWS rows each); Y = silu(gate x) * (up x);
    over a few tokens for the drafts' passes (one short of the block's tokens)."""
    check_matvec(harness, type_name, block, K, seed=7)


def check_matvec(harness, type_name, block, k, seed):
    """The mat-vec of `block` over one token, or one short of its `tokens` (gated where
    block["gated"]: W holds gate then up, ROWS rows each, and Y = silu(gate x) * (up x); int8
    activations where block["q8"]) against numpy: float64 products of the dequantized weights and
    x (for an int8 block, x rounded as the engine rounds it)."""
    rng = np.random.default_rng(seed)
    gated = block.get("gated", False)
    raw, _ = _matrix(rng, type_name, (2 if gated else 1) * ROWS, k, scale=0.5)
    w = dequantize(type_name, raw, k).astype(np.float64)
    x = rng.standard_normal((max(1, block.get("tokens", 1) - 1), k))
    got = run_matmul(harness, type_name, raw, x, block, k=k)
    if block.get("q8"):
        x = quantize_activations_q8(x)
    y = x @ w.T
    if gated:
        gate, up = y[:, :ROWS], y[:, ROWS:]
        expected, bound = gate / (1 + np.exp(-gate)) * up, swiglu_bound(x, w, gate, up)
    else:
        expected, bound = y, 1e-5 * (np.abs(x) @ np.abs(w).T) + 1e-6
    assert np.all(np.abs(got - expected) <= bound), np.max(np.abs(got - expected) / bound)


def swiglu_bound(x, w, gate, up):
    """The f32 accumulation bound of silu(gate) * up, gate and up each over K terms."""
    return 1e-5 * (np.abs(x) @ np.abs(w[:ROWS]).T) * np.abs(up) + 1e-5 * (np.abs(x) @ np.abs(w[ROWS:]).T) * np.abs(gate) + 1e-6


# The emulated mat-vec reads Q4_0 / Q8_0 blocks in pairs of whole words where rows hold an even
# number of them (K above), and funnels each block's words where they do not (rows of 17 blocks:
# every other row starts mid-word).
@pytest.mark.parametrize("type_name", ["Q4_0", "Q8_0"])
@pytest.mark.parametrize("quads", [False, True])
def test_emulated_matvec_rows_of_an_odd_number_of_blocks(harness, type_name, quads):
    check_matvec(harness, type_name, {"rows": 8, "tokens": 1, "workgroup": 16, "quads": quads}, 17 * 32, seed=17)


def test_int8_activation_types_match_the_reference(harness):
    """The reference rounds the inputs of exactly the mat-vecs the engine gives int8 activations."""
    types = harness.evaluate("async () => (await import('/site/engine/webgpu/kernels/matmul.mjs')).Q8_ACTIVATION_TYPES")
    assert set(types) == Q8_ACTIVATION_TYPES


# The one-token mat-vec with int8 activations (kernels/activations-q8.mjs): the real-GPU shapes
# (GPU_BLOCKS_Q8 and others), plain and gated, and the emulated one, against numpy on the same
# rounded x.
@pytest.mark.parametrize("type_name", sorted(Q8_ACTIVATION_TYPES))
@pytest.mark.parametrize("block", [
    {"rows": 8, "tokens": 1, "workgroup": 16, "q8": True},
    {"rows": 1, "warps": 2, "subgroups": True, "q8": True},
    {"rows": 2, "warps": 2, "subgroups": False, "unroll": 2, "q8": True},
    {"rows": 1, "warps": 2, "subgroups": True, "q8": True, "gated": True},
    {"rows": 3, "warps": 1, "subgroups": False, "q8": True, "gated": True},
    {"rows": 1, "warps": 4, "subgroups": True, "tokens": 4, "q8": True, "gated": True},
])
def test_matvec_int8_activations(harness, type_name, block):
    check_matvec(harness, type_name, block, K, seed=11)


# Warps that share a row (`split`): rows of 136 blocks, so that every warp of a row has blocks
# (32 per warp per step) and the last step is partial; float and int8 activations, plain and gated.
SPLIT_K = 17 * 256  # whole K-quant super-blocks


@pytest.mark.parametrize("type_name", ["Q4_0", "Q6_K"])
@pytest.mark.parametrize("block", [
    {"rows": 1, "warps": 4, "split": 2, "subgroups": True},
    {"rows": 2, "warps": 4, "split": 4, "subgroups": False, "unroll": 2},
    {"rows": 1, "warps": 4, "split": 2, "subgroups": True, "q8": True},
    {"rows": 1, "warps": 8, "split": 4, "subgroups": False, "unroll": 2, "q8": True},
    {"rows": 1, "warps": 4, "split": 2, "subgroups": True, "q8": True, "gated": True},
])
def test_matvec_split_rows(harness, type_name, block):
    check_matvec(harness, type_name, block, SPLIT_K, seed=13)


# Rows of 4096 (the 8B's width: 16 norm slots per invocation) and 576 (SmolLM2's: a partial slot),
# with a zero block and a block whose largest value is negative.
@pytest.mark.parametrize("k", [576, 4096])
@pytest.mark.parametrize("via_norm,subgroups", [(False, False), (True, False), (True, True)],
                         ids=["standalone", "rmsnorm", "rmsnorm-subgroups"])
def test_int8_activation_rows(harness, k, via_norm, subgroups):
    """The int8 activation row as the quantizing pass and RMSNorm's fused output write it: numpy's
    int8s (but where x * 127 / max|x| lies within 1e-3 of a rounding boundary: the GPU's f32
    differs in the last bits) and scales."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal(k).astype(np.float32) * 3
    x[32:64] = 0
    x[64:96] = np.abs(x[64:96])
    x[70] = -10
    weight = (rng.random(k) + 0.5).astype(np.float32)
    if subgroups:
        sizes = harness.evaluate("() => window.harness.subgroupSizes()")
        assert sizes and sizes["min"] >= 4, f"this adapter's subgroups ({sizes}) cannot run the shuffled version"
    got = base64.b64decode(harness.evaluate("(a) => window.harness.quantizeQ8(a)", {
        "x": b64(x), "subgroups": subgroups, **({"weight": b64(weight), "eps": 1e-5} if via_norm else {})}))
    row = rms_norm(x.astype(np.float64), weight, 1e-5).astype(np.float32) if via_norm else x
    nb = k // 32
    q_got = np.frombuffer(got[:k], dtype=np.int8).reshape(nb, 32)
    scales_got = np.frombuffer(got[k:], dtype=np.float32).reshape(nb, 2)
    q, d = activations_q8(row)
    with np.errstate(invalid="ignore", divide="ignore"):  # the zero block
        scaled = row.reshape(nb, 32) / d
    settled = np.abs(scaled - np.floor(scaled) - 0.5) > 1e-3
    assert np.array_equal(q_got[settled], q[settled])
    assert np.all(np.abs(q_got.astype(int) - q) <= 1)
    assert np.allclose(scales_got[:, 0], d[:, 0], rtol=1e-5, atol=0)
    assert np.array_equal(scales_got[:, 1], scales_got[:, 0] * q_got.sum(axis=1, dtype=np.int32).astype(np.float32))
    assert np.all(q_got[1] == 0) and scales_got[1, 0] == 0 and q_got[2, 6] == -127
