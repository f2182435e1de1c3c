"""Prefill tok/s, decode tok/s and time to first token of the WebGPU engine in headless Chromium.

Usage: .venv/bin/python bench/engine_bench.py [--prompt-tokens 128] [--decode-tokens 32] [--runs 3]
       [--engine-options JSON]   (createWebGPUEngine options, e.g. '{"matvecBlock": {...}}')
(after `python3 build/make.py build`, which puts SmolLM2-135M in dist/models/). Prints a table
and saves bench/results/engine_bench.json. Each run resets the KV cache, so every prefill
evaluates the whole prompt; time to first token = prefill + the first decode step.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "build"))
sys.path.insert(0, str(ROOT))

from chromium import launch  # noqa: E402
from serve import make_server, serve_in_thread  # noqa: E402

from pyapp.model.gguf import read_header  # noqa: E402
from pyapp.model.tokenizer import Tokenizer  # noqa: E402

MODEL = ROOT / "dist" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DOCUMENT = ROOT / "bench" / "documents" / "glaciers.txt"

RUN = """async (arg) => {
  const {createWebGPUEngine} = await import("/site/engine/webgpu/index.mjs");
  const engine = await createWebGPUEngine(arg.options);
  let t = performance.now();
  const info = await engine.load(arg.url);
  const loadMs = performance.now() - t;
  const runs = [];
  for (let i = 0; i < arg.runs; i++) {
    engine.reset();
    t = performance.now();
    await engine.prefill(arg.ids);
    const prefillMs = performance.now() - t;
    const gen = await engine.generate({maxTokens: arg.decode});
    runs.push({prefillMs, firstTokenMs: prefillMs + gen.stats.firstTokenMs,
               decodeTokPerS: gen.stats.decodeTokPerS, decodeTokens: gen.stats.decodeTokens});
  }
  await engine.unload();
  const {vendor, architecture} = (await navigator.gpu.requestAdapter()).info;
  return {info, loadMs, runs, adapter: {vendor, architecture}};
}"""


def prompt_ids(n_tokens: int) -> list[int]:
    tokenizer = Tokenizer.from_gguf(read_header(MODEL.read_bytes()))
    text = DOCUMENT.read_text()
    ids = tokenizer.encode(text)
    while len(ids) < n_tokens:
        ids += tokenizer.encode(text, add_special=False)
    return ids[:n_tokens]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompt-tokens", type=int, nargs="+", default=[128])
    parser.add_argument("--decode-tokens", type=int, default=32)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engine-options", type=json.loads, default={})
    args = parser.parse_args()
    if not MODEL.exists():
        sys.exit(f"{MODEL} is missing: run `python3 build/make.py build`")

    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()[0]
    server = make_server(ROOT, port=0)
    serve_in_thread(server)
    base = f"http://127.0.0.1:{server.server_address[1]}/"
    results = []
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.goto(base + "tests/engine/harness.html")
        for n in args.prompt_tokens:
            out = page.evaluate(RUN, {"url": "/dist/models/" + MODEL.name, "ids": prompt_ids(n),
                                      "runs": args.runs, "decode": args.decode_tokens, "options": args.engine_options})
            runs = out["runs"]
            prefill_ms = statistics.median(r["prefillMs"] for r in runs)
            results.append({
                "prompt_tokens": n,
                "decode_tokens": args.decode_tokens,
                "load_s": out["loadMs"] / 1000,
                "prefill_tok_s": n * 1000 / prefill_ms,
                "decode_tok_s": statistics.median(r["decodeTokPerS"] for r in runs),
                "ttft_s": statistics.median(r["firstTokenMs"] for r in runs) / 1000,
                "runs": runs,
            })
            adapter = out["adapter"]
        browser.close()
    server.shutdown()

    print(f"WebGPU engine, SmolLM2-135M Q4_1, adapter {adapter.get('vendor')}/{adapter.get('architecture')}, "
          f"{args.runs} runs (median), load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}")
    print(f"{'prompt':>8} {'prefill tok/s':>14} {'decode tok/s':>13} {'TTFT s':>8}")
    for r in results:
        print(f"{r['prompt_tokens']:>8} {r['prefill_tok_s']:>14.1f} {r['decode_tok_s']:>13.2f} {r['ttft_s']:>8.2f}")
    out_dir = ROOT / "bench" / "results"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "engine_bench.json").write_text(json.dumps({
        "model": MODEL.name,
        "adapter": adapter,
        # SwiftShader shares the CPU with everything else: a busy machine slows it down a lot.
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]}},
        "results": results,
    }, indent=2) + "\n")


if __name__ == "__main__":
    main()
