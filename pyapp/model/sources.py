"""Where a model may be loaded from: this site, or Hugging Face (the hosts the page's CSP allows).

The check runs before any request, so a URL the Content-Security-Policy would block gets a clear
message instead of an opaque network error.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit

ALLOWED_HOST_SUFFIXES = ("huggingface.co", "hf.co")


class ModelSourceError(ValueError):
    """The model URL cannot be used; str() says why."""


def resolve_model_url(raw: str, page_url: str) -> str:
    """An absolute URL for `raw` (relative URLs resolve against the page), or ModelSourceError."""
    text = raw.strip()
    if not text:
        raise ModelSourceError("Enter the address of a .gguf file first.")
    url = urljoin(page_url, text)
    parts = urlsplit(url)
    page = urlsplit(page_url)
    if parts.scheme not in ("http", "https"):
        raise ModelSourceError(f"Only http(s) addresses can be loaded, not {parts.scheme}:.")
    host = (parts.hostname or "").lower()
    same_origin = (parts.scheme, parts.netloc) == (page.scheme, page.netloc)
    if not same_origin and not any(host == s or host.endswith("." + s) for s in ALLOWED_HOST_SUFFIXES):
        raise ModelSourceError(
            f"wordcalc loads models only from this site or from Hugging Face, not from {host or url}."
        )
    if parts.scheme == "http" and not same_origin:
        raise ModelSourceError("Hugging Face models must be loaded over https.")
    return url
