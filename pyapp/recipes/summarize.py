"""Summarize: the instructions, the prompts, and how a long document is split and recombined.

The instruction comes first, outside the fenced document. Wording was chosen by trying variants
on SmolLM2-135M: a plain system prompt and "Summarize the following text ..." followed by the
quoted text gave the most faithful summaries; long safety preambles made it copy the text instead.

A document longer than one prompt is summarized map-reduce: each chunk gets a short summary
(PART_INSTRUCTION), the partial summaries are joined and, if they still do not fit one prompt,
summarized again in groups, until one prompt turns them into the summary of the asked length.
The joined partial summaries are model output derived from untrusted text, so they stay fenced.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pyapp.model.chat import ChatFormat, Message
from pyapp.recipes.prompt import DocumentPrompt, document_budget, document_prompt, instruction_messages
from pyapp.text.budget import TokenCounter
from pyapp.text.chunk import chunk_text


class Length(Enum):
    LINE = "line"
    PARAGRAPH = "paragraph"
    BULLETS = "bullets"


INSTRUCTIONS: dict[Length, str] = {
    Length.LINE: "Summarize the following text in one sentence.",
    Length.PARAGRAPH: "Summarize the following text in one short paragraph.",
    Length.BULLETS: "Summarize the following text as 3 to 5 short bullet points, each starting with '- '.",
}

ANSWER_TOKENS: dict[Length, int] = {Length.LINE: 64, Length.PARAGRAPH: 200, Length.BULLETS: 220}

PART_INSTRUCTION = "Summarize the following text in two or three sentences."
PART_ANSWER_TOKENS = 120


@dataclass(frozen=True)
class Summary:
    text: str
    n_chunks: int  # 1: the document was summarized in one pass
    truncated: bool  # only the start of the text fit (only when recombining could not shrink it)


def messages_for(document: str, length: Length) -> list[Message]:
    return instruction_messages(INSTRUCTIONS[length], document)


def build_prompt(document: str, length: Length, chat: ChatFormat, count: TokenCounter, n_ctx: int) -> DocumentPrompt:
    """The prompt that writes the final summary, with the text cut to leave room for the answer."""
    return document_prompt(INSTRUCTIONS[length], document, chat, count, n_ctx, ANSWER_TOKENS[length])


def part_prompt(text: str, chat: ChatFormat, count: TokenCounter, n_ctx: int) -> DocumentPrompt:
    """The prompt that summarizes one chunk (or one group of partial summaries)."""
    return document_prompt(PART_INSTRUCTION, text, chat, count, n_ctx, PART_ANSWER_TOKENS)


def chunk_budget(length: Length, chat: ChatFormat, count: TokenCounter, n_ctx: int) -> int:
    """Tokens of text per chunk: small enough for both the part prompt and the final prompt, so a
    document that comes out as one chunk is summarized in one pass."""
    return min(
        document_budget(INSTRUCTIONS[length], chat, count, n_ctx, ANSWER_TOKENS[length]),
        document_budget(PART_INSTRUCTION, chat, count, n_ctx, PART_ANSWER_TOKENS),
    )


def join_parts(summaries: list[str]) -> str:
    return "\n\n".join(s.strip() for s in summaries if s.strip())


def regroup(summaries: list[str], count: TokenCounter, budget: int) -> list[str]:
    """Partial summaries packed, in order, into as few texts of at most `budget` tokens as possible."""
    return [chunk.text for chunk in chunk_text(join_parts(summaries), count, budget)]
