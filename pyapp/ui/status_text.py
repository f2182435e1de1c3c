"""The words the page shows about progress and speed, as pure functions (tested under CPython)."""

from __future__ import annotations

from pyapp.documents.ingest import MAX_DOCUMENT_CHARS
from pyapp.engine.contract import CompletionStats

# The engines' progress phases (site/engine): download (fetchModel), weights and kernels
# (WebGPU engine), engine (CPU engine).
PHASE_LABELS = {
    "download": "Loading the model",
    "weights": "Moving the model to the GPU",
    "kernels": "Preparing the GPU kernels",
    "engine": "Starting the inference engine",
}


def megabytes(n_bytes: float) -> str:
    return f"{n_bytes / 1_000_000:.1f} MB"


def progress_label(phase: str, loaded: float, total: float) -> str:
    label = PHASE_LABELS.get(phase, phase.capitalize())
    if phase in ("download", "weights") and total:
        return f"{label}: {megabytes(loaded)} of {megabytes(total)}"
    return f"{label}…"


def stats_line(n_prompt: int, stats: CompletionStats) -> str:
    parts = [f"{n_prompt} prompt tokens", f"{stats.n_generated} answer tokens"]
    if stats.first_token_ms is not None:
        parts.append(f"first token after {stats.first_token_ms / 1000:.1f} s")
    speed = stats.tokens_per_second
    if speed is not None:
        parts.append(f"{speed:.1f} tokens/s")
    if stats.stop_reason == "cancelled":
        parts.append("stopped")
    elif stats.stop_reason == "length":
        parts.append("reached the length limit")
    return " · ".join(parts)


def document_info(n_chars: int, n_tokens: int | None, n_ctx: int) -> str:
    """`n_tokens` is None for texts too long to count on every keystroke."""
    if n_chars > MAX_DOCUMENT_CHARS:
        return f"{n_chars:,} characters — more than the {MAX_DOCUMENT_CHARS:,} wordcalc takes at a time"
    if n_tokens is None or n_tokens > n_ctx:
        return f"{n_chars:,} characters — longer than the model's {n_ctx:,}-token window, so it is read in parts"
    return f"{n_chars:,} characters · {n_tokens:,} tokens"
