"""The bookmarklet hand-over: what wordcalc accepts from the page that opened it, and the link."""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from pyapp.documents.handoff import (
    APP_URL_PLACEHOLDER,
    DOCUMENT_TYPE,
    MAX_TEXT_CHARS,
    MAX_TITLE_CHARS,
    MAX_URL_CHARS,
    PROTOCOL_VERSION,
    READY_TYPE,
    Handoff,
    HandoffRejected,
    bookmarklet_href,
    launch_origin,
    parse_handoff,
    ready_message,
    script_url,
)

ORIGIN = "https://news.example"


def message(**changes: object) -> dict[str, object]:
    base = {"type": DOCUMENT_TYPE, "version": PROTOCOL_VERSION, "title": "  A   title ",
            "url": f"{ORIGIN}/story?id=1", "text": "Body text."}
    return {**base, **changes}


def test_a_well_formed_message_is_accepted_with_a_tidied_title() -> None:
    assert parse_handoff(message(), ORIGIN) == Handoff(title="A title", url=f"{ORIGIN}/story?id=1", text="Body text.")


def test_an_untitled_page_is_named_by_its_address() -> None:
    assert parse_handoff(message(title=""), ORIGIN).title == f"{ORIGIN}/story?id=1"


@pytest.mark.parametrize("payload", [
    None, "text", 42, [], ["a"],
    {k: v for k, v in message().items() if k != "title"},
    {**message(), "extra": 1},
])
def test_anything_but_the_exact_shape_is_rejected(payload: object) -> None:
    with pytest.raises(HandoffRejected, match="shape"):
        parse_handoff(payload, ORIGIN)


@pytest.mark.parametrize(("changes", "reason"), [
    ({"type": READY_TYPE}, "not a document"),
    ({"version": 2}, "another wordcalc version"),
    ({"version": True}, "another wordcalc version"),
    ({"version": "1"}, "another wordcalc version"),
    ({"text": 5}, "text is not text"),
    ({"title": {"a": 1}}, "title is not text"),
    ({"url": None}, "url is not text"),
    ({"text": "x" * (MAX_TEXT_CHARS + 1)}, "text is longer"),
    ({"title": "t" * (MAX_TITLE_CHARS + 1)}, "title is longer"),
    ({"url": ORIGIN + "/" + "u" * MAX_URL_CHARS}, "url is longer"),
    ({"text": " \n\t "}, "no text"),
])
def test_wrong_types_sizes_and_values_are_rejected(changes: dict, reason: str) -> None:
    with pytest.raises(HandoffRejected, match=reason):
        parse_handoff(message(**changes), ORIGIN)


@pytest.mark.parametrize("url", [
    "https://evil.example/page", "http://news.example/page", "https://news.example:8443/x",
    "javascript:alert(1)", "data:text/plain,hi", "not a url", "https://news.example:99999/",
])
def test_the_page_address_must_belong_to_the_sender(url: str) -> None:
    with pytest.raises(HandoffRejected, match="does not belong"):
        parse_handoff(message(url=url), ORIGIN)


def test_default_ports_and_case_do_not_matter_for_the_address() -> None:
    assert parse_handoff(message(url="HTTPS://News.Example:443/a"), ORIGIN).url == "HTTPS://News.Example:443/a"


def test_launch_origin_only_for_bookmarklet_launches() -> None:
    assert launch_origin({}) is None
    assert launch_origin({"from": "elsewhere", "origin": ORIGIN}) is None
    assert launch_origin({"from": "bookmarklet", "origin": "http://127.0.0.1:8123"}) == "http://127.0.0.1:8123"


@pytest.mark.parametrize("origin", ["", "null", "*", "file://", "https://a.example/path", "https://A.example",
                                    "https://a.example:443", "javascript:alert(1)"])
def test_launch_origin_must_be_an_exact_http_origin(origin: str) -> None:
    with pytest.raises(HandoffRejected, match="valid page origin"):
        launch_origin({"from": "bookmarklet", "origin": origin})


def test_ready_message_is_the_only_thing_wordcalc_sends() -> None:
    assert ready_message() == {"type": READY_TYPE, "version": PROTOCOL_VERSION}


def test_script_url_keeps_the_code_readable_and_intact() -> None:
    code = 'alert("a b%c#d")\nnext();'
    url = script_url(code)
    assert url.startswith("javascript:") and "#" not in url and " " not in url and "\n" not in url
    assert unquote(url.removeprefix("javascript:")) == code


def test_bookmarklet_href_names_the_app_as_a_js_string() -> None:
    template = script_url(f"const APP = {APP_URL_PLACEHOLDER};")
    href = bookmarklet_href(template, 'https://u.github.io/wordcalc/?q="x"')
    code = unquote(href.removeprefix("javascript:"))
    assert code == 'const APP = "https://u.github.io/wordcalc/?q=\\"x\\"";'
    with pytest.raises(ValueError):
        bookmarklet_href("javascript:void 0", "https://u.github.io/")
