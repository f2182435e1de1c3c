"""The engine's contract on synthetic models: sources, KV-cache prefix reuse, sampling, stop and
cancel, split weight buffers, and the typed errors."""

from __future__ import annotations

import numpy as np
import pytest

from tests.conftest import launch_chromium
from tests.engine.conftest import from_b64
from tests.engine.reference import RopeScaling, forward, load_model
from tests.engine.test_model_synthetic import check_greedy
from tests.fixtures.synthetic_gguf import model_path, write_model

pytestmark = pytest.mark.browser

PROMPT = [1, 17, 250, 3, 99, 42, 42, 7, 310, 5]
LOGIT_TOLERANCE = 2e-3  # times max|reference logit|, as in test_model_synthetic.py
# Where the one-token pass rounds its mat-vec inputs to int8 (kernels/activations-q8.mjs), its
# reference rounds them so too, but the two roundings part wherever the f32 activations they start
# from differ (by ~1e-4) across a rounding boundary: a jump of one int8 step (up to 0.8% of the
# block's largest value). Measured 0.7-1.7% of the largest logit on the synthetic Q4_0 model,
# whose random weights make every activation noise-like; the kernels themselves are checked
# exactly in test_kernels.py.
Q8_LOGIT_TOLERANCE = 3e-2


@pytest.fixture(scope="module")
def qwen(synthetic_dir):
    path = model_path(synthetic_dir, "qwen2", "Q8_0")
    return f"/synthetic/{path.name}", load_model(path)


def assert_close(got_b64, ref_row, relative=LOGIT_TOLERANCE):
    got = from_b64(got_b64)
    error, tolerance = np.abs(got - ref_row).max(), relative * np.abs(ref_row).max()
    assert error <= tolerance, f"max error {error:.3g} > {tolerance:.3g}"


def test_url_blob_and_arraybuffer_sources_agree(harness, qwen):
    url, model = qwen
    result = harness.call("""
        const out = {};
        const bytes = await (await fetch(arg.url)).arrayBuffer();
        for (const [kind, source] of [["url", arg.url], ["blob", new Blob([bytes])], ["buffer", bytes]]) {
          const e = await window.harness.createWebGPUEngine();
          const phases = new Set();
          await e.load(source, {onProgress: (p) => phases.add(p.phase)});
          const r = await e.prefill(arg.ids, {returnLogits: "last"});
          out[kind] = {logits: window.harness.toBase64(r.logits), phases: [...phases]};
          await e.unload();
        }
        return out;
    """, {"url": url, "ids": PROMPT})
    assert result["ok"], result
    ref = forward(model, PROMPT)[-1]
    for kind, value in result["value"].items():
        assert_close(value["logits"], ref)
        assert "weights" in value["phases"], kind


def test_prefill_reuses_the_common_prefix(harness, qwen):
    url, model = qwen
    more = PROMPT + [11, 12, 13]
    other = PROMPT + [20, 21]
    result = harness.call("""
        const e = await window.harness.createWebGPUEngine();
        await e.load(arg.url);
        const a = await e.prefill(arg.prompt);
        const b = await e.prefill(arg.more, {returnLogits: "last"});
        const c = await e.prefill(arg.other, {returnLogits: "last"});
        const same = await e.prefill(arg.other);
        const gen = await e.generate({maxTokens: 3});
        const after = await e.prefill([...arg.other, ...gen.tokens, 30]);
        e.reset();
        const fresh = await e.prefill(arg.prompt);
        return {a: a.nCached, b: b.nCached, bLogits: window.harness.toBase64(b.logits), c: c.nCached,
                cLogits: window.harness.toBase64(c.logits), same: same.nCached, sameEval: same.nEvaluated,
                after: after.nCached, fresh: fresh.nCached};
    """, {"url": url, "prompt": PROMPT, "more": more, "other": other})
    assert result["ok"], result
    v = result["value"]
    assert v["a"] == 0 and v["b"] == len(PROMPT) and v["c"] == len(PROMPT)
    assert v["same"] == len(other) - 1 and v["sameEval"] == 1  # the last token is re-run for its logits
    assert v["after"] == len(other) + 3
    assert v["fresh"] == 0
    assert_close(v["bLogits"], forward(model, more)[-1])
    assert_close(v["cLogits"], forward(model, other)[-1])


def test_weights_split_across_small_buffers(harness, synthetic_dir):
    path = model_path(synthetic_dir, "llama", "Q8_0")  # tied head: the split table is also the output
    result = harness.call("""
        const e = await window.harness.createWebGPUEngine();
        await e.load(arg.url, {maxBindingBytes: 40000});
        const r = await e.prefill(arg.ids, {returnLogits: "all"});
        return window.harness.toBase64(r.logits);
    """, {"url": f"/synthetic/{path.name}", "ids": PROMPT})
    assert result["ok"], result
    got = from_b64(result["value"]).reshape(len(PROMPT), -1)
    ref = forward(load_model(path), PROMPT)
    assert np.abs(got - ref).max() <= LOGIT_TOLERANCE * np.abs(ref).max()


