"""Custom: the user's own instruction applied to one document.

The instruction is the user's and stays outside the fence; the document is untrusted and goes
inside it, cut to leave room for the answer, exactly as in the built-in recipes.
"""

from __future__ import annotations

from pyapp.documents.ingest import InputError
from pyapp.model.chat import ChatFormat
from pyapp.recipes.prompt import DocumentPrompt, document_budget, document_prompt
from pyapp.text.budget import TokenCounter

ANSWER_TOKENS = 400
MAX_INSTRUCTION_CHARS = 2000
MIN_DOCUMENT_TOKENS = 64


def custom_prompt(instruction: str, document: str, chat: ChatFormat, count: TokenCounter, n_ctx: int) -> DocumentPrompt:
    instruction = instruction.strip()
    if not instruction:
        raise InputError("Write an instruction first, for example: List the questions this text leaves open.")
    if len(instruction) > MAX_INSTRUCTION_CHARS:
        raise InputError(f"The instruction has {len(instruction):,} characters; "
                         f"keep it under {MAX_INSTRUCTION_CHARS:,}.")
    if document_budget(instruction, chat, count, n_ctx, ANSWER_TOKENS) < MIN_DOCUMENT_TOKENS:
        raise InputError("The instruction is so long that no room is left for the document; shorten it.")
    return document_prompt(instruction, document, chat, count, n_ctx, ANSWER_TOKENS)
