"""The bookmarklet hand-over: its protocol constants, its link, and the check of what arrives.

The bookmarklet runs in a page wordcalc does not control, opens wordcalc with
`?from=bookmarklet&origin=<that page's origin>`, waits for wordcalc's one "ready" message, and
answers with {type, version, title, url, text}. Everything in that answer is untrusted: it is
checked here for exact shape, types and sizes before any of it is shown or summarized. The
constants are the bookmarklet's too (build/bookmarklet.py writes them into it), so both ends
always agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

PROTOCOL_VERSION = 1
READY_TYPE = "wordcalc-ready"
DOCUMENT_TYPE = "wordcalc-document"
LAUNCH_PARAM = "bookmarklet"  # ?from=bookmarklet
MAX_TEXT_CHARS = 100_000
MAX_TITLE_CHARS = 300
MAX_URL_CHARS = 2_000
APP_URL_PLACEHOLDER = "__WORDCALC_APP__"
_FIELDS = frozenset({"type", "version", "title", "url", "text"})
# Characters left as they are in the javascript: URL (readable, and none of them changes meaning).
_URL_SAFE = "()[]{};:,.=+-*/!?'_$&|<>"


class HandoffRejected(ValueError):
    """What arrived cannot be used; str() says why, for the page and the console."""


@dataclass(frozen=True)
class Handoff:
    title: str
    url: str
    text: str


def script_url(code: str) -> str:
    """`code` as a javascript: URL (percent-encoded; newlines kept, so the code reads the same)."""
    return "javascript:" + quote(code, safe=_URL_SAFE)


def bookmarklet_href(template: str, app_url: str) -> str:
    """The build's bookmarklet URL pointed at this copy of wordcalc (`app_url`, its own address)."""
    if template.count(APP_URL_PLACEHOLDER) != 1:
        raise ValueError("the bookmarklet template must name the app exactly once")
    return template.replace(APP_URL_PLACEHOLDER, quote(json.dumps(app_url), safe=_URL_SAFE))


def _http_origin(value: str) -> str | None:
    """The origin of an http(s) URL as browsers write it (lower case, no default port), else None."""
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    default_port = 80 if parts.scheme == "http" else 443
    return f"{parts.scheme}://{host}" + ("" if port in (None, default_port) else f":{port}")


def launch_origin(params: dict[str, str]) -> str | None:
    """The visited page's origin when wordcalc was opened by the bookmarklet, else None.

    Raises HandoffRejected when the launch names no usable origin (only an http(s) origin can be
    the target of wordcalc's one "ready" message).
    """
    if params.get("from") != LAUNCH_PARAM:
        return None
    claimed = params.get("origin", "")
    origin = _http_origin(claimed)
    if origin is None or origin != claimed:
        raise HandoffRejected("wordcalc was opened by the bookmarklet without a valid page origin.")
    return origin


def ready_message() -> dict[str, object]:
    return {"type": READY_TYPE, "version": PROTOCOL_VERSION}


def _text_field(payload: dict, name: str, max_chars: int) -> str:
    value = payload[name]
    if not isinstance(value, str):
        raise HandoffRejected(f"the page's {name} is not text")
    if len(value) > max_chars:
        raise HandoffRejected(f"the page's {name} is longer than {max_chars:,} characters")
    return value


def parse_handoff(payload: object, sender_origin: str) -> Handoff:
    """Check a message from the page that opened wordcalc; only an exact, in-bounds shape passes."""
    if not isinstance(payload, dict) or set(payload) != _FIELDS:
        raise HandoffRejected("the message does not have the bookmarklet's shape")
    if payload["type"] != DOCUMENT_TYPE:
        raise HandoffRejected("the message is not a document")
    version = payload["version"]
    if type(version) not in (int, float) or version != PROTOCOL_VERSION:
        raise HandoffRejected("the bookmarklet is from another wordcalc version: drag the link again")
    title = " ".join(_text_field(payload, "title", MAX_TITLE_CHARS).split())
    url = _text_field(payload, "url", MAX_URL_CHARS)
    text = _text_field(payload, "text", MAX_TEXT_CHARS)
    if _http_origin(url) != sender_origin:
        raise HandoffRejected("the page's address does not belong to the page that sent it")
    if not text.strip():
        raise HandoffRejected("the page had no text to summarize")
    return Handoff(title=title or url, url=url, text=text)
