"""The assistant's ids-vs-text handling, with a scripted engine (unit level; the real engine runs in tests/browser)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from pyapp.assistant import Assistant, Delta
from pyapp.engine.contract import CompletionRequest, CompletionStats, EngineInfo, Piece
from pyapp.model.chat import ChatFormat
from pyapp.recipes.summarize import Length


class ScriptedEngine:
    def __init__(self, accepts_tokens: bool, pieces: list[Piece]) -> None:
        self.info = EngineInfo("scripted", "", accepts_tokens, "llama", 2048)
        self.pieces = pieces
        self.requests: list[CompletionRequest] = []
        self.last_stats: CompletionStats | None = None
        self.cancelled = False

    async def stream(self, request: CompletionRequest) -> AsyncIterator[Piece]:
        self.requests.append(request)
        for piece in self.pieces:
            yield piece
        self.last_stats = CompletionStats("stop", None, len(self.pieces), 10.0, 20.0)

    def cancel(self) -> None:
        self.cancelled = True


class ByteDecoder:
    """Decodes ids that are byte values, holding back incomplete UTF-8 like the real StreamDecoder."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, token_id: int) -> str:
        self.pending += bytes([token_id])
        try:
            text, self.pending = self.pending.decode("utf-8"), b""
            return text
        except UnicodeDecodeError:
            return ""

    def flush(self) -> str:
        text, self.pending = self.pending.decode("utf-8", "replace"), b""
        return text


def collect(assistant: Assistant, document: str) -> list[str]:
    async def run() -> list[str]:
        return [event.text async for event in assistant.summarize(document, Length.LINE) if isinstance(event, Delta)]

    # Its own thread: Playwright's sync API keeps an event loop running in the main thread.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def test_text_engine_gets_prompt_text_and_streams_text() -> None:
    engine = ScriptedEngine(False, [Piece(None, "Bees "), Piece(None, "make honey.")])
    assistant = Assistant(engine, ChatFormat(None), count=lambda s: len(s.split()))
    assert collect(assistant, "Honeybees make honey.") == ["Bees ", "make honey."]
    request = engine.requests[0]
    assert request.tokens is None and "Honeybees make honey." in request.text
    assert assistant.report.n_generated == 2 and not assistant.report.truncated_document


def test_token_engine_gets_ids_and_output_is_detokenized() -> None:
    snowman = "☃".encode()
    engine = ScriptedEngine(True, [Piece(b, None) for b in b"ok " + snowman])
    assistant = Assistant(engine, ChatFormat(None), count=len, tokenize=lambda text: [len(text)],
                          decoder_factory=ByteDecoder, stop_ids=[2])
    assert "".join(collect(assistant, "doc")) == "ok ☃"
    request = engine.requests[0]
    assert request.tokens == [len(request.text)] and request.stop_ids == [2]


def test_answer_cut_inside_a_character_is_flushed_not_lost() -> None:
    engine = ScriptedEngine(True, [Piece(b, None) for b in b"ok " + "☃".encode()[:2]])
    assistant = Assistant(engine, ChatFormat(None), count=len, tokenize=lambda text: [1],
                          decoder_factory=ByteDecoder)
    assert "".join(collect(assistant, "doc")) == "ok \ufffd"


def test_stop_cancels_the_engine() -> None:
    engine = ScriptedEngine(False, [])
    Assistant(engine, ChatFormat(None), count=len).stop()
    assert engine.cancelled