ROPE_VARIANTS = {
    "llama3-freqs": ("llama", {"rope_freqs": True}),
    "linear": ("llama", {"rope_scaling": {"type": "linear", "factor": 4.0}}),
    "factor-without-type": ("llama", {"rope_scaling": {"factor": 4.0}}),  # linear, as llama.cpp
    # Heads of 64, base 1e6, original context 512: YaRN's ramp runs over pairs 2 to 11.
    "yarn": ("qwen2", {"rope_scaling": {"type": "yarn", "factor": 4.0, "original_context_length": 512,
                                        "attn_factor": 1.2}, "n_ctx": 2048}),
}


@pytest.mark.parametrize("variant", ROPE_VARIANTS)
def test_rope_variants(harness, synthetic_dir, variant):
    arch, options = ROPE_VARIANTS[variant]
    name = f"{arch}-rope-{variant}.gguf"
    path = write_model(synthetic_dir / name, arch, "Q8_0", **options)
    result = harness.call("""
        const e = await window.harness.createWebGPUEngine();
        await e.load(arg.url);
        const r = await e.prefill(arg.ids, {returnLogits: "all"});
        return window.harness.toBase64(r.logits);
    """, {"url": f"/synthetic/{name}", "ids": PROMPT})
    assert result["ok"], result
    got = from_b64(result["value"]).reshape(len(PROMPT), -1)
    model = load_model(path)
    ref = forward(model, PROMPT)
    assert np.abs(got - ref).max() <= LOGIT_TOLERANCE * np.abs(ref).max()
    model.hp["rope_scaling"] = RopeScaling()
    model.weights.pop("rope_freqs.weight", None)
    plain = forward(model, PROMPT)
    assert np.abs(plain - ref).max() > 10 * LOGIT_TOLERANCE * np.abs(ref).max()  # the variant matters


# Query heads per kv head: the emulated scores and one-token mix take a whole group per
# invocation (kernels/attention.mjs), so groups of 1 (multi-head) and of all heads (multi-query)
# besides the synthetic models' 2; and heads of 40 (10 vec4s: the one-token mix takes 4 per
# invocation, so each head's last invocation has 2; the one-pass prefill attention's 8-vec4
# steps end in zeros). The real-GPU kernels (float activations, so the same tolerance) take a
# prompt of 70 in chunks of 40, so that the prefill attention's 32 x 32 tiles of tokens and
# positions are crossed, cut short and, in the second chunk, start past position 0 (its running
# maximum and sum carried across three position tiles).
@pytest.mark.parametrize("kernels", ["emulated", "gpu"])
@pytest.mark.parametrize("n_kv,head_dim", [(4, None), (1, None), (2, 40)])
def test_attention_head_groups(harness, synthetic_dir, n_kv, head_dim, kernels):
    name = f"llama-kv{n_kv}-hd{head_dim}.gguf"
    path = synthetic_dir / name
    if not path.exists():
        write_model(path, "llama", "Q8_0", n_head=4, n_kv=n_kv, head_dim=head_dim)
    prompt = PROMPT if kernels == "emulated" else LONG_PROMPT[:70]
    options = {} if kernels == "emulated" else {"emulatedGPU": False, "activations": "f32", "prefillChunk": 40}
    result = harness.call("""
        const e = await window.harness.createWebGPUEngine(arg.options);
        await e.load(arg.url);
        const r = await e.prefill(arg.ids, {returnLogits: "all"});
        const gen = await e.generate({maxTokens: 6});
        const one = await e.prefill([...arg.ids, gen.tokens[0]], {returnLogits: "last"});
        return {logits: window.harness.toBase64(r.logits), tokens: gen.tokens, one: window.harness.toBase64(one.logits),
                oneEvaluated: one.nEvaluated, chunk: e.model.graph.prefillChunk,
                prefillAttention: e.model.graph.attentionKernel};
    """, {"url": f"/synthetic/{name}", "ids": prompt, "options": options})
    assert result["ok"], result
    value = result["value"]
    assert value["prefillAttention"] == ("passes" if kernels == "emulated" else "tiled")
    assert value["chunk"] == (64 if kernels == "emulated" else 40)
    model = load_model(path)
    generated = value["tokens"]
    ref = forward(model, prompt + generated)
    n = len(prompt)
    got = from_b64(value["logits"]).reshape(n, -1)
    assert np.abs(got - ref[:n]).max() <= LOGIT_TOLERANCE * np.abs(ref).max()
    # The one-token pass (decode's kernels: the one-token mix) at position n.
    assert value["oneEvaluated"] == 1
    assert_close(value["one"], ref[n], LOGIT_TOLERANCE)
    check_greedy(ref, prompt, generated, np.abs(ref).max())


SAMPLE = """
const e = await window.harness.createWebGPUEngine();
await e.load(arg.url);
const out = [];
for (const options of arg.runs) {
  await e.prefill(arg.ids);
  out.push((await e.generate({maxTokens: 8, ...options})).tokens);
}
return out;
"""


