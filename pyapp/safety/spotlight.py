"""Spotlighting: untrusted text enters prompts only inside a delimited block it cannot close.

The instruction stays outside the block. Small models follow a plain triple-quoted block far
better than exotic markers (measured with SmolLM2-135M: tagged <<<BEGIN ...>>> markers were echoed
back into the summary), so the delimiter is a triple quote and any run of three or more quote
characters inside the text is broken up, so the text cannot end the block early and continue
with instructions of its own.
"""

from __future__ import annotations

import re

DELIMITER = '"""'
_QUOTE_RUN = re.compile(r'["\u201c\u201d\u201e\u2033\uff02]{3,}')
# Chat-template control tokens (ChatML, Llama 2/3, Gemma, Mistral, Phi): prompts are tokenized with
# special tokens recognised, so a document that spells one out could open a turn of its own.
_CONTROL_TOKEN = re.compile(
    r"<\|[^|<>\n]{1,40}\|>|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>|<unk>|<pad>|<\|?(?:bos|eos)\|?>",
    re.IGNORECASE,
)


def neutralise_delimiters(text: str) -> str:
    return _QUOTE_RUN.sub(lambda m: "\u201d" * 2, text)


def neutralise_control_tokens(text: str) -> str:
    """Spell control tokens with a look-alike bracket (U+2039) so they stay plain text."""
    return _CONTROL_TOKEN.sub(lambda m: "\u2039" + m.group(0)[1:], text)


def fence(text: str, label: str = "Text") -> str:
    """`label:` followed by the untrusted `text` between triple quotes."""
    safe = neutralise_control_tokens(neutralise_delimiters(text))
    return f"{label}:\n{DELIMITER}\n{safe}\n{DELIMITER}"
