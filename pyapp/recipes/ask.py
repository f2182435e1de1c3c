"""Ask: a question answered from retrieved passages, with citations [1], [2] mapped back to them.

Passages come first, each numbered and fenced as untrusted; the question and the instruction
come after them, outside any fence (SmolLM2-135M answered far better with the instruction last).
Asked to cite passages as [1], SmolLM2-135M mostly answered "The answer is [1]." and nothing
else; asked only to answer, it answered 3 of 3 test questions well. So the prompt asks for the
answer only: citations the model writes anyway are read, and an answer without them gets
inferred citations (marked as such), each sentence to the passage that shares most of its words.
When retrieval finds nothing relevant the answer is NOT_FOUND and no model runs: a small model
asked anyway would invent an answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pyapp.documents.ingest import InputError
from pyapp.model.chat import ChatFormat, Message
from pyapp.recipes.prompt import SYSTEM_PROMPT
from pyapp.retrieval.passages import Hit
from pyapp.retrieval.terms import terms
from pyapp.safety.spotlight import fence
from pyapp.text.budget import TokenCounter

NOT_FOUND = "Not in the documents."
ANSWER_TOKENS = 160
MAX_QUESTION_CHARS = 2000
INSTRUCTION = "Answer the question using only the passages above."

_CITATION = re.compile(r"\[\s*(\d+(?:\s*(?:,|;|and|&)\s*\d+)*)\s*\]|\bpassages?\s+(\d+)\b", re.IGNORECASE)
_NUMBER = re.compile(r"\d+")
_SENTENCE = re.compile(r"\S.*?(?:[.!?]+(?=\s|$)|(?=\n)|$)")  # to . ! ? before a space: "4.2" stays whole
MIN_SUPPORT = 0.6


@dataclass(frozen=True)
class AskPrompt:
    prompt: str
    hits: list[Hit]  # the passages in the prompt: hits[0] is [1]
    max_answer_tokens: int


@dataclass(frozen=True)
class Citation:
    number: int  # [number]
    start: int  # span of the number in the answer text ("[1, 3]": one citation per number, each
    end: int  # its own digits); an inferred one is empty (start == end) where its mark belongs
    hit: Hit | None  # None: the answer cites a number no passage has
    inferred: bool = False  # the model cited nothing; the passage sharing the sentence's words was picked


@dataclass(frozen=True)
class Answer:
    question: str
    text: str
    hits: list[Hit]  # numbered from 1, as the model saw them
    citations: list[Citation]

    @property
    def found(self) -> bool:
        return bool(self.hits)


def ask_messages(question: str, passages: list[str]) -> list[Message]:
    blocks = "\n\n".join(fence(text, f"[{n}]") for n, text in enumerate(passages, 1))
    user = f"Passages:\n{blocks}\n\nQuestion: {question}\n{INSTRUCTION}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def checked_question(question: str) -> str:
    """The question without surrounding space, or InputError when it is empty or too long to ask."""
    question = question.strip()
    if not question:
        raise InputError("Type a question first.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InputError(f"The question has {len(question):,} characters; keep it under {MAX_QUESTION_CHARS:,}.")
    return question


def ask_prompt(question: str, hits: list[Hit], chat: ChatFormat, count: TokenCounter, n_ctx: int) -> AskPrompt:
    """The prompt with as many of `hits` (best first) as fit while leaving room for the answer;
    InputError when the question leaves room for none (an answer without passages is a guess)."""
    budget = n_ctx - ANSWER_TOKENS - count(chat.render(ask_messages(question, [])))
    used: list[Hit] = []
    for hit in hits:
        cost = count(fence(hit.passage.text, f"[{len(used) + 1}]") + "\n\n")
        if cost > budget:
            break
        used.append(hit)
        budget -= cost
    if hits and not used:
        raise InputError("The question is so long that no room is left for the passages; shorten it.")
    prompt = chat.render(ask_messages(question, [hit.passage.text for hit in used]))
    return AskPrompt(prompt, used, ANSWER_TOKENS)


def parse_citations(answer: str, hits: list[Hit]) -> list[Citation]:
    """Every passage number the answer cites ([2], [1, 3], "passage 2"), in order of appearance."""
    citations: list[Citation] = []
    for match in _CITATION.finditer(answer):
        for digits in _NUMBER.finditer(match.group()):
            number = int(digits.group())
            hit = hits[number - 1] if 1 <= number <= len(hits) else None
            citations.append(Citation(number, match.start() + digits.start(), match.start() + digits.end(), hit))
    return citations


def infer_citations(answer: str, hits: list[Hit]) -> list[Citation]:
    """For an answer that cites nothing (SmolLM2-135M mostly doesn't): each sentence is attributed
    to the passage holding the largest share of its terms, if that share is at least MIN_SUPPORT.
    Sentences no passage supports get no citation: the UI must not suggest a source it lacks."""
    citations: list[Citation] = []
    passage_terms = [set(terms(hit.passage.text)) for hit in hits]
    for sentence in _SENTENCE.finditer(answer):
        wanted = set(terms(sentence.group()))
        if not wanted or not hits:
            continue
        shares = [len(wanted & have) / len(wanted) for have in passage_terms]
        best = max(range(len(hits)), key=shares.__getitem__)
        if shares[best] >= MIN_SUPPORT:
            citations.append(Citation(best + 1, sentence.end(), sentence.end(), hits[best], inferred=True))
    return citations


def citations_of(answer: str, hits: list[Hit]) -> list[Citation]:
    """The answer's own citations, or inferred ones when it has none."""
    return parse_citations(answer, hits) or infer_citations(answer, hits)


def not_found(question: str) -> Answer:
    return Answer(question, NOT_FOUND, [], [])
