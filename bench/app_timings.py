"""Cold boot to interactive, time to first token and tokens/s of the app, in headless Chromium.

Usage: .venv/bin/python bench/app_timings.py [--runs 3] [--engine wllama|webgpu|auto]
(after `python3 build/make.py build`). Prints a table and saves bench/results/app_timings.json.
Each run is a fresh browser context (cold caches), summarizing the same ~300-token document.
"""

from __future__ import annotations

import argparse
import json
import platform
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "build"))

from chromium import launch  # noqa: E402
from serve import make_server, serve_in_thread  # noqa: E402

DOCUMENT = (ROOT / "bench" / "documents" / "glaciers.txt").read_text()
STATS = re.compile(r"(\d+) prompt tokens · (\d+) answer tokens · first token after ([\d.]+) s(?: · ([\d.]+) tokens/s)?")


def one_run(browser, url: str) -> dict:
    from playwright.sync_api import expect

    context = browser.new_context()
    page = context.new_page()
    started = time.perf_counter()
    page.goto(url)
    expect(page.get_by_role("button", name="Summarize")).to_be_enabled(timeout=300_000)
    boot_s = time.perf_counter() - started
    boot_marks = page.evaluate("({python: window.wordcalcBoot.pythonReadyMs, ready: window.wordcalcBoot.readyMs})")
    page.get_by_label("Document").fill(DOCUMENT)
    page.get_by_role("button", name="Summarize").click()
    expect(page.get_by_role("button", name="Stop")).to_be_enabled(timeout=10_000)
    expect(page.get_by_role("button", name="Stop")).to_be_disabled(timeout=600_000)
    stats_text = page.locator("#stats").inner_text()
    match = STATS.search(stats_text)
    if not match:
        raise RuntimeError(f"unexpected stats line: {stats_text!r}")
    engine = page.locator("#engine-info").inner_text()
    context.close()
    return {
        "boot_to_interactive_s": round(boot_s, 2),
        "python_ready_s": round(boot_marks["python"] / 1000, 2),
        "app_ready_s": round(boot_marks["ready"] / 1000, 2),
        "prompt_tokens": int(match[1]),
        "answer_tokens": int(match[2]),
        "first_token_s": float(match[3]),
        "decode_tokens_per_s": float(match[4]) if match[4] else None,
        "engine": engine,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engine", default="wllama", choices=["wllama", "webgpu", "auto"])
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    server = make_server(ROOT / "dist", port=0)
    serve_in_thread(server)
    url = f"http://127.0.0.1:{server.server_address[1]}/?engine={args.engine}"
    runs = []
    with sync_playwright() as p:
        browser = launch(p)
        for i in range(args.runs):
            run = one_run(browser, url)
            runs.append(run)
            print(f"run {i + 1}: {run}", flush=True)
        browser.close()
    summary = {
        key: statistics.median(r[key] for r in runs)
        for key in ("boot_to_interactive_s", "prompt_tokens", "answer_tokens", "first_token_s", "decode_tokens_per_s")
        if all(r[key] is not None for r in runs)
    }
    result = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, headless Debian Chromium",
        "engine_param": args.engine,
        "median": summary,
        "runs": runs,
    }
    out = ROOT / "bench" / "results" / "app_timings.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    print(f"saved {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
