"""The output head's Q4_1 shadow (site/engine/webgpu/kernels/shadow-head.mjs) checked in numpy.

A greedy step on an emulated GPU recomputes exactly only the tokens whose shadow logit lies
within delta = SHADOW_Z * e * |x| / sqrt(k) of the shadow's maximum (e: the largest row error
norm), so its token is the exact head's wherever the exact argmax is among them and the shadow's
top row errs by less than delta. This runs the numpy reference forward pass over real prompts
(the bench document, in chat prompts and as plain text) and reports, over every position: delta,
the shortfall (how far below the shadow's maximum the exact argmax's shadow logit lies, which
delta must cover), the candidates per step, and whether the step's argmax (exact candidates,
shadow values elsewhere) is the exact head's. Saves bench/results/shadow_head_MODEL.json.

  .venv/bin/python bench/shadow_head_numpy.py [--model PATH.gguf] [--tokens 200]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyapp.model.gguf import read_header  # noqa: E402
from pyapp.model.tokenizer import Tokenizer  # noqa: E402
from tests.engine.reference import head_input, head_name, load_model, shadow_q4_1  # noqa: E402

SHADOW_Z = 3  # shadow-head.mjs
DOCUMENT = ROOT / "bench" / "documents" / "glaciers.txt"
DEFAULT_MODEL = ROOT / "dist" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"


def chat(text: str) -> str:
    return f"<|im_start|>user\n{text}<|im_end|>\n<|im_start|>assistant\n"


def prompts(tokenizer: Tokenizer, n_tokens: int) -> list[list[int]]:
    words = DOCUMENT.read_text().split()
    document = " ".join(words[: int(n_tokens * 0.7)])
    texts = [
        chat(f"Summarize this text in two sentences.\n\n{document}"),
        chat(f"{document}\n\nWhat is the main point of this text, and what evidence supports it?"),
        document,
        chat("What is the capital of France, and which river flows through it?"),
    ]
    return [tokenizer.encode(t, parse_special=True) for t in texts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL)
    parser.add_argument("--tokens", type=int, default=200, help="about how many tokens of the document a prompt holds")
    args = parser.parse_args()
    tokenizer = Tokenizer.from_gguf(read_header(args.model.read_bytes()))
    model = load_model(args.model)
    head = model.weights[head_name(model)]
    shadow, row_errors = shadow_q4_1(head)
    e = float(row_errors.max())
    k = head.shape[1]
    rows = []
    for ids in prompts(tokenizer, args.tokens):
        x = head_input(model, ids)
        exact = x @ head.T.astype(np.float64)
        approx = x @ shadow.T.astype(np.float64)
        delta = SHADOW_Z * e * np.linalg.norm(x, axis=1) / np.sqrt(k)
        top = approx.max(axis=1)
        listed = approx >= (top - delta)[:, None]
        best = exact.argmax(axis=1)
        mixed = np.where(listed, exact, approx).argmax(axis=1)
        shortfall = top - approx[np.arange(len(ids)), best]
        rows.append({"tokens": len(ids), "delta": delta, "shortfall": shortfall, "candidates": listed.sum(axis=1),
                     "listed": listed[np.arange(len(ids)), best], "same": mixed == best})
    joined = {key: np.concatenate([r[key] for r in rows]) for key in ("delta", "shortfall", "candidates", "listed", "same")}
    pct = lambda a, q: float(np.percentile(a, q))  # noqa: E731
    summary = {
        "model": args.model.name, "head": f"{head_name(model)} {model.types[head_name(model)]} {head.shape[0]} x {k}",
        "prompts": [r["tokens"] for r in rows], "positions": int(len(joined["delta"])), "max_row_error": e,
        "delta": {"min": float(joined["delta"].min()), "median": pct(joined["delta"], 50), "max": float(joined["delta"].max())},
        "shortfall": {"p99": pct(joined["shortfall"], 99), "max": float(joined["shortfall"].max()),
                      "max_over_delta": float((joined["shortfall"] / joined["delta"]).max())},
        "candidates": {"median": pct(joined["candidates"], 50), "p90": pct(joined["candidates"], 90),
                       "p99": pct(joined["candidates"], 99), "max": int(joined["candidates"].max())},
        "exact_argmax_listed": f"{int(joined['listed'].sum())}/{len(joined['listed'])}",
        "step_argmax_exact": f"{int(joined['same'].sum())}/{len(joined['same'])}",
    }
    print(json.dumps(summary, indent=1))
    out = ROOT / "bench" / "results" / f"shadow_head_{args.model.stem}.json"
    out.write_text(json.dumps(summary, indent=1) + "\n")
    print(f"saved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
