"""Speed of pyapp's pure-Python tokenizer on the embedded SmolLM2 vocabulary, under CPython.

Usage: .venv/bin/python bench/tokenizer_speed.py [--kb 100] [--runs 5]
(after `python3 build/make.py build`). Prints the time to build the tokenizer from the GGUF
header and, for ~100 KB of English prose, of (repeated) mixed-script text and of random
letter strings (no word repeats, the worst case for the word cache), seconds per 100 KB and
tokens/s with a cold word cache (a fresh tokenizer) and a warm one. The browser target is 100 KB
in under 1 s in Pyodide, which runs 2-3x slower than CPython.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pydoc_data.topics import topics  # noqa: E402

from pyapp.model.gguf import read_header  # noqa: E402
from pyapp.model.tokenizer import Tokenizer  # noqa: E402

MODEL = ROOT / "dist" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
MIXED = ("Der Gletscher schmilzt schneller als erwartet; die Forscher messen 3,5 m pro Jahr. "
         "Le glacier recule de 120 mètres depuis 1990. 氷河は毎年後退している。 Ледник тает. "
         "Ο παγετώνας λιώνει. 🌍❄️ naïve café — “quoted” text, tabs\tand  spaces.\n")


def english_text(size: int) -> str:
    """English prose with some code in it: the Python language reference that ships with CPython."""
    text = "\n\n".join(topics[name] for name in sorted(topics))
    return text.encode()[:size].decode("utf-8", "ignore")


def random_words(size: int) -> str:
    """Worst case for the word cache: every word new (seeded, so runs compare)."""
    rng = random.Random(1234)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choices(letters, k=rng.randint(2, 12))) for _ in range(size // 6)]
    return " ".join(words)[:size]


def timed(fn: Callable[[], object], runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kb", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if not MODEL.exists():
        raise SystemExit(f"{MODEL} is missing: run `python3 build/make.py build`")

    header_s, header = timed(lambda: read_header(MODEL.read_bytes()[: 8 << 20]), 1)
    build_s, _ = timed(lambda: Tokenizer.from_gguf(header), args.runs)
    print(f"python {sys.version.split()[0]}; read header {header_s:.3f} s; build tokenizer {build_s:.3f} s")

    size = args.kb * 1000
    texts = {
        "english": english_text(size),
        "mixed-script": MIXED * (size // len(MIXED.encode()) + 1),
        "random-words": random_words(size),
    }
    for label, text in texts.items():
        text = text.encode()[:size].decode("utf-8", "ignore")
        scale = 100_000 / len(text.encode())
        fresh = [Tokenizer.from_gguf(header) for _ in range(args.runs)]
        cold_s, ids = timed(lambda: fresh.pop().encode(text), args.runs)
        warm_tok = Tokenizer.from_gguf(header)
        warm_tok.encode(text)
        warm_s, ids = timed(lambda: warm_tok.encode(text), args.runs)
        decode_s, _ = timed(lambda: warm_tok.decode(ids), args.runs)
        print(f"{label:13s} {len(text.encode()) / 1000:.0f} KB -> {len(ids)} tokens | "
              f"encode cold {cold_s * scale:.3f} s/100KB ({len(ids) / cold_s:,.0f} tok/s), "
              f"warm {warm_s * scale:.3f} s/100KB ({len(ids) / warm_s:,.0f} tok/s) | "
              f"decode {decode_s * scale:.3f} s/100KB")


if __name__ == "__main__":
    main()
