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


def neutralise_delimiters(text: str) -> str:
    return _QUOTE_RUN.sub(lambda m: "\u201d" * 2, text)


def fence(text: str, label: str = "Text") -> str:
    """`label:` followed by the untrusted `text` between triple quotes."""
    return f"{label}:\n{DELIMITER}\n{neutralise_delimiters(text)}\n{DELIMITER}"
