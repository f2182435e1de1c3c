"""The quality evaluation: every document of the set through Summarize, Extract facts and Ask, with
the real model in the browser, scored by eval/scoring.py.

    .venv/bin/python -m eval.run [--limit N] [--model-url models/other.gguf | --model-file PATH.gguf]

Prints retrieval hit rate, answer key-point recall, extraction precision (quotes verified) and
summary key-point coverage; saves eval/results/quality-<model>-<N>docs.json, one file per model and
document count so runs of different models sit side by side.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from eval.browser import app_page
from eval.scoring import DocumentRun, figures, load
from pyapp.recipes.ask import Answer, Citation
from pyapp.recipes.extract import Extraction, Item, Status
from pyapp.retrieval.passages import Hit, Passage

RESULTS = Path(__file__).resolve().parent / "results"
EMBEDDED_MODEL = "SmolLM2-135M-Instruct"

# Runs inside the page: the same assistant and retrieval the buttons use.
SETUP_CODE = """
import json
from pyapp.app import live
from pyapp.retrieval.passages import PassageIndex, passages_of
class Doc:
    def __init__(self, id, title, text): self.id, self.title, self.text = id, title, text
docs = [Doc(*d) for d in json.loads({docs!r})]
assistant = live.operations.assistant
passages = []
for d in docs:
    passages += await passages_of(d, assistant.count)
index = await PassageIndex.build(passages)
def hit_dict(h):
    p = h.passage
    return {{"doc_id": p.doc_id, "title": p.title, "text": p.text, "start": p.start, "end": p.end,
             "n_tokens": p.n_tokens, "score": h.score, "coverage": h.coverage}}
async def final(events):
    result = None
    async for e in events:
        if type(e).__name__ == "Done":
            result = e.result
    return result
json.dumps(len(passages))
"""
ASK_CODE = """
async def ask_all(questions):
    answers = []
    for q in questions:
        a = await final(assistant.ask(q, index))
        answers.append({{"question": a.question, "text": a.text, "hits": [hit_dict(h) for h in a.hits],
                         "citations": [[c.number, c.start, c.end] for c in a.citations]}})
    return answers
json.dumps(await ask_all(json.loads({questions!r})))
"""
DOCUMENT_CODE = """
from pyapp.recipes.summarize import Length
doc = next(d for d in docs if d.id == {doc_id!r})
summary = await final(assistant.summarize(doc.text, Length.PARAGRAPH))
extraction = await final(assistant.extract(doc.text, []))
json.dumps({{"summary": summary.text, "items": [i.to_dict() for i in extraction.items],
             "n_chunks": extraction.n_chunks}})
"""


def answer_from(data: dict) -> Answer:
    hits = [Hit(Passage(h["doc_id"], h["title"], h["text"], h["start"], h["end"], h["n_tokens"]),
                h["score"], h["coverage"]) for h in data["hits"]]
    citations = [Citation(n, s, e, hits[n - 1] if 0 < n <= len(hits) else None) for n, s, e in data["citations"]]
    return Answer(data["question"], data["text"], hits, citations)


def extraction_from(data: dict) -> Extraction:
    items = [Item(i["fact"], i["quote"], i["field"], Status(i["status"]), i["start"], i["end"]) for i in data["items"]]
    return Extraction(items, [], data["n_chunks"])


def results_path(model: str, n_documents: int) -> Path:
    """eval/results/quality-<model file stem, lower case>-<N>docs.json."""
    stem = model.rsplit("/", 1)[-1].removesuffix(".gguf").lower()
    return RESULTS / f"quality-{stem}-{n_documents}docs.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--limit", type=int, default=0, help="only the first N documents")
    model = parser.add_mutually_exclusive_group()
    model.add_argument("--model-url", default=None, help="a model URL the page may load (this site or Hugging Face)")
    model.add_argument("--model-file", type=Path, default=None, help="a local GGUF, served with the page")
    args = parser.parse_args()
    if args.model_file is not None and not args.model_file.is_file():
        parser.error(f"--model-file: no such file: {args.model_file}")
    model_name = str(args.model_file or args.model_url or EMBEDDED_MODEL)
    eval_set = load()
    chosen = eval_set.documents[: args.limit or None]
    docs = json.dumps([[d.id, d.title, d.text] for d in eval_set.documents])
    runs: dict[str, DocumentRun] = {}
    started = time.time()
    with app_page(model_url=args.model_url, model_file=args.model_file) as app:
        n_passages = app.run(SETUP_CODE.format(docs=docs))
        print(f"indexed {n_passages} passages of {len(eval_set.documents)} documents", flush=True)
        for doc in chosen:
            questions = [q.question for q in doc.questions] + [q.question for q in doc.paraphrased]
            out = app.run(DOCUMENT_CODE.format(doc_id=doc.id))
            answers = [answer_from(a) for a in app.run(ASK_CODE.format(questions=json.dumps(questions)))]
            runs[doc.id] = DocumentRun(out["summary"], extraction_from(out), answers[: len(doc.questions)],
                                       answers[len(doc.questions):])
            print(f"{doc.id}: done ({time.time() - started:.0f} s)", flush=True)
        unanswerable = [answer_from(a) for a in app.run(ASK_CODE.format(questions=json.dumps(eval_set.unanswerable)))]
    subset = type(eval_set)([d for d in eval_set.documents if d.id in runs], eval_set.unanswerable)
    result = figures(subset, runs, unanswerable)
    print("\n".join(result.lines()))
    RESULTS.mkdir(exist_ok=True)
    results_path(model_name, len(runs)).write_text(json.dumps({
        "documents": len(runs), "model": model_name,
        "figures": result.__dict__, "seconds": round(time.time() - started),
        "summaries": {k: r.summary for k, r in runs.items()},
    }, indent=1))


if __name__ == "__main__":
    main()