def test_sampling(harness, qwen):
    url, model = qwen
    runs = [
        {},  # greedy
        {"temperature": 0.9, "topK": 1, "seed": 1},
        {"temperature": 0.9, "topP": 0.0, "seed": 2},
        {"temperature": 1.0, "seed": 5},
        {"temperature": 1.0, "seed": 5},
        {"temperature": 1.0, "seed": 6},
        {"temperature": 1.0, "topK": 3, "seed": 7},
        {"temperature": 0.7, "topP": 0.5, "seed": 8},
    ]
    result = harness.call(SAMPLE, {"url": url, "ids": PROMPT, "runs": runs})
    assert result["ok"], result
    greedy, top1, top_p0, seeded, seeded_again, other_seed, top3, top_half = result["value"]
    assert top1 == greedy and top_p0 == greedy
    assert seeded == seeded_again and seeded != other_seed
    assert all(0 <= t < 384 for t in seeded + other_seed)
    ref = forward(model, PROMPT + top3)
    for i, token in enumerate(top3):
        assert token in np.argsort(ref[len(PROMPT) - 1 + i])[-3:]
    ref = forward(model, PROMPT + top_half)
    for i, token in enumerate(top_half):
        logits = ref[len(PROMPT) - 1 + i] / 0.7
        p = np.exp(logits - logits.max())
        p /= p.sum()
        order = np.argsort(-p)
        nucleus = order[: int(np.searchsorted(np.cumsum(p[order]), 0.5)) + 1]
        assert token in nucleus


DRAFTS = """
const e = await window.harness.createWebGPUEngine(arg.options);
await e.load(arg.url);
const prefill = await e.prefill(arg.ids, {returnLogits: "all"});
const out = [window.harness.toBase64(prefill.logits)];
for (const sampling of arg.runs) {
  const byDraft = {};
  for (const draft of [0, 3]) {
    await e.prefill(arg.ids);
    const g = await e.generate({maxTokens: 24, draft, ...sampling});
    byDraft[draft] = {tokens: g.tokens, passes: g.stats.passes, kept: g.stats.acceptedTokens};
  }
  out.push(byDraft);
}
return out;
"""


@pytest.mark.parametrize("kernels", ["emulated", "real-gpu"])
def test_drafted_decoding_gives_the_tokens_of_plain_decoding(harness, qwen, kernels):
    """Prompt lookup's drafts, checked several tokens a pass, change the passes and not the
    tokens: greedy and seeded sampling give what plain decoding gives. The synthetic model falls
    into a loop, which the lookup continues, so greedy decoding keeps drafted tokens (with the
    emulated kernels; the real GPUs' run here on SwiftShader, where their draft passes cost so
    much that DraftGate stops drafting after the first, whose guess is wrong). The real
    GPUs' kernels run with int8 activations at any width, so that their passes of a few tokens
    (this prompt's prefill and every draft pass) read int8 rows, as the one-token pass does:
    their logits are the reference's with its inputs so rounded."""
    url, model = qwen
    runs = [{}, {"temperature": 1.0, "seed": 5}, {"temperature": 0.7, "topK": 3, "seed": 7}]
    options = {} if kernels == "emulated" else {"emulatedGPU": False, "activations": "q8"}
    result = harness.call(DRAFTS, {"url": url, "ids": PROMPT, "runs": runs, "options": options})
    assert result["ok"], result
    prefill, *by_draft = result["value"]
    ref = forward(model, PROMPT, q8_from=None if kernels == "emulated" else 0)
    tolerance = LOGIT_TOLERANCE if kernels == "emulated" else Q8_LOGIT_TOLERANCE
    got = from_b64(prefill).reshape(len(PROMPT), -1)
    assert np.abs(got - ref).max() <= tolerance * np.abs(ref).max()
    for plain, drafted in ((r["0"], r["3"]) for r in by_draft):
        assert drafted["tokens"] == plain["tokens"]
        assert plain["passes"] == len(plain["tokens"]) and plain["kept"] == 0
    if kernels == "emulated":
        greedy = by_draft[0]["3"]
        assert greedy["kept"] > 0 and greedy["passes"] < len(greedy["tokens"])


CONTINUE = """
const e = await window.harness.createWebGPUEngine(arg.options);
await e.load(arg.url);
await e.prefill(arg.ids);
const whole = (await e.generate({maxTokens: 40})).tokens;
await e.prefill(arg.ids);
// A token the model has not given before, past the loop it starts in.
const stop = whole.find((t, i) => i >= 8 && whole.indexOf(t) === i);
const stopped = await e.generate({maxTokens: 40, stopIds: [stop]});
const parts = [];
for (const n of arg.split) parts.push((await e.generate({maxTokens: n})).tokens);
return {whole, stop, stopped: stopped.tokens, parts};
"""


