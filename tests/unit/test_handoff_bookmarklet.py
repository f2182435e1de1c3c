"""The bookmarklet as the build writes it: every protocol constant filled in, valid JavaScript."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import bookmarklet  # build/ is on sys.path (conftest)
import pytest

from pyapp.documents import handoff


def test_template_carries_the_protocol_constants_and_leaves_only_the_app_open() -> None:
    code = unquote(bookmarklet.template().removeprefix("javascript:"))
    assert handoff.APP_URL_PLACEHOLDER in code
    for value in (handoff.READY_TYPE, handoff.DOCUMENT_TYPE, str(handoff.MAX_TEXT_CHARS)):
        assert value in code
    assert "__" not in code.replace(handoff.APP_URL_PLACEHOLDER, "")
    assert "//" not in code.replace("://", "")  # comments are dropped


@pytest.mark.skipif(not shutil.which("node"), reason="needs node")
def test_filled_in_bookmarklet_is_valid_javascript(tmp_path: Path) -> None:
    href = handoff.bookmarklet_href(bookmarklet.template(), "https://u.github.io/wordcalc/")
    script = tmp_path / "bookmarklet.js"
    script.write_text(unquote(href.removeprefix("javascript:")))
    subprocess.run(["node", "--check", str(script)], check=True)
