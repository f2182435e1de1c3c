"""The whole engine on tiny synthetic models (tests/fixtures/synthetic_gguf.py), every
architecture x tensor type, against the numpy reference forward pass.

Tolerances: prefill logits within 2e-3 * max|reference logit| (f32 on the GPU vs float64 numpy,
observed <= 4e-4); greedy generation equals the reference's argmax wherever the reference's
top-2 gap exceeds 1e-3 * max|logit|."""

from __future__ import annotations

import numpy as np
import pytest

from tests.engine.conftest import from_b64
from tests.engine.reference import forward, load_model
from tests.fixtures.synthetic_gguf import ARCHS, TYPES, model_path

pytestmark = pytest.mark.browser

PROMPT = [1, 17, 250, 3, 99, 42, 42, 7, 310, 5, 64, 128, 200]
N_GENERATE = 6

RUN = """
const e = await window.harness.createWebGPUEngine();
const info = await e.load(arg.url);
const pre = await e.prefill(arg.ids, {returnLogits: "all"});
const gen = await e.generate({maxTokens: arg.n});
await e.unload();
return {info, logits: window.harness.toBase64(pre.logits), tokens: gen.tokens, nCached: pre.nCached};
"""


def check_greedy(ref_logits, prompt, generated, scale):
    for i, token in enumerate(generated):
        row = ref_logits[len(prompt) - 1 + i]
        top2 = np.sort(row)[-2:]
        if top2[1] - top2[0] > 1e-3 * scale:
            assert token == int(np.argmax(row)), f"generated token {i}"


@pytest.mark.parametrize("type_name", TYPES)
@pytest.mark.parametrize("arch", ARCHS)
def test_logits_and_greedy_match_reference(harness, synthetic_dir, arch, type_name):
    name = model_path(synthetic_dir, arch, type_name).name
    result = harness.call(RUN, {"url": f"/synthetic/{name}", "ids": PROMPT, "n": N_GENERATE})
    assert result["ok"], result
    value = result["value"]
    assert value["info"]["arch"] == arch
    assert type_name in value["info"]["tensorTypes"]
    model = load_model(synthetic_dir / name)
    got = from_b64(value["logits"]).reshape(len(PROMPT), -1)
    ref = forward(model, PROMPT)
    scale = np.abs(ref).max()
    assert np.abs(got - ref).max() <= 2e-3 * scale
    generated = value["tokens"]
    assert len(generated) == N_GENERATE
    check_greedy(forward(model, PROMPT + generated), PROMPT, generated, scale)