@pytest.mark.parametrize("kernels", ["emulated", "real-gpu"])
def test_generate_goes_on_where_the_last_one_stopped(harness, qwen, kernels):
    """A generate() right after another (no prefill between) continues the text as one longer
    call would: after a stop token, after a call whose last pass kept drafted tokens (the next
    token comes from that pass's last row, not its first; the emulated kernels draft on this
    looping model, and the second part ends in the loop, just before the model leaves it), and
    after one whose last step had the next one already under way (the real GPUs' kernels go
    ahead of the ids they read). Both failed before the engine kept track of that row."""
    url, _ = qwen
    options = {} if kernels == "emulated" else {"emulatedGPU": False}
    split = [3, 6, 8]
    result = harness.call(CONTINUE, {"url": url, "ids": PROMPT, "split": split, "options": options})
    assert result["ok"], result
    v = result["value"]
    whole = v["whole"]
    stop = whole.index(v["stop"])
    assert v["stopped"] == whole[:stop]
    following = whole[stop + 1 : stop + 1 + sum(split)]
    assert len(set(following)) > 3  # not the loop of one token, where any row would do
    assert [t for part in v["parts"] for t in part] == following


def test_stop_ids_and_cancel(harness, qwen):
    url, _ = qwen
    result = harness.call("""
        const e = await window.harness.createWebGPUEngine();
        await e.load(arg.url);
        await e.prefill(arg.ids);
        const full = await e.generate({maxTokens: 6});
        await e.prefill(arg.ids);
        const stopped = await e.generate({maxTokens: 6, stopIds: [full.tokens[3]]});
        await e.prefill(arg.ids);
        const streamed = [];
        const cancelled = await e.generate({maxTokens: 6, onToken: (id) => { streamed.push(id); if (streamed.length === 2) e.cancel(); }});
        return {full, stopped, cancelled, streamed, stats: e.stats()};
    """, {"url": url, "ids": PROMPT})
    assert result["ok"], result
    v = result["value"]
    full = v["full"]["tokens"]
    assert v["full"]["stopReason"] == "length" and len(full) == 6
    assert v["stopped"]["stopReason"] == "stop"
    assert v["stopped"]["tokens"] == full[: full.index(full[3])]
    assert v["cancelled"]["stopReason"] == "cancelled"
    assert v["cancelled"]["tokens"] == full[:2] == v["streamed"]
    assert v["stats"]["decodeTokens"] > 0 and v["stats"]["prefillTokens"] > 0


def test_working_memory_grows_with_the_context_by_the_kv_cache(harness, qwen):
    """stats() tells the GPU memory of the weights and of the working buffers. With the real-GPU
    kernels a longer context adds the key/value cache and little else (the decode's one row of
    attention scores): prefill attention keeps its scores in workgroup memory, where a buffer of
    chunk x context scores used to add twice the cache's growth here (256 rows of 4 heads against
    2 layers x keys and values of 2 heads of 64). The logits buffer stays at 64 rows for a chunk of
    256."""
    url, _ = qwen
    result = harness.call("""
        const out = [];
        for (const nCtx of [128, 512]) {
          const e = await window.harness.createWebGPUEngine({emulatedGPU: false, prefillChunk: 256});
          await e.load(arg.url, {nCtx});
          const hp = e.model.hp;
          out.push({...e.stats().gpuBytes, kvPerPosition: hp.nLayer * 2 * hp.nKv * hp.headDim * 4,
                    logits: e.model.graph.buf.logits.size, vocab: hp.nVocab});
          await e.unload();
        }
        return out;
    """, {"url": url})
    assert result["ok"], result
    short, long = result["value"]
    assert short["weights"] == long["weights"] > 0
    growth = (long["working"] - short["working"]) / (512 - 128)
    assert short["kvPerPosition"] <= growth < 1.25 * short["kvPerPosition"]
    assert short["logits"] == 64 * short["vocab"] * 4


def test_context_overflow(harness, qwen):
    url, _ = qwen
    result = harness.call("""
        const e = await window.harness.createWebGPUEngine();
        const info = await e.load(arg.url, {nCtx: 16});
        const tooLong = await window.harness.attempt(() => e.prefill(Array(17).fill(5)));
        await e.prefill(Array(12).fill(5));
        const tooMany = await window.harness.attempt(() => e.generate({maxTokens: 5}));
        const fits = await e.generate({maxTokens: 4});
        return {nCtx: info.nCtx, tooLong, tooMany, fits: fits.tokens.length};
    """, {"url": url})
    assert result["ok"], result
    v = result["value"]
    assert v["nCtx"] == 16
    assert v["tooLong"]["error"]["kind"] == "context-overflow"
    assert "17 tokens" in v["tooLong"]["error"]["message"]
    assert v["tooMany"]["error"]["kind"] == "context-overflow"
    assert v["fits"] == 4


