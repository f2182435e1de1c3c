"""Read a GGUF file's header: metadata key/values and the tensor directory, never the weights.

The reader works on a prefix of the file (the browser hands Python only the first megabytes, the
weights go straight to the GPU). When the prefix is too short it raises `GGUFTruncated` with the
number of bytes it needs, so the caller can fetch more and retry. Every other problem with the
bytes raises `GGUFError` with a message a user can act on.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from pyapp.model.tensor_types import TensorType, tensor_type

MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
# Sanity limits: a header claiming more than this is corrupt, not large.
MAX_ITEMS = 1 << 24
MAX_STRING = 1 << 28
MAX_DIMS = 4


class GGUFError(ValueError):
    """The bytes are not a usable GGUF file."""


class GGUFTruncated(GGUFError):
    """The header continues past the bytes given; `needed` is a lower bound on the prefix length."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"GGUF header continues past the bytes read (need at least {needed} bytes)")
        self.needed = needed


_SCALARS: dict[int, str] = {
    0: "B",  # uint8
    1: "b",  # int8
    2: "H",  # uint16
    3: "h",  # int16
    4: "I",  # uint32
    5: "i",  # int32
    6: "f",  # float32
    7: "?",  # bool
    10: "Q",  # uint64
    11: "q",  # int64
    12: "d",  # float64
}
_STRING = 8
_ARRAY = 9


@dataclass(frozen=True)
class TensorInfo:
    name: str
    shape: tuple[int, ...]  # GGML order: shape[0] is the fastest-varying (row length)
    type: TensorType
    offset: int  # relative to GGUFHeader.data_offset

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def nbytes(self) -> int:
        return self.type.nbytes(self.n_elements)


@dataclass
class GGUFHeader:
    version: int
    metadata: dict[str, Any]
    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    data_offset: int = 0

    @property
    def architecture(self) -> str:
        arch = self.metadata.get("general.architecture")
        if not isinstance(arch, str):
            raise GGUFError("GGUF file names no general.architecture")
        return arch

    def arch_value(self, key: str, default: Any = None) -> Any:
        """A per-architecture key such as `context_length` (stored as `<arch>.context_length`)."""
        return self.metadata.get(f"{self.architecture}.{key}", default)


class _Cursor:
    def __init__(self, data: bytes | memoryview) -> None:
        self.view = memoryview(data)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if end > len(self.view):
            raise GGUFTruncated(end)
        chunk = self.view[self.pos:end]
        self.pos = end
        return chunk

    def scalar(self, code: str) -> Any:
        size = struct.calcsize("<" + code)
        return struct.unpack_from("<" + code, self.take(size))[0]

    def count(self, what: str) -> int:
        n = self.scalar("Q")
        if n > MAX_ITEMS:
            raise GGUFError(f"GGUF header is corrupt: {what} count {n} is implausible")
        return n

    def string(self) -> str:
        n = self.scalar("Q")
        if n > MAX_STRING:
            raise GGUFError(f"GGUF header is corrupt: string length {n} is implausible")
        raw = self.take(n)
        try:
            return str(raw, "utf-8")
        except UnicodeDecodeError:
            # llama.cpp keeps such strings as raw bytes; some vocabularies contain them.
            return str(raw, "utf-8", "surrogateescape")

    def value(self, value_type: int) -> Any:
        if value_type in _SCALARS:
            return self.scalar(_SCALARS[value_type])
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            item_type = self.scalar("I")
            n = self.count("array item")
            if item_type in _SCALARS:
                code = _SCALARS[item_type]
                size = struct.calcsize(code)
                raw = self.take(n * size)
                return list(struct.unpack_from(f"<{n}{code}", raw)) if n else []
            if item_type == _STRING:
                return [self.string() for _ in range(n)]
            raise GGUFError(f"GGUF header is corrupt: unsupported array item type {item_type}")
        raise GGUFError(f"GGUF header is corrupt: unknown value type {value_type}")


def read_header(data: bytes | memoryview) -> GGUFHeader:
    """Parse the header at the start of `data` (the whole file or a prefix of it)."""
    cur = _Cursor(data)
    if len(cur.view) < 4:
        raise GGUFTruncated(24)
    if bytes(cur.take(4)) != MAGIC:
        raise GGUFError("not a GGUF file (the first bytes are not 'GGUF')")
    version = cur.scalar("I")
    if version not in SUPPORTED_VERSIONS:
        raise GGUFError(f"GGUF version {version} is not supported (only {SUPPORTED_VERSIONS})")
    n_tensors = cur.count("tensor")
    n_kv = cur.count("metadata")

    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        metadata[key] = cur.value(cur.scalar("I"))

    header = GGUFHeader(version=version, metadata=metadata)
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.scalar("I")
        if not 1 <= n_dims <= MAX_DIMS:
            raise GGUFError(f"tensor {name!r} has {n_dims} dimensions")
        shape = tuple(cur.scalar("Q") for _ in range(n_dims))
        type_id = cur.scalar("I")
        try:
            ttype = tensor_type(type_id)
        except ValueError as err:
            raise GGUFError(f"tensor {name!r}: {err}") from None
        offset = cur.scalar("Q")
        info = TensorInfo(name=name, shape=shape, type=ttype, offset=offset)
        try:
            info.nbytes  # noqa: B018 - validates the shape against the block size
        except ValueError as err:
            raise GGUFError(f"tensor {name!r}: {err}") from None
        header.tensors[name] = info

    alignment = metadata.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise GGUFError(f"GGUF header is corrupt: alignment {alignment!r}")
    header.data_offset = -(-cur.pos // alignment) * alignment
    return header


def check_tensor_extents(header: GGUFHeader, file_size: int) -> None:
    """Raise if any tensor's bytes lie beyond the end of a file of `file_size` bytes."""
    for info in header.tensors.values():
        end = header.data_offset + info.offset + info.nbytes
        if end > file_size:
            raise GGUFError(
                f"the file is truncated: tensor {info.name!r} ends at byte {end:,} "
                f"but the file has {file_size:,} bytes"
            )
