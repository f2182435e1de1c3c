"""Summarize: the instruction, the prompt around the document, and how much document fits.

The instruction comes first, outside the fenced document. Wording was chosen by trying variants
on SmolLM2-135M: a plain system prompt and "Summarize the following text ..." followed by the
quoted text gave the most faithful summaries; long safety preambles made it copy the text instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from pyapp.model.chat import ChatFormat, Message
from pyapp.safety.spotlight import fence
from pyapp.text.budget import Fitted, TokenCounter, fit_to_budget

SYSTEM_PROMPT = "You are a helpful assistant."


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


@dataclass(frozen=True)
class SummaryPrompt:
    prompt: str
    document: Fitted
    max_answer_tokens: int


def messages_for(document: str, length: Length) -> list[Message]:
    user = f"{INSTRUCTIONS[length]}\n\n{fence(document)}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def build_prompt(document: str, length: Length, chat: ChatFormat, count: TokenCounter, n_ctx: int) -> SummaryPrompt:
    """The full prompt for one-pass summarizing, with the document cut to leave room for the answer."""
    answer = ANSWER_TOKENS[length]
    overhead = count(chat.render(messages_for("", length)))
    fitted = fit_to_budget(document, count, n_ctx - answer - overhead)
    return SummaryPrompt(prompt=chat.render(messages_for(fitted.text, length)), document=fitted, max_answer_tokens=answer)