def test_prefill_chunk_follows_the_buffer_limit(harness):
    """Real GPUs prefill in chunks of up to 1024 tokens, smaller where the device's buffers are
    (an 8B model's feed-forward activations take 56 KB per token) or where the buffers that grow
    with the chunk would pass 512 MiB in all (an FFN of 65536); emulated GPUs take 64; a chunk
    asked for is taken as it is (and refused later if it does not fit). Neither the context
    (real GPUs' prefill attention keeps its scores in workgroup memory) nor the vocabulary (the
    logits buffer stops at 64 rows) bounds the chunk."""
    result = harness.call("""
        const { choosePrefillChunk } = await import("/site/engine/webgpu/fit.mjs");
        const hp = { nCtx: 2048, nHead: 32, nKv: 8, headDim: 128, nVocab: 128256, nFf: 14336, nEmbd: 4096 };
        const small = { nCtx: 2048, nHead: 9, nKv: 3, headDim: 64, nVocab: 49152, nFf: 1536, nEmbd: 576 };
        const limits = (mib) => ({ maxStorageBufferBindingSize: mib * 2 ** 20, maxBufferSize: 2 ** 40 });
        return [
          ...[2048, 128, 32].map((mib) => choosePrefillChunk(hp, limits(mib), "f16", false)),
          choosePrefillChunk(hp, limits(2048), "f16", true),
          choosePrefillChunk(hp, limits(32), "f16", false, 1024),
          choosePrefillChunk(small, limits(128), "f16", false),
          choosePrefillChunk({ ...hp, nCtx: 32768 }, limits(2048), "f16", false),
          choosePrefillChunk({ ...hp, nFf: 65536 }, limits(2048), "f16", false),
        ];
    """)
    assert result["ok"], result
    assert result["value"] == [1024, 1024, 512, 64, 1024, 1024, 1024, 512]


def test_tensor_core_prefill_tiles_fit_the_workgroup_memory(harness):
    """The subgroup-matrix prefill takes the largest tiles the device's workgroup memory holds:
    for large matrices 128 x 128 where 48 KiB are allowed (the H100 under Dawn) and 64 x 64
    within Chrome's 32 KiB; at 16 KiB (every WebGPU device) the one-block default only. (The
    kernels themselves need a GPU with subgroup matrices: bench/kernel_check_node.mjs.)"""
    result = harness.call("""
        const sm = await import("/site/engine/webgpu/kernels/matmul-subgroup-matrix.mjs");
        return [48, 32, 16].map((kib) => {
          const blocks = sm.subgroupMatrixBlocksFor(kib * 1024);
          const chosen = Object.values(blocks).filter(Boolean);
          return { kib, matmul: blocks.matmul.tile, tall: blocks.matmulTall?.tile ?? null, xl: blocks.matmulXL?.tile ?? null,
                   bytes: Math.max(...chosen.map((b) => sm.subgroupMatrixWorkgroupBytes(b))) };
        });
    """)
    assert result["ok"], result
    chosen = {c["kib"]: c for c in result["value"]}
    assert chosen[48]["xl"] == {"rows": 128, "tokens": 128, "blocks": 2}
    assert chosen[48]["tall"] == chosen[32]["tall"] == {"rows": 64, "tokens": 64, "blocks": 2}
    assert chosen[32]["xl"] is None
    assert chosen[32]["matmul"] == chosen[48]["matmul"] == {"rows": 32, "tokens": 64, "blocks": 4}
    assert chosen[16]["tall"] is None and chosen[16]["xl"] is None
    assert chosen[16]["matmul"] == {"rows": 32, "tokens": 64, "blocks": 1}
    for c in chosen.values():
        assert c["bytes"] <= c["kib"] * 1024


def test_tensor_core_attention_fits_chrome_and_keeps_to_its_head_sizes(harness):
    """The tensor-core prefill attention (kernels/attention-subgroup-matrix.mjs) runs within
    Chrome's 32 KiB of workgroup memory for heads of 64 (SmolLM2, Qwen2.5) and 128 (Llama 3);
    other head sizes it has no layout for (no multiple of 32, or not dividing its 128
    invocations' vec4s evenly, as 96) are refused by the generator, and the engine takes the
    tiled kernel for them. (The kernel itself needs a GPU with subgroup matrices:
    bench/kernel_check_node.mjs --only attention.)"""
    result = harness.call("""
        const asm = await import("/site/engine/webgpu/kernels/attention-subgroup-matrix.mjs");
        return [64, 128, 80, 40, 96].map((headDim) => {
          let generated;
          try { generated = asm.attentionSubgroupMatrixWGSL(headDim, "f16").includes("subgroupMatrixMultiplyAccumulate"); }
          catch (err) { generated = err.message; }
          return { headDim, fits: asm.attentionSubgroupMatrixFits(headDim), bytes: asm.attentionSubgroupMatrixBytes(headDim), generated };
        });
    """)
    assert result["ok"], result
    by_head = {c["headDim"]: c for c in result["value"]}
    for head in (64, 128):
        assert by_head[head]["fits"] and by_head[head]["generated"] is True
        assert by_head[head]["bytes"] <= 32 * 1024
    for head in (80, 40, 96):
        assert not by_head[head]["fits"]
        assert "no layout for a head size" in by_head[head]["generated"]


