"""What crosses the FFI to the inference module, as Python types, and what each failure tells the user.

The JS side (site/engine/index.mjs) implements: load(blob) -> info; complete(request) streaming
pieces to a callback -> stats; cancel(). Errors arrive as {kind, message, detail}; the kinds
here mirror site/engine/errors.mjs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

USER_MESSAGES: dict[str, str] = {
    "no-webgpu": "This browser offers no WebGPU, so wordcalc runs the model on the CPU (slower).",
    "unsupported-arch": "This model's architecture is not supported.",
    "unsupported-type": "This model uses a weight format the GPU engine cannot run.",
    "bad-file": "This file is not a usable GGUF model (it may be truncated or corrupt).",
    "download-failed": "The model could not be downloaded.",
    "out-of-memory": "This model is too large for this GPU.",
    "device-lost": "The GPU was reset.",
    "context-overflow": "The text is too long for the model's context window.",
    "cancelled": "Stopped.",
    "internal": "Something went wrong inside the engine.",
}


class EngineFailure(Exception):
    """An engine error with a kind from USER_MESSAGES; str() is the engine's own message."""

    def __init__(self, kind: str, message: str, detail: str | None = None) -> None:
        super().__init__(message)
        self.kind = kind if kind in USER_MESSAGES else "internal"
        self.message = message
        self.detail = detail

    @property
    def user_message(self) -> str:
        general = USER_MESSAGES[self.kind]
        return general if self.message in ("", general) else f"{general} ({self.message})"

# What stops the GPU engine on one model but not the CPU engine: where the app chose the engine,
# that model runs on the CPU instead, and the page says why.
CPU_FALLBACK_KINDS = ("unsupported-type", "out-of-memory")


def cpu_fallback_reason(prefer: str, failure: EngineFailure) -> str | None:
    """Why the CPU engine takes over a model the GPU engine refused, or None when it should not:
    a forced engine (`?engine=webgpu`) reports the failure instead, and other failures (a bad
    file, say) would fail the CPU engine too."""
    if prefer != "auto" or failure.kind not in CPU_FALLBACK_KINDS:
        return None
    return f"CPU engine: the GPU engine cannot run this model ({failure.message})"


@dataclass(frozen=True)
class EngineInfo:
    kind: str  # "webgpu-f32" | "webgpu-f16" | "wllama-cpu"
    reason: str  # why this engine was chosen, shown to the user
    accepts_tokens: bool  # True: give it token ids; False: give it prompt text
    arch: str
    n_ctx: int


@dataclass(frozen=True)
class CompletionRequest:
    """One generation. `tokens` goes to engines that accept ids, `text` to the others."""

    text: str
    tokens: list[int] | None = None
    max_tokens: int = 256
    temperature: float = 0.0
    top_k: int = 0
    top_p: float = 1.0
    seed: int = 0
    stop_ids: list[int] = field(default_factory=list)

    def to_js_fields(self) -> dict:
        return {
            "text": self.text,
            "tokens": self.tokens,
            "maxTokens": self.max_tokens,
            "temperature": self.temperature,
            "topK": self.top_k,
            "topP": self.top_p,
            "seed": self.seed,
            "stopIds": self.stop_ids,
        }


@dataclass(frozen=True)
class Piece:
    """One streamed step: a token id (GPU engine) or a text fragment (CPU engine)."""

    id: int | None
    text: str | None


@dataclass(frozen=True)
class CompletionStats:
    stop_reason: str  # "stop" | "length" | "cancelled"
    n_prompt: int | None
    n_generated: int
    first_token_ms: float | None
    total_ms: float

    @property
    def tokens_per_second(self) -> float | None:
        if self.first_token_ms is None or self.n_generated < 2:
            return None
        decode_ms = self.total_ms - self.first_token_ms
        return (self.n_generated - 1) / (decode_ms / 1000) if decode_ms > 0 else None
