"""Summaries of any length: one pass when the document fits, map-reduce with progress when not."""

from __future__ import annotations

import re

import pytest

from pyapp.assistant import Delta, Done, Progress, Stopped
from pyapp.engine.contract import CompletionRequest
from pyapp.recipes.summarize import INSTRUCTIONS, PART_INSTRUCTION, Length, Summary
from tests.fixtures.scripted_engine import ScriptedEngine, assistant_for, events_of, run_async, words

LONG = "\n\n".join(f"Section {i} says that topic {i} matters for reason {i}." for i in range(300))


def final_summary(request: CompletionRequest) -> str:
    if PART_INSTRUCTION in request.text:
        sections = re.findall(r"Section (\d+) says", request.text) or re.findall(r"covers (\d+)", request.text)
        return " ".join(f"Part covers {n}." for n in sections[:1] + sections[-1:])
    return "The whole summary."


def test_short_document_is_summarized_in_one_pass_without_progress() -> None:
    engine = ScriptedEngine(lambda r: "Short summary.")
    events = events_of(assistant_for(engine).summarize("A short text. It fits.", Length.LINE))
    assert [type(e) for e in events] == [Delta, Delta, Done]
    assert events[-1] == Done(Summary("Short summary.", 1, False))
    assert len(engine.requests) == 1 and INSTRUCTIONS[Length.LINE] in engine.requests[0].text


def test_long_document_is_mapped_chunk_by_chunk_then_reduced() -> None:
    engine = ScriptedEngine(final_summary, n_ctx=512)
    assistant = assistant_for(engine)
    events = events_of(assistant.summarize(LONG, Length.PARAGRAPH))
    progress = [e for e in events if isinstance(e, Progress)]
    chunks = [e for e in progress if e.step == "chunk"]
    assert [e.n for e in chunks] == list(range(1, len(chunks) + 1)) and len(chunks) > 5
    assert chunks[2].label == f"chunk 3 of {len(chunks)}"
    assert progress[-1] == Progress("final", 1, 1) and progress[-1].label == "the final summary"
    map_prompts = [r.text for r in engine.requests[:len(chunks)]]
    assert all(PART_INSTRUCTION in p for p in map_prompts)
    seen = [int(n) for p in map_prompts for n in re.findall(r"Section (\d+) says", p)]
    assert sorted(set(seen)) == list(range(300)) and len(seen) == 300  # every section once, in one chunk
    final = engine.requests[-1].text
    assert INSTRUCTIONS[Length.PARAGRAPH] in final and "Part covers 0." in final and "Part covers 299." in final
    assert events[-1] == Done(Summary("The whole summary.", len(chunks), False))
    assert "".join(e.text for e in events if isinstance(e, Delta)) == "The whole summary."
    assert assistant.report.n_calls == len(engine.requests)


def test_every_prompt_leaves_room_for_its_answer() -> None:
    engine = ScriptedEngine(final_summary, n_ctx=512)
    events_of(assistant_for(engine).summarize(LONG, Length.BULLETS))
    assert all(words(r.text) + r.max_tokens <= 512 for r in engine.requests)


def test_partial_summaries_that_do_not_fit_are_combined_in_rounds() -> None:
    def wordy(request: CompletionRequest) -> str:
        return "word " * 60 if PART_INSTRUCTION in request.text else "Final."

    engine = ScriptedEngine(wordy, n_ctx=512)
    events = events_of(assistant_for(engine).summarize(LONG, Length.LINE))
    steps = [e.step for e in events if isinstance(e, Progress)]
    assert "combine" in steps and steps.index("combine") > steps.index("chunk")
    assert Progress("combine", 1, 2).label == "summary group 1 of 2"
    assert events[-1].result.text == "Final." and not events[-1].result.truncated


def test_summaries_that_stop_shrinking_end_in_one_truncated_pass() -> None:
    def echo(request: CompletionRequest) -> str:
        return "word " * 119 if PART_INSTRUCTION in request.text else "Final."

    engine = ScriptedEngine(echo, n_ctx=300)  # room for one part summary per prompt only
    events = events_of(assistant_for(engine).summarize(LONG, Length.LINE))
    assert events[-1].result.truncated and len(engine.requests) < 200


@pytest.mark.parametrize("stop_on_call", [1, 3])
def test_stop_ends_a_long_summary_without_further_calls(stop_on_call: int) -> None:
    engine = ScriptedEngine(final_summary, n_ctx=512)
    assistant = assistant_for(engine)
    engine.on_piece = lambda: assistant.stop() if len(engine.requests) == stop_on_call else None
    events = events_of(assistant.summarize(LONG, Length.LINE))
    assert events[-1] == Stopped() and len(engine.requests) == stop_on_call
    assert not any(isinstance(e, Done) for e in events)


def test_stop_between_two_calls_starts_no_further_call() -> None:
    engine = ScriptedEngine(final_summary, n_ctx=512)
    assistant = assistant_for(engine)

    async def run() -> list:
        events = []
        async for event in assistant.summarize(LONG, Length.LINE):
            events.append(event)
            if isinstance(event, Progress) and event.n == 2:
                assistant.stop()  # while the UI shows "chunk 2 of m", before that call starts
        return events

    events = run_async(run())
    assert events[-1] == Stopped() and len(engine.requests) == 1
