"""The prompts the app really sends for its three document tasks (a paragraph summary, bullet
points, key facts with quotes), built by its own recipes over the eval documents, as token ids for
the engine benchmarks: where decoding copies from the document, prompt lookup's drafts pay
(site/engine/webgpu/prompt-lookup.mjs).

    .venv/bin/python bench/task_prompts.py [--model GGUF] [--documents 6] OUT.json

OUT.json: [{"document", "task", "ids", "text", "stopIds"}, ...] (stopIds: the model's
end-of-generation ids).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pyapp.model.chat import ChatFormat  # noqa: E402
from pyapp.model.gguf import read_header  # noqa: E402
from pyapp.model.tokenizer import Tokenizer  # noqa: E402
from pyapp.recipes import extract, summarize  # noqa: E402

MODEL = ROOT / "dist" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
N_CTX = 2048
TASKS = {
    "summary": lambda text, chat, count: summarize.build_prompt(text, summarize.Length.PARAGRAPH, chat, count, N_CTX),
    "bullets": lambda text, chat, count: summarize.build_prompt(text, summarize.Length.BULLETS, chat, count, N_CTX),
    "facts": lambda text, chat, count: extract.extract_prompt(text, [], chat, count, N_CTX),
}


def task_prompts(model: Path, n_documents: int) -> list[dict]:
    """Each document with the next task in turn (summary, bullets, facts, summary, ...)."""
    with model.open("rb") as f:
        header = read_header(f.read(16 << 20))
    tokenizer = Tokenizer.from_gguf(header)
    chat = ChatFormat(header.metadata.get("tokenizer.chat_template"))
    count = lambda text: len(tokenizer.encode(text, add_special=False, parse_special=True))  # noqa: E731
    documents = sorted((ROOT / "eval" / "documents").glob("*.txt"))[:n_documents]
    prompts = []
    for document, task in zip(documents, [*TASKS] * len(documents)):
        text = TASKS[task](document.read_text(), chat, count).prompt
        ids = tokenizer.encode(text, add_special=True, parse_special=True)
        prompts.append({"document": document.name, "task": task, "ids": ids, "text": tokenizer.decode(ids),
                        "stopIds": sorted(tokenizer.eog_ids)})
    return prompts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--documents", type=int, default=6)
    args = parser.parse_args()
    prompts = task_prompts(args.model, args.documents)
    args.out.write_text(json.dumps(prompts) + "\n")
    for p in prompts:
        print(f"{p['document']:<28}{p['task']:<9}{len(p['ids']):>5} tokens")


if __name__ == "__main__":
    main()
