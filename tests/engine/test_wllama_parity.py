"""Our tokenizer + WebGPU engine against wllama (llama.cpp's own tokenizer and CPU kernels) on the
real SmolLM2-135M, greedy, from the same prompt text: most prompts give wllama's text for all
N_GENERATE tokens, and wherever they differ, the numpy reference puts wllama's token within
WLLAMA_MARGIN of its top logit at the first differing token (a near-tie that wllama's int8
activations tip). wllama 3.13 has no tokenize call, so this is also the check of our tokenizer
against wllama on real text: other prompt ids would change the continuation from its start.
Seen (2026-11-25, 15 prompts): 11 identical for 32 tokens; the others differ at tokens 5, 27, 6
and 0, where wllama's token trails the reference's top by 0.09, 0.03, 0.10 and 0.34 (the last a
four-way tie: the top four first tokens within 0.35).
"""

from __future__ import annotations

import pytest

from tests.conftest import ROOT
from tests.engine.reference import forward
from tests.engine.test_smollm2 import LONG_PROMPTS, smollm2  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]

N_GENERATE = 32
# Wider than MARGIN (our engine against the f32 reference): llama.cpp's CPU kernels quantize the
# activations to 8 bits per block before every product with quantized weights.
WLLAMA_MARGIN = 0.5
# Besides the three printing-press prompts: a summary request for the start of each of the
# quality evaluation's documents (real prose of many kinds: minutes, a lease, a manual, ...).
DOCUMENT_PROMPTS = [
    f"<|im_start|>user\nSummarize this text in two sentences.\n\n{path.read_text()[:1400]}<|im_end|>\n<|im_start|>assistant\n"
    for path in sorted((ROOT / "eval" / "documents").glob("*.txt"))
]
PROMPTS = LONG_PROMPTS + DOCUMENT_PROMPTS

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
    ids = [tokenizer.encode(p, parse_special=True) for p in PROMPTS]
    url = "/" + str(smollm2_path.relative_to(ROOT))
    result = harness.call(RUN_BOTH, {"url": url, "ids": ids, "texts": PROMPTS, "n": N_GENERATE})
    assert result["ok"], result
    same = 0
    for n, (prompt_ids, ours, theirs) in enumerate(zip(ids, result["value"]["ours"], result["value"]["theirs"])):
        i = first_difference(tokenizer, ours, theirs)
        if i is None:
            same += 1
            print(f"prompt {n}: same {N_GENERATE} tokens")
            continue
        row = forward(model, prompt_ids + ours[:i])[-1]
        their_token = tokenizer.encode(theirs[len(tokenizer.decode(ours[:i])):])[0]
        lag = float(row.max() - row[their_token])
        print(f"prompt {n}: first difference at token {i}, wllama's token trails the reference's top by {lag:.3f}")
        assert lag <= WLLAMA_MARGIN, f"token {i}: ours {tokenizer.decode(ours)!r}, wllama {theirs!r}, lag {lag:.3f}"
    print(f"{same} of {len(PROMPTS)} prompts: wllama's text for all {N_GENERATE} tokens")
    assert same > len(PROMPTS) / 2, "wllama's text on fewer than most prompts"
