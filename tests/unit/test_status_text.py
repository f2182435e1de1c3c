"""The words shown for progress and speed."""

from __future__ import annotations

from pyapp.engine.contract import CompletionStats, EngineFailure
from pyapp.ui.status_text import document_info, progress_label, stats_line


def test_download_progress_in_megabytes() -> None:
    assert progress_label("download", 49_000_000, 98_362_432) == "Loading the model: 49.0 MB of 98.4 MB"
    assert progress_label("weights", 1_000_000, 2_000_000) == "Moving the model to the GPU: 1.0 MB of 2.0 MB"
    assert progress_label("kernels", 0, 1) == "Preparing the GPU kernels…"


def test_stats_line_reports_counts_first_token_and_speed() -> None:
    stats = CompletionStats("stop", n_prompt=None, n_generated=41, first_token_ms=1500.0, total_ms=5500.0)
    assert stats.tokens_per_second == 10.0
    assert stats_line(300, stats) == "300 prompt tokens · 41 answer tokens · first token after 1.5 s · 10.0 tokens/s"


def test_stats_line_says_when_stopped() -> None:
    stats = CompletionStats("cancelled", None, 1, 900.0, 900.0)
    assert stats.tokens_per_second is None
    assert stats_line(12, stats).endswith("stopped")


def test_document_info_warns_past_the_window_and_the_limit() -> None:
    assert document_info(100, 20, 4096) == "100 characters · 20 tokens"
    assert "longer than the model's 4,096-token window, so it is read in parts" in document_info(100_000, 25_000, 4096)
    assert "read in parts" in document_info(500_000, None, 4096)
    assert "more than the 2,000,000 wordcalc takes" in document_info(50_000_000, None, 4096)


def test_engine_failure_messages() -> None:
    failure = EngineFailure("context-overflow", "prompt has 5000 tokens, context is 4096")
    assert failure.user_message.startswith("The text is too long")
    assert "5000 tokens" in failure.user_message
    assert EngineFailure("no-such-kind", "boom").kind == "internal"
