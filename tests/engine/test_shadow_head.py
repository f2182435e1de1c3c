"""The output head's Q4_1 shadow for greedy steps (site/engine/webgpu/kernels/shadow-head.mjs).

Requantization against numpy (reference.shadow_q4_1); the candidates and their rescoring
against numpy on small matrices, including the overflow past the list's capacity (every row
rescored) and a head split into parts; and in the engine (SmolLM2), sampling after greedy steps
draws from exact logits, as an engine without the shadow does. Greedy generation with the shadow
against the reference runs in test_model_synthetic (every head type) and test_smollm2."""

from __future__ import annotations

import base64

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.engine.conftest import b64, from_b64
from tests.engine.reference import _q4_1, dequantize, shadow_q4_1
from tests.fixtures.synthetic_gguf import _matrix

pytestmark = pytest.mark.browser

SHADOWED_TYPES = ("F32", "F16", "Q8_0", "Q5_0", "Q4_K", "Q5_K", "Q6_K")  # SHADOWED_TYPES in shadow-head.mjs
ROWS, K = 70, 512


def raw_matrix(type_name, seed=5):
    raw, _ = _matrix(np.random.default_rng(seed), type_name, ROWS, K, scale=0.5)
    raw = np.ascontiguousarray(raw)
    return raw, dequantize(type_name, raw, K).astype(np.float32), raw.view(np.uint8).reshape(ROWS, -1).shape[1]


