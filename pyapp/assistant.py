"""The assistant: runs the recipes through the engine and reports what happens as events.

It hides the one difference between engines that matters to recipes: the GPU engine takes and
returns token ids (Python tokenizes and detokenizes), the CPU engine takes and returns text.

Every operation is an async iterator of events, so the UI can show progress and stream text:
`Progress` ("chunk 3 of 12") before each model call of a multi-step operation, `Delta` for each
piece of the text the user is waiting for, and last either `Done(result)` or `Stopped()`.
Summarize, Extract and Custom see one document only; Ask alone reads passages of all documents.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from pyapp.engine.contract import CompletionRequest, CompletionStats, EngineInfo, Piece
from pyapp.model.chat import ChatFormat
from pyapp.recipes import ask as ask_recipe
from pyapp.recipes import extract as extract_recipe
from pyapp.recipes import summarize as summarize_recipe
from pyapp.recipes.custom import custom_prompt
from pyapp.recipes.prompt import DocumentPrompt
from pyapp.recipes.summarize import Length
from pyapp.retrieval.passages import PassageIndex
from pyapp.text.budget import TokenCounter
from pyapp.text.chunk import chunk_text_async
from pyapp.text.verbatim import NormalisedText

ASK_PASSAGES = 4
EXTRACT_OVERLAP_TOKENS = 48


class StreamingEngine(Protocol):
    info: EngineInfo
    last_stats: CompletionStats | None

    def stream(self, request: CompletionRequest) -> AsyncIterator[Piece]: ...

    def cancel(self) -> None: ...


class TextDecoder(Protocol):
    """Turns streamed token ids into text (pyapp.model.tokenizer.StreamDecoder)."""

    def feed(self, token_id: int) -> str: ...

    def flush(self) -> str: ...


PROGRESS_LABELS = {
    "chunk": "chunk {n} of {total}",  # one part of a long document
    "combine": "summary group {n} of {total}",  # partial summaries too long for one prompt, in groups
    "final": "the final summary",  # the partial summaries turned into one
}


@dataclass(frozen=True)
class Progress:
    step: str  # a key of PROGRESS_LABELS
    n: int
    total: int

    @property
    def label(self) -> str:
        return PROGRESS_LABELS[self.step].format(n=self.n, total=self.total)


@dataclass(frozen=True)
class Delta:
    text: str


@dataclass(frozen=True)
class Done:
    result: summarize_recipe.Summary | extract_recipe.Extraction | ask_recipe.Answer | str


@dataclass(frozen=True)
class Stopped:
    pass


Event = Progress | Delta | Done | Stopped


@dataclass
class RunReport:
    """What the UI shows after an operation: token counts (summed over its model calls) and speed."""

    n_prompt: int = 0
    n_generated: int = 0
    n_calls: int = 0
    truncated_document: bool = False
    stats: CompletionStats | None = None  # of the last model call


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
        self._stopped = False

    @property
    def n_ctx(self) -> int:
        return self.engine.info.n_ctx

    async def summarize(self, document: str, length: Length) -> AsyncIterator[Event]:
        """One pass when the document fits one prompt; otherwise map-reduce over its chunks."""
        self._begin()
        recipe = summarize_recipe
        budget = recipe.chunk_budget(length, self.chat, self.count, self.n_ctx)
        chunks = await chunk_text_async(document, self.count, budget)
        texts, step = [chunk.text for chunk in chunks] or [""], "chunk"
        while len(texts) > 1:
            summaries = []
            for n, text in enumerate(texts, 1):
                yield Progress(step, n, len(texts))
                summaries.append(await self._complete(recipe.part_prompt(text, self.chat, self.count, self.n_ctx)))
                if self._stopped:
                    yield Stopped()
                    return
            grouped = recipe.regroup(summaries, self.count, budget)
            if len(grouped) >= len(texts):  # the model's summaries stopped shrinking: keep what fits
                grouped = [recipe.join_parts(summaries)]
            texts, step = grouped, "combine"
        if len(chunks) > 1:
            yield Progress("final", 1, 1)
        final = recipe.build_prompt(texts[0], length, self.chat, self.count, self.n_ctx)
        pieces: list[str] = []
        async for text in self._stream(final.prompt, final.max_answer_tokens, final.document.truncated):
            pieces.append(text)
            yield Delta(text)
        summary = recipe.Summary("".join(pieces), len(chunks), final.document.truncated)
        yield Stopped() if self._stopped else Done(summary)

    async def extract(self, document: str, fields: list[str]) -> AsyncIterator[Event]:
        """Facts (or the named fields) chunk by chunk, every quote checked against the whole document."""
        self._begin()
        recipe = extract_recipe
        budget = recipe.chunk_budget(fields, self.chat, self.count, self.n_ctx)
        chunks = await chunk_text_async(document, self.count, budget, min(EXTRACT_OVERLAP_TOKENS, budget // 8))
        source = NormalisedText(document)
        items: list[recipe.Item] = []
        for n, chunk in enumerate(chunks, 1):
            if len(chunks) > 1:
                yield Progress("chunk", n, len(chunks))
            prompt = recipe.extract_prompt(chunk.text, fields, self.chat, self.count, self.n_ctx)
            pieces: list[str] = []
            async for text in self._stream(prompt.prompt, prompt.max_answer_tokens, prompt.document.truncated):
                pieces.append(text)
                yield Delta(text)
            if self._stopped:
                yield Stopped()
                return
            raw = recipe.parse_items("".join(pieces), fields)
            items.extend(recipe.verify(item, source, chunk.start, chunk.end) for item in raw)
        yield Done(recipe.Extraction(recipe.merge(items), fields, len(chunks)))

    async def ask(self, question: str, index: PassageIndex, k: int = ASK_PASSAGES) -> AsyncIterator[Event]:
        """An answer from the best passages of all documents, or NOT_FOUND without running the model."""
        self._begin()
        question = ask_recipe.checked_question(question)
        hits = index.search(question, k)
        if not hits:
            yield Done(ask_recipe.not_found(question))
            return
        prompt = ask_recipe.ask_prompt(question, hits, self.chat, self.count, self.n_ctx)
        pieces: list[str] = []
        async for text in self._stream(prompt.prompt, prompt.max_answer_tokens, False):
            pieces.append(text)
            yield Delta(text)
        answer = "".join(pieces)
        yield Stopped() if self._stopped else Done(
            ask_recipe.Answer(question, answer, prompt.hits, ask_recipe.citations_of(answer, prompt.hits)))

    async def custom(self, instruction: str, document: str) -> AsyncIterator[Event]:
        """The user's instruction over one document (cut to fit; report.truncated_document says so)."""
        self._begin()
        prompt = custom_prompt(instruction, document, self.chat, self.count, self.n_ctx)
        pieces: list[str] = []
        async for text in self._stream(prompt.prompt, prompt.max_answer_tokens, prompt.document.truncated):
            pieces.append(text)
            yield Delta(text)
        yield Stopped() if self._stopped else Done("".join(pieces))

    async def generate(self, prompt: str, max_tokens: int) -> AsyncIterator[str]:
        """Raw text for an already rendered prompt: no recipe, no fence (eval/ compares against it)."""
        self._begin()
        async for text in self._stream(prompt, max_tokens, False):
            yield text

    def stop(self) -> None:
        self._stopped = True
        self.engine.cancel()

    def _begin(self) -> None:
        self.report = RunReport()
        self._stopped = False

    async def _complete(self, prompt: DocumentPrompt) -> str:
        return "".join([text async for text in self._stream(prompt.prompt, prompt.max_answer_tokens,
                                                               prompt.document.truncated)])

    async def _stream(self, prompt: str, max_tokens: int, truncated: bool) -> AsyncIterator[str]:
        if self._stopped:  # Stop pressed between two model calls of one operation
            return
        tokens = self.tokenize(prompt) if self.engine.info.accepts_tokens else None
        request = CompletionRequest(text=prompt, tokens=tokens, max_tokens=max_tokens, stop_ids=self.stop_ids)
        decoder = self.decoder_factory() if tokens is not None else None
        async for piece in self.engine.stream(request):
            text = decoder.feed(piece.id) if decoder is not None and piece.id is not None else piece.text
            if text:
                yield text
        tail = decoder.flush() if decoder is not None else ""
        if tail:  # bytes of a character the answer ended in the middle of
            yield tail
        report = self.report
        report.n_calls += 1
        report.n_prompt += len(tokens) if tokens is not None else self.count(prompt)
        report.truncated_document |= truncated
        report.stats = self.engine.last_stats
        if report.stats is not None:
            report.n_generated += report.stats.n_generated
