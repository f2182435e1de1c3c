"""The real SmolLM2-135M (Q4_1, Q8_0 embeddings) in the engine against the numpy reference.

Teacher-forced: at every position where the reference's top-2 logit gap exceeds MARGIN, the
engine's argmax equals the reference's; every logit is within LOGIT_TOLERANCE of the reference
(f32 on the GPU vs float64 numpy over 30 layers; observed about 0.03 on logits up to ~35).
Free greedy generation: each generated token is the reference's argmax given the tokens before
it, except where the reference's top-2 gap is below MARGIN (a near-tie)."""

from __future__ import annotations

import numpy as np
import pytest

from pyapp.model.gguf import read_header
from pyapp.model.tokenizer import Tokenizer
from tests.conftest import ROOT
from tests.engine.conftest import from_b64
from tests.engine.reference import forward, load_model

pytestmark = pytest.mark.browser

MARGIN = 0.25
LOGIT_TOLERANCE = 0.2
N_GENERATE = 16

SHORT_PROMPT = ("<|im_start|>user\nWhat is the capital of France, and what river flows through it?"
                "<|im_end|>\n<|im_start|>assistant\n")
LONG_TEXT = (
    "The printing press, developed by Johannes Gutenberg around 1440, changed how knowledge spread "
    "across Europe. Before it, books were copied by hand, mostly in monasteries, and a single volume "
    "could take months to finish. Movable metal type, oil-based ink and a screw press adapted from "
    "wine making let a small workshop produce hundreds of identical pages a day. Within fifty years "
    "presses were running in more than two hundred cities, and millions of books had been printed. "
    "Prices fell, literacy rose, and scholars could compare the same text in different places. The "
    "Reformation used pamphlets to spread its arguments quickly, and scientists shared results in "
    "printed journals. Some rulers tried to license presses or ban certain books, but copies moved "
    "across borders faster than censors could follow. Historians still debate how quickly ordinary "
    "people felt these changes, since many remained unable to read for centuries afterwards. "
    "What is clear is that ideas, once printed, became much harder to suppress or to forget."
)
LONG_PROMPTS = [
    f"<|im_start|>user\nSummarize this text in two sentences.\n\n{LONG_TEXT}<|im_end|>\n<|im_start|>assistant\n",
    f"<|im_start|>user\n{LONG_TEXT}\n\nWho developed the printing press, and when?<|im_end|>\n<|im_start|>assistant\n",
    f"{LONG_TEXT} In the centuries that followed, the same idea of cheap copies shaped",
]

RUN = """
const e = await window.harness.createWebGPUEngine();
await e.load(arg.url);
const out = [];
for (const ids of arg.prompts) {
  const pre = await e.prefill(ids, {returnLogits: "all"});
  const gen = await e.generate({maxTokens: arg.n});
  out.push({logits: window.harness.toBase64(pre.logits), tokens: gen.tokens});
}
await e.unload();
return out;
"""


@pytest.fixture(scope="module")
def smollm2(smollm2_path):
    data = smollm2_path.read_bytes()
    tokenizer = Tokenizer.from_gguf(read_header(data))
    return tokenizer, load_model(smollm2_path)


def check_prompts(harness, smollm2_path, smollm2, prompts):
    tokenizer, model = smollm2
    ids = [tokenizer.encode(p, parse_special=True) for p in prompts]
    url = "/" + str(smollm2_path.relative_to(ROOT))
    result = harness.call(RUN, {"url": url, "prompts": ids, "n": N_GENERATE})
    assert result["ok"], result
    for prompt_ids, value in zip(ids, result["value"]):
        got = from_b64(value["logits"]).reshape(len(prompt_ids), -1)
        generated = value["tokens"]
        ref = forward(model, prompt_ids + generated)
        teacher = ref[: len(prompt_ids)]
        assert np.abs(got - teacher).max() <= LOGIT_TOLERANCE
        top2 = np.sort(teacher, axis=1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > MARGIN
        assert np.array_equal(got.argmax(1)[clear], teacher.argmax(1)[clear])
        for i, token in enumerate(generated):
            row = ref[len(prompt_ids) - 1 + i]
            gap = np.diff(np.sort(row)[-2:])[0]
            if gap <= MARGIN:
                break  # a near-tie: the rest of the sequence legitimately diverges
            assert token == int(row.argmax()), f"generated token {i} of {tokenizer.decode(generated)!r}"


def test_short_prompt_matches_reference(harness, smollm2_path, smollm2):
    check_prompts(harness, smollm2_path, smollm2, [SHORT_PROMPT])


@pytest.mark.slow
def test_long_prompts_match_reference(harness, smollm2_path, smollm2):
    tokenizer, _ = smollm2
    assert all(len(tokenizer.encode(p, parse_special=True)) >= 200 for p in LONG_PROMPTS)
    check_prompts(harness, smollm2_path, smollm2, LONG_PROMPTS)


DRAFTED = """
const e = await window.harness.createWebGPUEngine();
await e.load(arg.url);
const out = [];
for (const sampling of arg.samplings) {
  const run = {};
  for (const draft of [0, undefined]) {
    await e.prefill(arg.ids);
    const g = await e.generate({maxTokens: arg.n, draft, ...sampling});
    run[draft === 0 ? "plain" : "drafted"] = {tokens: g.tokens, passes: g.stats.passes, kept: g.stats.acceptedTokens};
  }
  out.push(run);
}
await e.unload();
return out;
"""


def test_a_summary_keeps_drafts_from_its_document(harness, smollm2_path, smollm2):
    """A summary repeats its document's words, so prompt lookup's drafts are kept: the same
    greedy tokens as plain decoding, in fewer passes. Sampled with a seed, drafting changes
    nothing either (its passes take the exact head, whose kernels compile at their first use:
    greedy steps take the head's shadow)."""
    tokenizer, _ = smollm2
    ids = tokenizer.encode(LONG_PROMPTS[0], parse_special=True)
    url = "/" + str(smollm2_path.relative_to(ROOT))
    samplings = [{}, {"temperature": 0.7, "seed": 3}]
    result = harness.call(DRAFTED, {"url": url, "ids": ids, "n": 32, "samplings": samplings})
    assert result["ok"], result
    for run in result["value"]:
        plain, drafted = run["plain"], run["drafted"]
        assert drafted["tokens"] == plain["tokens"], tokenizer.decode(drafted["tokens"])
        assert plain["passes"] == len(plain["tokens"])
    greedy = result["value"][0]["drafted"]
    assert greedy["kept"] > 0 and greedy["passes"] < len(greedy["tokens"])
