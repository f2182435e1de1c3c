"""Our tokenizer + WebGPU engine against wllama (llama.cpp's own tokenizer and CPU kernels) on the
real SmolLM2-135M, greedy, from the same prompt text: wherever the first N_GENERATE tokens differ,
the numpy reference shows a near-tie (top-2 gap <= MARGIN) at the first differing token, and at
least one prompt gives the same text throughout. wllama 3.13 has no tokenize call, so this is also
the check of our tokenizer against wllama on real text: other prompt ids would change the
continuation from its start. Seen (2026-11-25): one prompt identical for 32 tokens, the others
differing at tokens 5 and 27, reference gaps 0.08 and 0.03 (wllama's int8 activations tip them).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import ROOT
from tests.engine.reference import forward
from tests.engine.test_smollm2 import LONG_PROMPTS, MARGIN, smollm2  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N_GENERATE = 32

RUN_BOTH = """
const e = await window.harness.createWebGPUEngine();
await e.load(arg.url);
const ours = [];
for (const ids of arg.ids) {
  e.reset();
  await e.prefill(ids);
  ours.push((await e.generate({maxTokens: arg.n})).tokens);
}
await e.unload();
const { Wllama } = await import("/dist/vendor/wllama/index.js");
const w = new Wllama({ default: "/dist/vendor/wllama/wllama.wasm" }, { suppressNativeLog: true });
await w.loadModel([await (await fetch(arg.url)).blob()], { n_ctx: 1024, n_threads: 1, n_batch: 512 });
const theirs = [];
for (const prompt of arg.texts) {
  let text = "";
  await w.createCompletion({ prompt, max_tokens: arg.n, temperature: 0, stream: true, cache_prompt: false,
    ignore_eos: true, onData: (c) => { text += c.choices?.[0]?.text ?? ""; } });
  theirs.push(text);
}
await w.exit();
return { ours, theirs };
"""


def first_difference(tokenizer, tokens: list[int], text: str) -> int | None:
    """Index of our first token whose text no longer continues wllama's, or None if none."""
    for i in range(len(tokens)):
        if not text.startswith(tokenizer.decode(tokens[: i + 1])):
            return i
    return None


def test_greedy_text_matches_wllama_except_at_near_ties(harness, smollm2_path, smollm2):  # noqa: F811
    tokenizer, model = smollm2
    ids = [tokenizer.encode(p, parse_special=True) for p in LONG_PROMPTS]
    url = "/" + str(smollm2_path.relative_to(ROOT))
    result = harness.call(RUN_BOTH, {"url": url, "ids": ids, "texts": LONG_PROMPTS, "n": N_GENERATE})
    assert result["ok"], result
    same = 0
    for prompt_ids, ours, theirs in zip(ids, result["value"]["ours"], result["value"]["theirs"]):
        i = first_difference(tokenizer, ours, theirs)
        if i is None:
            same += 1
            continue
        row = forward(model, prompt_ids + ours[:i])[-1]
        gap = float(np.diff(np.sort(row)[-2:])[0])
        assert gap <= MARGIN, f"token {i}: ours {tokenizer.decode(ours)!r}, wllama {theirs!r}, top-2 gap {gap:.3f}"
    assert same >= 1, "no prompt gave wllama's text"
