"""Each dequantizing mat-vec / mat-mat kernel against numpy (dequantize, then float64 product).

Tolerance: |engine - numpy| <= 1e-5 * sum_k |W[r, k] x[t, k]| per output, a bound on f32
accumulation over K = 512 terms in any order."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.conftest import b64, from_b64
from tests.engine.reference import DEQUANTIZERS, dequantize
from tests.fixtures.synthetic_gguf import _matrix

pytestmark = pytest.mark.browser

ROWS, K = 70, 512  # 70 rows: not a multiple of the workgroup or the row block: bounds checks run
# The shapes in site/engine/webgpu/kernels/matmul.mjs (EMULATED_BLOCKS, GPU_BLOCKS, the former
# real-GPU prefill shape rows 4 tokens 8 workgroup 64) and one odd one.
BLOCKS = [
    (1, {"rows": 4, "tokens": 1, "workgroup": 16}),
    (11, {"rows": 8, "tokens": 8, "workgroup": 16}),
    (1, {"rows": 8, "lanes": 32}),
    (1, {"rows": 4, "warps": 4, "subgroups": False}),
    (1, {"rows": 4, "warps": 4, "subgroups": True}),
    (1, {"rows": 3, "warps": 2, "subgroups": True}),
    (1, {"rows": 2, "warps": 4, "subgroups": True, "unroll": 2}),
    (1, {"rows": 4, "warps": 2, "subgroups": True, "unroll": 2}),
    (1, {"rows": 8, "warps": 2, "subgroups": True, "unroll": 1}),
    (1, {"rows": 1, "warps": 2, "subgroups": False, "unroll": 3}),
    (11, {"rows": 4, "tokens": 8, "workgroup": 64}),
    (3, {"rows": 3, "tokens": 2, "workgroup": 64}),
]
# The tiled prefill kernel (kernels/matmul-tiled.mjs TILED_BLOCK: eight invocations share each
# weight item) at token counts that leave partial tiles, and odd shapes: four and two invocations
# per weight item, three weight items per invocation with K steps of 3 blocks (the last past K).
TILED = {"tile": {"rows": 32, "tokens": 64, "blocks": 1}, "rows": 2, "tokens": 4}
BLOCKS += [(n, TILED) for n in (1, 7, 64, 100)] + [
    (37, {"tile": {"rows": 64, "tokens": 64, "blocks": 1}, "rows": 4, "tokens": 4}),
    (9, {"tile": {"rows": 32, "tokens": 32, "blocks": 2}, "rows": 2, "tokens": 4}),
    (13, {"tile": {"rows": 32, "tokens": 8, "blocks": 3}, "rows": 2, "tokens": 4}),
]
# The shapes graph.mjs takes where the device allows more workgroup memory (TILED_BLOCKS;
# TILED_TALL_BLOCKS with one block per step: in f32 two would pass SwiftShader's 32 KiB).
BLOCKS += [(100, {"tile": {"rows": 32, "tokens": 64, "blocks": 2}, "rows": 2, "tokens": 4}),
           (70, {"tile": {"rows": 128, "tokens": 64, "blocks": 1}, "rows": 8, "tokens": 4})]


def run_matmul(harness, type_name, raw, x, block):
    row_bytes = raw.shape[1] if raw.dtype == np.uint8 else raw.shape[1] * raw.itemsize
    out = harness.evaluate(
        "(a) => window.harness.matmul(a)",
        {"type": type_name, "weights": b64(raw), "rows": ROWS, "k": K, "rowBytes": row_bytes,
         "x": b64(x.astype(np.float32)), "nTokens": len(x), "block": block},
    )
    return from_b64(out).reshape(len(x), ROWS)


@pytest.mark.parametrize("type_name", list(DEQUANTIZERS))
@pytest.mark.parametrize("n_tokens,block", BLOCKS)
def test_matmul_kernel(harness, type_name, n_tokens, block):
    rng = np.random.default_rng(3)
    raw, _ = _matrix(rng, type_name, ROWS, K, scale=0.5)
    w = dequantize(type_name, raw, K).astype(np.float64)
    x = rng.standard_normal((n_tokens, K))
    got = run_matmul(harness, type_name, raw, x, block)
    expected = x @ w.T
    bound = 1e-5 * (np.abs(x) @ np.abs(w).T) + 1e-6
    assert np.all(np.abs(got - expected) <= bound), np.max(np.abs(got - expected) / bound)


@pytest.mark.parametrize("type_name", ["Q4_0", "Q4_K", "Q6_K", "F16"])
@pytest.mark.parametrize("block", [
    {"rows": 2, "warps": 4, "subgroups": True, "unroll": 2, "gated": True},
    {"rows": 3, "warps": 2, "subgroups": False, "gated": True},
])
def test_gated_matvec(harness, type_name, block):
    """The decode FFN kernel: W holds gate then up (ROWS rows each); Y = silu(gate x) * (up x)."""
    rng = np.random.default_rng(7)
    raw, _ = _matrix(rng, type_name, 2 * ROWS, K, scale=0.5)
    w = dequantize(type_name, raw, K).astype(np.float64)
    x = rng.standard_normal((1, K))
    got = run_matmul(harness, type_name, raw, x, block)
    gate, up = x @ w[:ROWS].T, x @ w[ROWS:].T
    expected = gate / (1 + np.exp(-gate)) * up
    bound = 1e-5 * (np.abs(x) @ np.abs(w[:ROWS]).T) * np.abs(up) + 1e-5 * (np.abs(x) @ np.abs(w[ROWS:]).T) * np.abs(gate) + 1e-6
    assert np.all(np.abs(got - expected) <= bound), np.max(np.abs(got - expected) / bound)