def test_prefill_takes_large_tiles_only_where_they_fill_the_gpu(harness):
    """A pass takes the larger tiles for matrices of 4096+ rows only where they still make
    enough workgroups and fill their tokens: the 128 x 128 tensor-core tiles at 100+ workgroups
    of 128+ tokens (the 8B's 4096-row matrices at 512 tokens and its 14336-row FFN at 128; 4096
    rows at 128 tokens left the GPU idle: 8B prefill 2,967 -> 2,563 tok/s on an H100, and 64
    tokens left half of each tile idle: the FFN gate 126 -> 168 us),
    the tiled kernel's 128 x 64 ones at 100+ (one quant block per step within 32 KiB of
    workgroup memory), the int8 tiles' 128 x 64 ones at 200+ (at 128 workgroups the 8B's q and
    down took up to 6% longer than in the 64 x 64 tiles); smaller matrices and passes the
    default tile."""
    result = harness.call("""
        const sm = await import("/site/engine/webgpu/kernels/matmul-subgroup-matrix.mjs");
        const tiled = await import("/site/engine/webgpu/kernels/matmul-tiled.mjs");
        const q8 = await import("/site/engine/webgpu/kernels/matmul-tiled-q8.mjs");
        const { Graph } = await import("/site/engine/webgpu/graph.mjs");
        const cases = [[4096, 512], [4096, 256], [4096, 128], [14336, 512], [14336, 128], [14336, 64], [1024, 512]];
        const picks = (blocks) => cases.map(([rows, n]) => Graph.prototype.prefillBlock.call({ blocks }, "Q4_0", rows, n).suffix);
        const tiledBlocks = (kib) => tiled.tiledBlocksFor(kib * 1024);
        const int8 = { blocks: { matmulQ8: q8.TILED_Q8_BLOCK, matmulQ8Tall: q8.TILED_Q8_TALL_BLOCK }, q8RowBlocks: () => [q8.TILED_Q8_BLOCK, q8.TILED_Q8_TALL_BLOCK] };
        return {
          tensorCores: picks(sm.subgroupMatrixBlocksFor(48 * 1024)),
          tiled: picks(tiledBlocks(48)),
          tiled32: picks(tiledBlocks(32)),
          tallTiles: [48, 32].map((kib) => tiledBlocks(kib).matmulTall.tile),
          int8Rows: cases.map(([rows, n]) => Graph.prototype.q8RowsBlock.call(int8, n, rows).tile.rows),
        };
    """)
    assert result["ok"], result
    assert result["value"]["tensorCores"] == [".xl", ".tall", ".tall", ".xl", ".xl", ".tall", ""]
    assert result["value"]["tiled"] == result["value"]["tiled32"] == [".tall", ".tall", "", ".tall", ".tall", ".tall", ""]
    assert result["value"]["int8Rows"] == [128, 64, 64, 128, 128, 64, 64]
    # Within Chrome's 32 KiB the large tiles take one quant block per step instead of two.
    assert result["value"]["tallTiles"] == [{"rows": 128, "tokens": 64, "blocks": 2}, {"rows": 128, "tokens": 64, "blocks": 1}]


def test_prefill_takes_the_tiles_timed_faster_at_load(harness, synthetic_dir):
    """Where prefill's mat-mats are tiled, the engine times its int8 tiles against the float ones
    at load (layer 0's FFN gate; dot4I8Packed is one instruction on most GPUs but shifts and
    multiplies on others) and passes past 16 tokens take the faster; either way the prefill
    matches the reference, rounded to int8 where the int8 tiles ran."""
    path = model_path(synthetic_dir, "qwen2", "Q4_0")
    prompt = LONG_PROMPT[:40]
    result = harness.call("""
        const e = await window.harness.createWebGPUEngine({emulatedGPU: false});
        await e.load(arg.url);
        const pre = await e.prefill(arg.ids, {returnLogits: "all"});
        const g = e.model.graph;
        const out = {logits: window.harness.toBase64(pre.logits), choice: e.stats().prefillTiles,
          prefillQ8: Boolean(g.q8RowsBlock(arg.ids.length)), chunk: g.prefillChunk};
        await e.unload();
        return out;
    """, {"url": f"/synthetic/{path.name}", "ids": prompt})
    assert result["ok"], result
    value = result["value"]
    choice = value["choice"]
    assert choice["tokens"] == min(value["chunk"], 256)
    assert choice["int8Ms"] > 0 and choice["floatMs"] > 0
    assert choice["int8"] == (choice["int8Ms"] < choice["floatMs"]) == value["prefillQ8"]
    ref = forward(load_model(path), prompt, q8_from=0 if value["prefillQ8"] else None)
    tolerance = Q8_LOGIT_TOLERANCE if value["prefillQ8"] else LOGIT_TOLERANCE
    got = from_b64(value["logits"]).reshape(len(prompt), -1)
    assert np.abs(got - ref).max() <= tolerance * np.abs(ref).max()


