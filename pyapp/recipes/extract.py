"""Extract facts: each item with a verbatim quote, and every quote checked against the document.

The line format `- fact :: "quote"` (or `- field: value :: "quote"` when the user names fields)
is shown to the model in one worked example. SmolLM2-135M then writes bullets, mostly facts copied
from the text without a quote; the parser takes that and the other variants small models drift
into (other bullets, numbering, a quote without `::`, curly quotes). Each quote is looked up in the
document (pyapp.text.verbatim: case, whitespace, quote marks and dashes do not count); an item
whose quote is missing or not found is kept and marked, never silently dropped or trusted.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from enum import Enum

from pyapp.model.chat import ChatFormat, Message
from pyapp.recipes.prompt import DocumentPrompt, document_budget, document_prompt
from pyapp.safety.spotlight import fence
from pyapp.text.budget import TokenCounter
from pyapp.text.verbatim import NormalisedText

ANSWER_TOKENS = 400

_BULLET = re.compile(r"^\s*(?:[-*\u2022]|\d+[.)])\s*")
_QUOTED_TAIL = re.compile(
    r"^(?P<fact>.*?)[\s:\-\u2013\u2014]*[\"\u201c\u201d](?P<quote>[^\"\u201c\u201d]+)[\"\u201c\u201d][\s.]*$")
_QUOTE_MARKS = "\"'\u201c\u201d\u2018\u2019 "
_EDGE_PUNCTUATION = ".,;:!?\u2026 "


class Status(Enum):
    VERIFIED = "verified"  # the quote occurs in the document; start/end say where
    NOT_FOUND = "not-found"  # the model gave a quote that is not in the document
    NO_QUOTE = "no-quote"  # the model gave no quote


@dataclass(frozen=True)
class Item:
    fact: str
    quote: str | None
    field: str | None
    status: Status
    start: int | None = None
    end: int | None = None

    def to_dict(self) -> dict:
        return {**asdict(self), "status": self.status.value}


@dataclass(frozen=True)
class Extraction:
    items: list[Item]
    fields: list[str]  # empty: free facts
    n_chunks: int

    @property
    def n_verified(self) -> int:
        return sum(item.status is Status.VERIFIED for item in self.items)


EXAMPLE_TEXT = "Honeybees live in colonies of up to 60,000 bees. A colony makes about 25 kg of honey a year."
EXAMPLE_FACTS = ('- Honeybees live in colonies :: "Honeybees live in colonies"\n'
                 '- A colony has up to 60,000 bees :: "up to 60,000 bees"\n'
                 '- A colony makes 25 kg of honey a year :: "makes about 25 kg of honey a year"')
EXAMPLE_FIELDS = ["amounts"]
EXAMPLE_FIELD_ITEMS = ('- amounts: 60,000 bees :: "up to 60,000 bees"\n'
                       '- amounts: 25 kg of honey :: "about 25 kg of honey a year"')


def instruction(fields: list[str]) -> str:
    if not fields:
        return 'List the key facts in the following text, one per line, as: - fact :: "exact words from the text"'
    return (f'List the {", ".join(fields)} in the following text, one per line, as: '
            f'- {fields[0]}: value :: "exact words from the text"')


def examples(fields: list[str]) -> list[Message]:
    """One worked example: SmolLM2-135M copied the text back without it, and kept to bullets with it."""
    answer = EXAMPLE_FIELD_ITEMS if fields else EXAMPLE_FACTS
    return [{"role": "user", "content": f"{instruction(EXAMPLE_FIELDS if fields else [])}\n\n{fence(EXAMPLE_TEXT)}"},
            {"role": "assistant", "content": answer}]


def extract_prompt(document: str, fields: list[str], chat: ChatFormat, count: TokenCounter,
                   n_ctx: int) -> DocumentPrompt:
    return document_prompt(instruction(fields), document, chat, count, n_ctx, ANSWER_TOKENS, examples(fields))


def chunk_budget(fields: list[str], chat: ChatFormat, count: TokenCounter, n_ctx: int) -> int:
    return document_budget(instruction(fields), chat, count, n_ctx, ANSWER_TOKENS, examples(fields))


def parse_fields(text: str) -> list[str]:
    """The fields the user typed ("people, dates; amounts"), cleaned, in order, without repeats."""
    names = (" ".join(name.split()) for name in re.split(r"[,;\n]", text))
    return list(dict.fromkeys(name for name in names if name))


@dataclass(frozen=True)
class RawItem:
    """One line of model output, read but not yet checked."""

    fact: str
    quote: str | None
    field: str | None


def _field_of(fact: str, fields: list[str]) -> tuple[str | None, str]:
    label, sep, value = fact.partition(":")
    if sep:
        wanted = label.strip().casefold().rstrip("s")
        for name in fields:
            if name.casefold().rstrip("s") == wanted:
                return name, value.strip()
    return None, fact


def parse_items(output: str, fields: list[str]) -> list[RawItem]:
    """Items from the model's lines; lines that are neither a bullet nor carry `::` are prose around
    the list and are skipped."""
    items: list[RawItem] = []
    for line in output.splitlines():
        bullet = _BULLET.match(line)
        body = line[bullet.end():] if bullet else line
        if "::" in body:
            fact, _, quote = body.partition("::")
            quote = quote.strip().strip(_QUOTE_MARKS) or None
        elif not bullet:
            continue
        elif tail := _QUOTED_TAIL.match(body):
            fact, quote = tail["fact"], tail["quote"].strip()
        else:
            fact, quote = body, None
        fact = fact.strip().strip(_QUOTE_MARKS + ":-")
        field, fact = _field_of(fact, fields)
        if fact or quote:
            items.append(RawItem(fact, quote, field))
    return items


def verify(raw: RawItem, source: NormalisedText, start: int = 0, end: int | None = None) -> Item:
    """Check `raw`'s quote in `source`, first within [start, end) (the chunk it came from), then
    anywhere. An item without a quote whose fact is itself copied from the text (what SmolLM2-135M
    mostly writes) is its own quote."""
    if raw.quote is None:
        span = _locate(raw.fact, source, start, end)
        if span is None:
            return Item(raw.fact, None, raw.field, Status.NO_QUOTE)
        return Item(raw.fact, raw.fact, raw.field, Status.VERIFIED, *span)
    span = _locate(raw.quote, source, start, end)
    if span is None:
        return Item(raw.fact, raw.quote, raw.field, Status.NOT_FOUND)
    return Item(raw.fact, raw.quote, raw.field, Status.VERIFIED, *span)


def _locate(quote: str, source: NormalisedText, start: int, end: int | None) -> tuple[int, int] | None:
    for candidate in dict.fromkeys((quote, quote.strip(_EDGE_PUNCTUATION + _QUOTE_MARKS))):
        span = source.find(candidate, start, end) or source.find(candidate)
        if span is not None:
            return span
    return None


def merge(items: list[Item]) -> list[Item]:
    """Items in order with exact repeats (same field, fact and quote; from overlapping chunks) removed."""
    seen: set[tuple] = set()
    kept: list[Item] = []
    for item in items:
        key = (item.field, item.fact.casefold(), (item.quote or "").casefold())
        if key not in seen:
            seen.add(key)
            kept.append(item)
    return kept
