"""Our WebGPU engine and wllama (llama.cpp wasm: 1 and 2 threads, and 2 threads with n_gpu_layers 99)
in ONE headless Chromium session, on the same GGUF and the same prompts (128 and 1024 tokens by
default).

    .venv/bin/python bench/engines_side_by_side.py [--prompts 128,1024] [--decode 32]
    .venv/bin/python bench/engines_side_by_side.py --tasks 3 [--decode 128]

Ours runs each prompt with prompt lookup's drafts (the default: `wordcalc-webgpu`) and without
(`wordcalc-webgpu-nodraft`). --tasks N: instead of cut prompts, the app's own prompts for its
document tasks (summary, bullets, facts over the first N eval documents: bench/task_prompts.py),
each decoded to its end of generation, wllama with 1 and 2 threads. Saves
bench/results/side_by_side_tasks.json instead.

The page is served with COOP/COEP so wllama can use 2 threads. Prints prefill tok/s, decode tok/s
and time to first token per engine and the ratio of ours (with drafts) to each peer; saves
bench/results/side_by_side.json. Needs `python3 build/make.py build` first.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "build"))

from chromium import launch  # noqa: E402
from pyapp.model.chat import ChatFormat  # noqa: E402
from pyapp.model.gguf import read_header  # noqa: E402
from pyapp.model.tokenizer import Tokenizer  # noqa: E402
from serve import make_server, serve_in_thread  # noqa: E402

from bench.task_prompts import task_prompts  # noqa: E402

MODEL = "dist/models/SmolLM2-135M-Instruct.Q4_1.gguf"


def prompt_of(tokenizer: Tokenizer, chat: ChatFormat, n_tokens: int) -> dict:
    """A chat prompt of exactly `n_tokens` tokens, cut from the eval documents."""
    source = "\n\n".join(p.read_text() for p in sorted((ROOT / "eval" / "documents").glob("*.txt"))) * 4
    ids = tokenizer.encode(chat.render([{"role": "user", "content": "Summarize:\n" + source}]),
                           add_special=True, parse_special=True)[:n_tokens]
    return {"ids": ids, "text": tokenizer.decode(ids)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--prompts", default="128,1024")
    parser.add_argument("--decode", type=int, default=32)
    parser.add_argument("--tasks", type=int, default=0)
    args = parser.parse_args()
    with (ROOT / MODEL).open("rb") as f:
        header = read_header(f.read(4 << 20))
    tokenizer = Tokenizer.from_gguf(header)
    chat = ChatFormat(header.metadata.get("tokenizer.chat_template"))
    prompts = (task_prompts(ROOT / MODEL, args.tasks) if args.tasks
               else [prompt_of(tokenizer, chat, int(n)) for n in args.prompts.split(",")])

    from playwright.sync_api import sync_playwright

    server = make_server(ROOT, port=0, isolation_headers=True)
    serve_in_thread(server)
    url = f"http://127.0.0.1:{server.server_address[1]}/bench/page/side_by_side.html"
    bench = {"modelUrl": "/" + MODEL, "prompts": prompts, "decodeTokens": args.decode, "tasks": bool(args.tasks)}
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.on("console", lambda m: print(m.text, flush=True) if m.text.startswith("{") else None)
        page.add_init_script(f"window.BENCH = {json.dumps(bench)};")
        page.goto(url)
        page.wait_for_function("() => window.RESULTS !== undefined", timeout=3_600_000, polling=1000)
        rows, adapter = page.evaluate("window.RESULTS"), page.evaluate("window.ADAPTER")
        browser.close()
    out = ROOT / "bench" / "results" / ("side_by_side_tasks.json" if args.tasks else "side_by_side.json")
    out.write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "adapter": adapter,
                               "decode_tokens": args.decode, "rows": rows}, indent=1) + "\n")
    ours = {r["promptTokens"]: r for r in rows if r.get("engine") == "wordcalc-webgpu"}
    print(f"\nadapter: {adapter}")
    print(f"{'engine':<25}{'task':<9}{'prompt':>7}{'prefill tok/s':>15}{'decode tok/s':>14}{'TTFT s':>9}{'ours/peer decode':>18}")
    for r in rows:
        if "error" in r:
            print("error:", r["error"])
            continue
        mine = ours.get(r["promptTokens"])
        ratio = f"{mine['decodeTokPerS'] / r['decodeTokPerS']:.2f}x" if mine and r is not mine else ""
        print(f"{r['engine']:<25}{r.get('task') or '':<9}{r['promptTokens']:>7}{r['prefillTokPerS']:>15.1f}"
              f"{r['decodeTokPerS']:>14.2f}{r['ttftMs'] / 1000:>9.1f}{ratio:>18}")
    print(f"saved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
