"""The workspace on disk: documents and the results computed from them, one JSON file each.

In the browser the folder is an IndexedDB-backed mount (Pyodide's IDBFS, synced by the UI after
each change), so plain file code persists across reloads; under CPython it is any folder. A
document is written before any model work on it starts, so a crashed tab loses at most the answer
being generated. Corrupt files are skipped with a note, never fatal: one bad record must not lock
the user out of the rest.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path

SCHEMA_VERSION = 1


@dataclass
class StoredResult:
    operation: str  # "summarize" | "extract" | "ask" | "custom"
    request: str  # what was asked: length, fields, question or instruction
    output: str  # the text shown (Markdown export reuses it)
    created: float = field(default_factory=time.time)
    data: dict = field(default_factory=dict)  # structured result: facts, citations, ...


@dataclass
class StoredDocument:
    id: str
    title: str
    text: str
    source: str = "paste"  # "paste" | "file:<name>" | "bookmarklet:<url>"
    n_tokens: int | None = None  # with the model loaded when it was saved
    created: float = field(default_factory=time.time)
    updated: float = field(default_factory=time.time)
    results: list[StoredResult] = field(default_factory=list)

    @staticmethod
    def new(title: str, text: str, source: str = "paste") -> StoredDocument:
        return StoredDocument(id=uuid.uuid4().hex[:12], title=title, text=text, source=source)


class Workspace:
    """All documents in one folder. Writes are atomic (temp file + rename)."""

    def __init__(self, folder: Path | str) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.skipped: list[str] = []

    def _path(self, doc_id: str) -> Path:
        if not doc_id.isalnum():
            raise ValueError(f"bad document id {doc_id!r}")
        return self.folder / f"{doc_id}.json"

    def save(self, doc: StoredDocument) -> None:
        doc.updated = time.time()
        record = {"schema": SCHEMA_VERSION, **asdict(doc)}
        tmp = self._path(doc.id).with_suffix(".tmp")
        tmp.write_text(json.dumps(record, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, self._path(doc.id))

    def load_all(self) -> list[StoredDocument]:
        """Every readable document, most recently updated first."""
        self.skipped = []
        docs = []
        for path in self.folder.glob("*.json"):
            try:
                record = json.loads(path.read_text(encoding="utf-8"))
                record.pop("schema", None)
                results = [StoredResult(**r) for r in record.pop("results", [])]
                docs.append(StoredDocument(**record, results=results))
            except (ValueError, TypeError, OSError):
                self.skipped.append(path.name)
        return sorted(docs, key=lambda d: d.updated, reverse=True)

    def delete(self, doc_id: str) -> None:
        self._path(doc_id).unlink(missing_ok=True)

    def wipe(self) -> None:
        for path in [*self.folder.glob("*.json"), *self.folder.glob("*.tmp")]:
            path.unlink()
