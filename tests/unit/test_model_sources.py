"""Model URLs: only this site or Hugging Face, checked before any request."""

from __future__ import annotations

import pytest

from pyapp.model.sources import ModelSourceError, resolve_model_url

PAGE = "https://user.github.io/wordcalc/"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("models/other.gguf", "https://user.github.io/wordcalc/models/other.gguf"),
        ("https://huggingface.co/org/repo/resolve/main/m.gguf", "https://huggingface.co/org/repo/resolve/main/m.gguf"),
        (" https://cdn-lfs.hf.co/x.gguf ", "https://cdn-lfs.hf.co/x.gguf"),
    ],
)
def test_allowed_sources(raw: str, expected: str) -> None:
    assert resolve_model_url(raw, PAGE) == expected


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter the address"),
        ("https://evil.example/m.gguf", "not from evil.example"),
        ("https://huggingface.co.evil.example/m.gguf", "not from huggingface.co.evil.example"),
        ("javascript:alert(1)", "not javascript:"),
        ("http://huggingface.co/m.gguf", "over https"),
    ],
)
def test_refused_sources(raw: str, message: str) -> None:
    with pytest.raises(ModelSourceError, match=message):
        resolve_model_url(raw, PAGE)
