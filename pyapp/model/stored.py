"""Models kept in this browser (site/model-store.mjs holds the bytes): what Python knows of them.

Pure, so it runs under CPython: the expected SHA-256 of a URL, a model's name, and the records
the store lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit, urlunsplit

_SHA256 = re.compile(r"[0-9a-f]{64}")
_FRAGMENT = re.compile(r"sha256=([0-9A-Fa-f]*)")


class ChecksumError(ValueError):
    """The expected SHA-256 cannot be used; str() says why."""


@dataclass(frozen=True)
class StoredModel:
    url: str
    bytes: int | None  # the whole file's size, None while unknown
    stored_bytes: int
    sha256: str | None  # verified; None when no checksum was given
    complete: bool

    @property
    def name(self) -> str:
        return model_name(self.url)


@dataclass(frozen=True)
class StorageEstimate:
    usage: int
    quota: int
    persisted: bool


def _checked(text: str, where: str) -> str:
    digest = text.strip().lower()
    if not _SHA256.fullmatch(digest):
        raise ChecksumError(f"The SHA-256 {where} must be 64 hexadecimal digits.")
    return digest


def split_sha256(url: str, typed: str) -> tuple[str, str | None]:
    """The URL without a `#sha256=<hex>` fragment, and the expected SHA-256 (fragment or typed).

    The model is stored under the URL without its fragment, so a file is stored once whether or
    not a checksum came with it.
    """
    parts = urlsplit(url)
    from_url = None
    if match := _FRAGMENT.fullmatch(parts.fragment):
        from_url = _checked(match.group(1), "in the URL")
    typed_digest = _checked(typed, "you entered") if typed.strip() else None
    if from_url and typed_digest and from_url != typed_digest:
        raise ChecksumError("The URL and the SHA-256 field name different checksums.")
    return urlunsplit(parts._replace(fragment="")), typed_digest or from_url


def model_name(url: str) -> str:
    """The file name at the end of a model URL, as its owner wrote it."""
    path = urlsplit(url).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1]) or url
