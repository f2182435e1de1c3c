"""The assistant: runs a recipe's prompt through the engine and streams text back.

It hides the one difference between engines that matters to recipes: the GPU engine takes and
returns token ids (Python tokenizes and detokenizes), the CPU engine takes and returns text.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from pyapp.engine.contract import CompletionRequest, CompletionStats, EngineInfo, Piece
from pyapp.model.chat import ChatFormat
from pyapp.recipes.summarize import Length, build_prompt
from pyapp.text.budget import TokenCounter


class StreamingEngine(Protocol):
    info: EngineInfo
    last_stats: CompletionStats | None

    def stream(self, request: CompletionRequest) -> AsyncIterator[Piece]: ...

    def cancel(self) -> None: ...


class TextDecoder(Protocol):
    """Turns streamed token ids into text (pyapp.model.tokenizer.StreamDecoder)."""

    def feed(self, token_id: int) -> str: ...


@dataclass
class RunReport:
    """What the UI shows after a run: token counts and speed."""

    n_prompt: int
    n_generated: int
    truncated_document: bool
    stats: CompletionStats | None


class Assistant:
    def __init__(self, engine: StreamingEngine, chat: ChatFormat, count: TokenCounter,
                 tokenize=None, decoder_factory=None, stop_ids: list[int] | None = None) -> None:
        self.engine = engine
        self.chat = chat
        self.count = count
        self.tokenize = tokenize
        self.decoder_factory = decoder_factory
        self.stop_ids = stop_ids or []
        self.report: RunReport | None = None

    async def summarize(self, document: str, length: Length) -> AsyncIterator[str]:
        plan = build_prompt(document, length, self.chat, self.count, self.engine.info.n_ctx)
        n_prompt = self.count(plan.prompt)
        self.report = RunReport(n_prompt, 0, plan.document.truncated, None)
        async for text in self._generate(plan.prompt, plan.max_answer_tokens):
            yield text
        self.report.stats = self.engine.last_stats
        if self.engine.last_stats is not None:
            self.report.n_generated = self.engine.last_stats.n_generated

    async def _generate(self, prompt: str, max_tokens: int) -> AsyncIterator[str]:
        tokens = self.tokenize(prompt) if self.engine.info.accepts_tokens else None
        request = CompletionRequest(text=prompt, tokens=tokens, max_tokens=max_tokens, stop_ids=self.stop_ids)
        decoder = self.decoder_factory() if tokens is not None else None
        async for piece in self.engine.stream(request):
            text = decoder.feed(piece.id) if decoder is not None and piece.id is not None else piece.text
            if text:
                yield text

    def stop(self) -> None:
        self.engine.cancel()