def test_load_errors(harness, synthetic_dir):
    write_model(synthetic_dir / "gpt2.gguf", "gpt2", "F16")
    write_model(synthetic_dir / "llama-Q5_1.gguf", "llama", "Q5_1")
    write_model(synthetic_dir / "llama-longrope.gguf", "llama", "F16", rope_scaling={"type": "longrope"})
    whole = model_path(synthetic_dir, "llama", "Q4_0").read_bytes()
    (synthetic_dir / "truncated.gguf").write_bytes(whole[: len(whole) - 1000])
    (synthetic_dir / "header-only.gguf").write_bytes(whole[:200])
    (synthetic_dir / "not-gguf.gguf").write_bytes(b"<html>not a model</html>" * 10)
    cases = {
        "gpt2.gguf": "unsupported-arch",
        "llama-Q5_1.gguf": "unsupported-type",
        "llama-longrope.gguf": "unsupported-arch",
        "truncated.gguf": "bad-file",
        "header-only.gguf": "bad-file",
        "not-gguf.gguf": "bad-file",
        "missing.gguf": "download-failed",
    }
    result = harness.call("""
        const out = {};
        for (const name of arg.names) {
          const e = await window.harness.createWebGPUEngine();
          out[name] = await window.harness.attempt(() => e.load("/synthetic/" + name));
        }
        const url = await window.harness.attempt(async () => {
          const e = await window.harness.createWebGPUEngine();
          const bytes = new Uint8Array(await (await fetch("/synthetic/truncated.gguf")).arrayBuffer());
          return e.load(new Blob([bytes]));
        });
        return {out, url};
    """, {"names": list(cases)})
    assert result["ok"], result
    for name, kind in cases.items():
        error = result["value"]["out"][name]["error"]
        assert error["kind"] == kind, (name, error)
    assert "gpt2" in result["value"]["out"]["gpt2.gguf"]["error"]["message"]
    assert "Q5_1" in result["value"]["out"]["llama-Q5_1.gguf"]["error"]["message"]
    assert 'RoPE scaling "longrope"' in result["value"]["out"]["llama-longrope.gguf"]["error"]["message"]
    assert result["value"]["url"]["error"]["kind"] == "bad-file"


def test_no_webgpu_is_a_typed_error(playwright_instance, repo_site):
    browser = launch_chromium(playwright_instance, webgpu=False)
    try:
        page = browser.new_page()
        page.goto(repo_site.url + "tests/engine/harness.html")
        page.wait_for_function("window.harnessReady === true")
        result = page.evaluate("() => window.harness.attempt(() => window.harness.createWebGPUEngine())")
        assert result["error"]["kind"] == "no-webgpu"
    finally:
        browser.close()


def test_one_call_at_a_time_and_unload_stops_generation(harness, qwen):
    url, _ = qwen
    result = harness.call("""
        const e = await window.harness.createWebGPUEngine();
        await e.load(arg.url);
        await e.prefill(arg.ids);
        const running = e.generate({maxTokens: 50});
        const second = await window.harness.attempt(() => e.prefill(arg.ids));
        await e.unload();
        const first = await running;
        const after = await window.harness.attempt(() => e.prefill(arg.ids));
        return {second, first: first.stopReason, after};
    """, {"url": url, "ids": PROMPT})
    assert result["ok"], result
    v = result["value"]
    assert v["second"]["error"]["kind"] == "internal" and "busy" in v["second"]["error"]["message"]
    assert v["first"] == "cancelled"
    assert v["after"]["error"]["kind"] == "internal"  # no model loaded any more


# 300 positions with heads of 128: the decode attention runs in two splits of 256, then combined.
LONG_PROMPT = [(i * 37 + 11) % 384 for i in range(300)]


# The long prompt also takes the real-GPU prefill in chunks of 128 (3 chunks; the default, 1024,
# would be one), and its prefill that returns every position's logits passes of 64 (the logits
# buffer's rows, ALL_LOGITS_ROWS), so that generation starts from row 43 of the last pass. An FFN of
# 8192 makes the down projection's rows wide (WIDE_K: warps share a row); the other Q4_0 matrices
# take the plain shapes, as a Q4_0 model of any width does.
@pytest.mark.parametrize("prompt,head_dim,type_name,chunk,n_ff", [(PROMPT, None, "Q4_K", None, None),
                                                                 (LONG_PROMPT, 128, "Q4_K", 128, None),
                                                                 (PROMPT, None, "Q4_0", None, 8192)],
                         ids=["short", "two-splits", "wide-ffn-Q4_0"])
