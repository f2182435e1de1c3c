"""site/engine/webgpu/gguf.mjs reads the same header as pyapp/model/gguf.py: tensor directory
(names, shapes, types, absolute offsets) and scalar metadata."""

from __future__ import annotations

import pytest

from pyapp.model.gguf import read_header
from tests.conftest import ROOT
from tests.fixtures.synthetic_gguf import model_path

pytestmark = pytest.mark.browser

PARSE = """
const { parseHeader } = await import("/site/engine/webgpu/gguf.mjs");
const bytes = new Uint8Array(await (await fetch(arg.url)).arrayBuffer());
const h = parseHeader(bytes.subarray(0, arg.prefix));
const scalars = Object.fromEntries(Object.entries(h.metadata).filter(([, v]) => typeof v !== "object"));
return {
  scalars,
  arrays: Object.fromEntries(Object.entries(h.metadata).filter(([, v]) => typeof v === "object").map(([k, v]) => [k, v.length])),
  tensors: h.tensors.map((t) => [t.name, t.shape, t.type.name, t.fileOffset]),
};
"""


def python_view(path, prefix):
    header = read_header(path.read_bytes()[:prefix])
    scalars = {k: v for k, v in header.metadata.items() if not isinstance(v, list)}
    arrays = {k: len(v) for k, v in header.metadata.items() if isinstance(v, list)}
    tensors = [[t.name, list(t.shape), t.type.name, header.data_offset + t.offset] for t in header.tensors.values()]
    return scalars, arrays, tensors


@pytest.mark.parametrize("which", ["synthetic", "smollm2"])
def test_js_header_matches_python(harness, synthetic_dir, smollm2_path, which):
    if which == "synthetic":
        path = model_path(synthetic_dir, "qwen2", "Q4_K")
        url = f"/synthetic/{path.name}"
    else:
        path = smollm2_path
        url = "/" + str(path.relative_to(ROOT))
    prefix = 8 << 20
    result = harness.call(PARSE, {"url": url, "prefix": prefix})
    assert result["ok"], result
    scalars, arrays, tensors = python_view(path, prefix)
    value = result["value"]
    assert value["tensors"] == tensors
    assert value["arrays"] == arrays
    assert value["scalars"].keys() == scalars.keys()
    for key, expected in scalars.items():
        if isinstance(expected, float):
            assert value["scalars"][key] == pytest.approx(expected, rel=1e-6), key
        else:
            assert value["scalars"][key] == expected, key
