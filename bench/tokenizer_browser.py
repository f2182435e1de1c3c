"""Tokenizer speed inside the browser (Pyodide in headless Chromium): 100 KB of English.

    .venv/bin/python bench/tokenizer_browser.py     (after `python3 build/make.py build`)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from eval.browser import app_page  # noqa: E402

TEXT = "\n\n".join(p.read_text() for p in sorted((ROOT / "eval" / "documents").glob("*.txt")))
CODE = """
import json, time
from pyapp.app import live
tokenizer_count = live.operations.assistant.count
text = ({text!r} * 20)[:100_000]
runs = []
for _ in range(3):
    started = time.perf_counter()
    n = tokenizer_count(text)
    runs.append(time.perf_counter() - started)
json.dumps({{"chars": len(text), "tokens": n, "seconds": runs}})
"""


def main() -> None:
    with app_page() as app:
        result = app.run(CODE.format(text=TEXT))
    print(f"{result['chars']:,} characters -> {result['tokens']:,} tokens; "
          f"first run (fresh word cache) {result['seconds'][0]:.3f} s, then "
          + ", ".join(f"{s:.3f} s" for s in result["seconds"][1:]))
    out = ROOT / "bench" / "results" / "tokenizer_browser.json"
    out.write_text(json.dumps(result, indent=1) + "\n")


if __name__ == "__main__":
    main()