def test_real_gpu_kernel_shapes_match_the_reference(harness, synthetic_dir, prompt, head_dim, type_name, chunk, n_ff):
    """The real-GPU kernels (warp mat-vecs; decode fusions: one-dispatch attention, q/k/v as one
    mat-vec, gate/up/SwiGLU as one mat-vec; mat-vecs reading int8 activations; prefill's q/k/v
    as one mat-mat stored in three parts, with qwen2's biases; prefill passes on int8 activations:
    up to 16 tokens in the few-token warp kernels, past that in kernels/matmul-tiled-q8.mjs, both
    taken here at any width and without timing the tiles, activations "q8") give the reference's
    greedy tokens, and the one-token pass's logits (prefill of one more token after the prompt)
    match the reference. Q4_0 takes the kernels' whole-block dot product (scaled once per block)."""
    path = model_path(synthetic_dir, "qwen2", type_name)
    if head_dim:
        path = synthetic_dir / f"qwen2-Q4_K-hd{head_dim}.gguf"
        if not path.exists():
            write_model(path, "qwen2", "Q4_K", head_dim=head_dim)
    if n_ff:
        path = synthetic_dir / f"qwen2-{type_name}-ff{n_ff}.gguf"
        if not path.exists():
            write_model(path, "qwen2", type_name, n_ff=n_ff)
    result = harness.call("""
        const out = {};
        for (const emulatedGPU of [true, false]) {
          const e = await window.harness.createWebGPUEngine({emulatedGPU, prefillChunk: emulatedGPU ? undefined : arg.chunk ?? undefined,
            activations: emulatedGPU ? undefined : "q8"});
          await e.load(arg.url);
          const pre = await e.prefill(arg.ids, {returnLogits: "all"});
          const gen = await e.generate({maxTokens: 8});
          e.reset();
          const last = await e.prefill(arg.ids, {returnLogits: "last"});
          const one = await e.prefill([...arg.ids, gen.tokens[0]], {returnLogits: "last"});
          const g = e.model.graph;
          out[emulatedGPU ? "emulated" : "gpu"] = {logits: window.harness.toBase64(pre.logits), tokens: gen.tokens,
            last: window.harness.toBase64(last.logits),
            oneEvaluated: one.nEvaluated, one: window.harness.toBase64(one.logits), fused: g.fuse, q8: g.q8,
            qkvLayers: g.qkvSpans.filter(Boolean).length, gateUpLayers: g.gateUpSpans.filter(Boolean).length,
            prefillQkvLayers: g.body.filter((s) => s.label === "attn_qkv").length,
            prefillQ8: Boolean(g.q8RowsBlock(Math.min(arg.ids.length, 64))), fewGated: g.fewGatedBlocks.map((b) => b.tokens),
            nLayer: e.model.hp.nLayer, chunk: g.prefillChunk, wide: Object.keys(g.pipelines).filter((n) => n.includes(".wide"))};
          await e.unload();
        }
        return out;
    """, {"url": f"/synthetic/{path.name}", "ids": prompt, "chunk": chunk})
    assert result["ok"], result
    emulated, gpu = result["value"]["emulated"], result["value"]["gpu"]
    assert (emulated["chunk"], gpu["chunk"]) == (64, chunk or 1024)  # small models: 1024
    assert gpu["fused"] == {"attention": True, "qkv": True, "gateUp": True}
    assert gpu["qkvLayers"] == gpu["gateUpLayers"] == gpu["prefillQkvLayers"] == gpu["nLayer"]
    assert emulated["prefillQkvLayers"] == 0
    assert (emulated["q8"], gpu["q8"]) == (False, True)
    assert (emulated["wide"], gpu["wide"]) == ([], [f"matvec.{type_name}.wide.q8"] if n_ff else [])
    assert (emulated["prefillQ8"], gpu["prefillQ8"]) == (False, True)
    # Passes of up to 8 tokens (16 where 32 KiB of workgroup memory allow it: this short prompt)
    # take the FFN's gate and up as one kernel.
    assert (emulated["fewGated"], gpu["fewGated"][:2]) == ([], [4, 8])
    model = load_model(path)
    n = len(prompt)
    for value in (emulated, gpu):
        # The one-token pass (every generated token after the first) of the int8 path, and a
        # prefill on int8 activations: their reference rounds the mat-mat inputs so too.
        q8_from = 0 if value["prefillQ8"] else n if value["q8"] else None
        ref = forward(model, prompt + value["tokens"], q8_from=q8_from)
        prefill_tolerance = Q8_LOGIT_TOLERANCE if value["prefillQ8"] else LOGIT_TOLERANCE
        got = from_b64(value["logits"]).reshape(n, -1)
        assert np.abs(got - ref[:n]).max() <= prefill_tolerance * np.abs(ref).max()
        assert_close(value["last"], ref[n - 1], prefill_tolerance)
        assert value["oneEvaluated"] == 1
        one_tolerance = Q8_LOGIT_TOLERANCE if value["q8"] else LOGIT_TOLERANCE
        assert_close(value["one"], ref[n], one_tolerance)
        # Greedy tokens: the reference's argmax wherever its top two are further apart than the
        # engine may err (with the int8 tolerance, few steps of this random model are so clear).
        steps = ref[n - 1:-1]
        top2 = np.sort(steps, axis=-1)[:, -2:]
        clear = top2[:, 1] - top2[:, 0] > 2 * one_tolerance * np.abs(ref).max()
        assert clear.sum() >= (2 if value["q8"] else len(steps) // 2)
        assert np.array_equal(np.asarray(value["tokens"])[clear], steps.argmax(-1)[clear])
