"""The "Summarize this page" bookmarklet as a javascript: URL template, built from bookmarklet.js.

The protocol's constants come from pyapp/documents/handoff.py, the module that checks what the
bookmarklet sends, so both ends cannot drift apart. The app's own address stays a placeholder:
the app page fills it in from its location, so the same build works on any host and sub-path.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = Path(__file__).with_name("bookmarklet.js")
sys.path.insert(0, str(ROOT))

from pyapp.documents import handoff  # noqa: E402

CONSTANTS = ("PROTOCOL_VERSION", "READY_TYPE", "DOCUMENT_TYPE", "LAUNCH_PARAM",
             "MAX_TEXT_CHARS", "MAX_TITLE_CHARS", "MAX_URL_CHARS")
_COMMENT_LINE = re.compile(r"^\s*//.*\n", re.MULTILINE)
_INDENT = re.compile(r"^[ \t]+", re.MULTILINE)


def template(source: Path = SOURCE) -> str:
    """The javascript: URL with __WORDCALC_APP__ left in; comments and indentation dropped."""
    code = _INDENT.sub("", _COMMENT_LINE.sub("", source.read_text()))
    for name in CONSTANTS:
        placeholder = f"__{name}__"
        if placeholder not in code:
            raise ValueError(f"{source.name} does not use {placeholder}")
        code = code.replace(placeholder, json.dumps(getattr(handoff, name)))
    leftover = sorted(set(re.findall(r"__[A-Z_]+__", code)) - {handoff.APP_URL_PLACEHOLDER})
    if leftover:
        raise ValueError(f"{source.name} has unknown placeholders: {', '.join(leftover)}")
    return handoff.script_url(code.strip())
