"""The numpy reference itself (CPython only): its dequantizers agree with gguf-py's, the JS
tensor-type table agrees with the Python one, and its YaRN maths gives llama.cpp's numbers."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf.quants import dequantize as gguf_dequantize

from pyapp.model.tensor_types import ENGINE_SUPPORTED, TENSOR_TYPES
from tests.conftest import ROOT
from tests.engine.reference import DEQUANTIZERS, RopeScaling, dequantize, yarn_corr_dims

QUANTIZED = [name for name in DEQUANTIZERS if name not in ("F32", "F16")]


@pytest.mark.parametrize("type_name", QUANTIZED)
def test_dequantizer_matches_gguf_py(type_name):
    qtype = GGMLQuantizationType[type_name]
    block_size, block_bytes = GGML_QUANT_SIZES[qtype]
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, size=(6, 512 // block_size * block_bytes), dtype=np.uint8)
    with np.errstate(invalid="ignore", over="ignore"):
        expected = gguf_dequantize(raw, qtype).reshape(6, 512)
        got = dequantize(type_name, raw, 512)
    finite = np.isfinite(expected)  # random f16 scales may be inf/nan; both sides agree there too
    assert finite.mean() > 0.5
    np.testing.assert_array_equal(got[finite], expected[finite])


def test_reference_covers_every_engine_type():
    assert set(DEQUANTIZERS) == set(ENGINE_SUPPORTED)


def test_js_type_table_mirrors_python():
    source = (ROOT / "site/engine/webgpu/tensor-types.mjs").read_text()
    rows = re.findall(r'\["(\w+)", (\d+), (\d+), (\d+), (true|false)\]', source)
    js = {int(type_id): (name, int(bs), int(bb), flag == "true") for name, type_id, bs, bb, flag in rows}
    py = {t.type_id: (t.name, t.block_size, t.block_bytes, t.name in ENGINE_SUPPORTED) for t in TENSOR_TYPES.values()}
    assert js == py


def test_yarn_corr_dims_of_qwen2_5():
    # Qwen2.5 with YaRN (original context 32768, base 1e6, heads of 128): the pairs turning 32 and
    # 1 times over the context are 128 ln(32768 / 64 pi) / 2 ln 1e6 = 23.6 and
    # 128 ln(32768 / 2 pi) / 2 ln 1e6 = 39.6, rounded outwards.
    assert yarn_corr_dims(128, 32768, 1e6) == (23, 40)


def test_yarn_keeps_fast_pairs_and_interpolates_slow_ones():
    scaling = RopeScaling(freq_scale=0.25, ext_factor=1.0, corr_dims=(2.0, 6.0), attn_factor=1.5)
    theta, mscale = scaling.rope_yarn(np.ones(8))
    np.testing.assert_allclose(theta, [1, 1, 1, 0.8125, 0.625, 0.4375, 0.25, 0.25])
    assert mscale == pytest.approx(1.5 * (1 + 0.1 * math.log(4)))