@pytest.mark.parametrize("type_name", SHADOWED_TYPES)
def test_shadow_requantizes_each_block_as_the_reference(harness, type_name):
    raw, w, row_bytes = raw_matrix(type_name)
    out = harness.evaluate("(a) => window.harness.shadowQuantize(a)",
                           {"type": type_name, "weights": b64(raw), "rows": ROWS, "k": K, "rowBytes": row_bytes})
    blocks = np.frombuffer(base64.b64decode(out["shadow"]), np.uint8)[: ROWS * K // 32 * 20].reshape(-1, 20)
    got = _q4_1(blocks).reshape(ROWS, K)
    want, want_norms = shadow_q4_1(w)
    # Each weight within half a step of its block, give or take the f16 rounding of the block's
    # minimum, and most equal to numpy's: a quotient halfway between two quants (weights on a
    # quant grid meet them, K-quants' 16 levels most) rounds either way with the last bit of
    # the dequantized weight, which a fused multiply-add moves, so those may differ by a step.
    per_weight = lambda column: np.repeat(column, 32, axis=1).reshape(ROWS, K)  # noqa: E731
    steps = per_weight(blocks[:, 0:2].copy().view(np.float16).astype(np.float32))
    minimum_rounding = np.abs(blocks[:, 2:4].copy().view(np.float16).astype(np.float32) - w.reshape(-1, 32).min(axis=1, keepdims=True))
    assert np.all(np.abs(got - w) <= 0.5 * steps * (1 + 1e-3) + per_weight(minimum_rounding) + 1e-7)
    assert np.all(np.abs(got - want) <= steps * (1 + 1e-3) + 1e-7)
    assert np.mean(got == want) > 0.95
    norms = from_b64(out["errors"])[:ROWS]
    assert np.allclose(norms, np.linalg.norm((got - w).astype(np.float64), axis=1), rtol=1e-4, atol=1e-7)
    assert np.allclose(norms, want_norms, rtol=0.05)


def run_candidates(harness, type_name, raw, row_bytes, x, shadow_logits, z_e, capacity, row_start=0, part_rows=ROWS):
    part = raw.view(np.uint8).reshape(ROWS, -1)[row_start:row_start + part_rows]
    out = harness.evaluate("(a) => window.harness.shadowCandidates(a)", {
        "type": type_name, "weights": b64(np.ascontiguousarray(part)), "rows": ROWS, "k": K, "rowBytes": row_bytes,
        "x": b64(x.astype(np.float32)), "logits": b64(shadow_logits.astype(np.float32)), "nTokens": len(x),
        "zE": z_e, "capacity": capacity, "rowStart": row_start, "partRows": part_rows,
    })
    logits = from_b64(out["logits"])[: len(x) * ROWS].reshape(len(x), ROWS)
    lists = np.frombuffer(base64.b64decode(out["lists"]), np.uint32)[: len(x) * (capacity + 1)].reshape(len(x), -1)
    return logits, lists


@pytest.mark.parametrize("type_name", ["Q8_0", "Q6_K"])
@pytest.mark.parametrize("case", ["listed", "overflow", "second part"])
def test_candidates_are_the_rows_near_the_maximum_and_get_exact_logits(harness, type_name, case):
    """Rows whose shadow logit is within z_e * |x| of the row's maximum are listed and
    recomputed from the real weights; the others keep their shadow logits. Past the capacity,
    every row is recomputed. A part recomputes only its own rows."""
    raw, w, row_bytes = raw_matrix(type_name)
    shadow, _ = shadow_q4_1(w)
    rng = np.random.default_rng(11)
    x = rng.standard_normal((2, K)).astype(np.float32)
    approx = (x.astype(np.float64) @ shadow.T.astype(np.float64)).astype(np.float32)
    exact = x.astype(np.float64) @ w.T.astype(np.float64)
    bound = 1e-5 * (np.abs(x) @ np.abs(w).T) + 1e-5
    # delta halfway between the 9th and 10th largest shadow logits of token 0: 9 candidates.
    top = np.sort(approx, axis=1)[:, ::-1]
    delta = top[0, 0] - (top[0, 8] + top[0, 9]) / 2
    z_e = float(delta / np.linalg.norm(x[0]))
    expected = approx >= approx.max(axis=1, keepdims=True) - z_e * np.linalg.norm(x, axis=1, keepdims=True)
    assert expected[0].sum() == 9
    capacity = 4 if case == "overflow" else 32
    row_start, part_rows = (35, 35) if case == "second part" else (0, ROWS)
    logits, lists = run_candidates(harness, type_name, raw, row_bytes, x, approx, z_e, capacity, row_start, part_rows)
    in_part = np.zeros(ROWS, bool)
    in_part[row_start:row_start + part_rows] = True
    for t in range(len(x)):
        count = int(lists[t, 0])
        assert count == expected[t].sum()
        rescored = np.ones(ROWS, bool) if count > capacity else expected[t].copy()
        if count <= capacity:
            assert sorted(lists[t, 1:count + 1]) == list(np.flatnonzero(expected[t]))
        rescored &= in_part
        assert np.all(np.abs(logits[t, rescored] - exact[t, rescored]) <= bound[t, rescored])
        assert np.array_equal(logits[t, ~rescored], approx[t, ~rescored])


SAMPLE_AFTER_GREEDY = """
const out = {};
for (const shadowHead of [false, true]) {
  const e = await window.harness.createWebGPUEngine({shadowHead});
  await e.load(arg.url);
  await e.prefill(arg.ids);
  const greedy = await e.generate({maxTokens: 4});
  const sampled = await e.generate({maxTokens: 6, temperature: 2.0, seed: 7});
  out[shadowHead] = {greedy: greedy.tokens, sampled: sampled.tokens, shadow: e.stats().shadowHead};
  await e.unload();
}
return out;
"""


def test_sampling_after_greedy_steps_draws_from_the_exact_head(harness, smollm2_path):
    """A greedy generation leaves logits exact only where the maximum may lie (SmolLM2's Q8_0
    head has a shadow); a sampling generation that follows takes its first token from the exact
    head, so both engines draw the same tokens at a temperature that reaches the tail."""
    url = "/" + str(smollm2_path.relative_to(ROOT))
    ids = [1, 4093, 314, 253, 3604, 282, 12153, 30]
    result = harness.call(SAMPLE_AFTER_GREEDY, {"url": url, "ids": ids})
    assert result["ok"], result
    exact, shadowed = result["value"]["false"], result["value"]["true"]
    assert exact["shadow"] is None and shadowed["shadow"]["type"] == "Q4_1"
    assert shadowed["greedy"] == exact["greedy"]
    assert shadowed["sampled"] == exact["sampled"]
