"""The numpy reference itself (CPython only): its dequantizers agree with gguf-py's, and the JS
tensor-type table agrees with the Python one."""

from __future__ import annotations

import re

import numpy as np
import pytest
from gguf import GGML_QUANT_SIZES, GGMLQuantizationType
from gguf.quants import dequantize as gguf_dequantize

from pyapp.model.tensor_types import ENGINE_SUPPORTED, TENSOR_TYPES
from tests.conftest import ROOT
from tests.engine.reference import DEQUANTIZERS, dequantize

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
