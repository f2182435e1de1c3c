"""What the app does with engine failures: the message it shows, and when the CPU engine takes over."""

from __future__ import annotations

import pytest

from pyapp.engine.contract import EngineFailure, cpu_fallback_reason

TYPE_REFUSAL = "tensor token_embd.weight has type Q2_K, which the WebGPU engine cannot run"


@pytest.mark.parametrize("kind", ["unsupported-type", "out-of-memory"])
def test_with_the_engine_left_to_the_app_the_cpu_engine_takes_a_model_the_gpu_refuses(kind: str) -> None:
    reason = cpu_fallback_reason("auto", EngineFailure(kind, TYPE_REFUSAL))
    assert reason == f"CPU engine: the GPU engine cannot run this model ({TYPE_REFUSAL})"


def test_a_forced_gpu_engine_reports_the_refusal_instead() -> None:
    assert cpu_fallback_reason("webgpu", EngineFailure("unsupported-type", TYPE_REFUSAL)) is None


@pytest.mark.parametrize("kind", ["bad-file", "unsupported-arch", "device-lost", "internal", "cancelled"])
def test_failures_the_cpu_engine_would_share_are_not_hidden_by_a_fallback(kind: str) -> None:
    assert cpu_fallback_reason("auto", EngineFailure(kind, "whatever")) is None


def test_the_user_message_names_the_general_problem_then_the_engine_detail() -> None:
    failure = EngineFailure("out-of-memory", "the key/value cache of one layer needs 2147.5 MB")
    assert failure.user_message == ("This model is too large for this GPU. "
                                    "(the key/value cache of one layer needs 2147.5 MB)")
