"""The bookmarklet in the page: the "Summarize this page" link, and the inbox for what it sends.

The inbox takes one document, only from the window that opened wordcalc and only from the origin
the bookmarklet named. wordcalc sends that window exactly one message, "ready", addressed to that
origin, and reads nothing from it but the identity of message senders; after the hand-over it
drops the link (`window.opener = null`), so the visited page never sees anything of wordcalc.
"""

from __future__ import annotations

from collections.abc import Callable

from pyodide.ffi import JsProxy, create_proxy, to_js

import js
from pyapp.documents.handoff import (
    Handoff,
    HandoffRejected,
    bookmarklet_href,
    launch_origin,
    parse_handoff,
    ready_message,
)
from pyapp.ui.page import element

_same_object = getattr(js.Object, "is")  # JS Object.is; `is` is a Python keyword


def show_bookmarklet(template: str, app_url: str) -> None:
    link = element("bookmarklet")
    link.href = bookmarklet_href(template, app_url)
    link.addEventListener("click", create_proxy(_explain_drag))
    element("bookmarklet-hint").hidden = False


def _explain_drag(event) -> None:
    event.preventDefault()
    element("bookmarklet-note").textContent = (
        "It works from the bookmarks bar: drag the link there, then click it on the page to summarize."
    )


def _show_source(parts: list[tuple[str, str | None]]) -> None:
    """Fill the note above Document with (text, css class) pieces, as text nodes only."""
    note = element("document-source")
    note.replaceChildren()
    for text, css_class in parts:
        node = js.document.createElement("span")
        node.textContent = text
        if css_class:
            node.className = css_class
        note.appendChild(node)
    note.hidden = False


def _plain(data) -> object:
    """A message's data as Python: a plain JS object becomes a dict of its own top-level values."""
    if not isinstance(data, JsProxy):
        return data
    if js.Object.prototype.toString.call(data) != "[object Object]":
        return None
    return data.to_py(depth=1)


class HandoffInbox:
    """Waits for the bookmarklet's document; `ready_for_text` puts it in Document and summarizes."""

    def __init__(self, origin: str, opener) -> None:
        self._origin = origin
        self._opener = opener
        self._received: Handoff | None = None
        self._ready = False
        self._listener = create_proxy(self._on_message)
        js.window.addEventListener("message", self._listener)
        _show_source([("Waiting for the text of the page you came from…", None)])
        opener.postMessage(to_js(ready_message(), dict_converter=js.Object.fromEntries), origin)

    @classmethod
    def open(cls, params: dict[str, str]) -> HandoffInbox | None:
        """An inbox when the bookmarklet opened wordcalc (`?from=bookmarklet`), else None."""
        try:
            origin = launch_origin(params)
        except HandoffRejected as err:
            _show_source([(str(err), "untrusted")])
            return None
        if origin is None:
            return None
        if js.window.opener is None:  # not `not opener`: a window proxy with no frames is falsy
            _show_source([("The page you came from does not let wordcalc's window talk to it, so its text "
                           "could not be handed over. Copy the text and paste it into Document.", "untrusted")])
            return None
        return cls(origin, js.window.opener)

    def _on_message(self, event) -> None:
        if self._opener is None:
            return
        if not _same_object(event.source, self._opener) or event.origin != self._origin:
            js.console.info("wordcalc: ignored a message that did not come from the page that opened this window")
            return
        try:
            handoff = parse_handoff(_plain(event.data), self._origin)
        except HandoffRejected as err:
            js.console.warn(f"wordcalc: ignored the page's message: {err}")
            _show_source([(f"The page's text could not be used: {err}.", "untrusted")])
            return
        js.window.removeEventListener("message", self._listener)
        # `window.opener = None` would store undefined, which does not cut the link; only null does.
        js.Object.assign(js.window, js.JSON.parse('{"opener": null}'))
        self._opener = None
        js.history.replaceState(None, "", js.location.pathname)
        self._received = handoff
        self._deliver()

    def ready_for_text(self, keep: Callable[[Handoff], None]) -> None:
        """Called once the app works: `keep` saves the page's text as a new document (now or when it
        comes), which is then summarized."""
        self._keep = keep
        self._ready = True
        self._deliver()

    def _deliver(self) -> None:
        handoff = self._received
        if handoff is None or not self._ready:
            return
        self._received = None
        _show_source([("Untrusted web page", "untrusted"), (f" · {handoff.title} — ", None), (handoff.url, None)])
        self._keep(handoff)
        element("summarize-form").requestSubmit(element("summarize"))
