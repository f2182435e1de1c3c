"""The workspace store: round trips, deletion, wipe, and surviving a corrupt record."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyapp.documents.store import StoredDocument, StoredResult, Workspace


def test_documents_and_results_survive_a_reopen(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    doc = StoredDocument.new("Bees", "Honeybees make honey. ☃", source="file:bees.txt")
    doc.results.append(StoredResult("summarize", "paragraph", "Bees make honey.", data={"n_chunks": 1}))
    ws.save(doc)
    other = StoredDocument.new("Other", "text")
    ws.save(other)
    loaded = Workspace(tmp_path).load_all()
    assert [d.title for d in loaded] == ["Other", "Bees"]
    bees = loaded[1]
    assert bees.text == doc.text and bees.source == "file:bees.txt"
    assert bees.results[0].output == "Bees make honey." and bees.results[0].data == {"n_chunks": 1}


def test_delete_and_wipe(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    a, b = StoredDocument.new("a", "1"), StoredDocument.new("b", "2")
    ws.save(a)
    ws.save(b)
    ws.delete(a.id)
    assert [d.id for d in ws.load_all()] == [b.id]
    ws.wipe()
    assert ws.load_all() == [] and list(tmp_path.iterdir()) == []


def test_corrupt_record_is_skipped_not_fatal(tmp_path: Path) -> None:
    ws = Workspace(tmp_path)
    ws.save(StoredDocument.new("good", "text"))
    (tmp_path / "broken.json").write_text("{not json")
    (tmp_path / "wrong.json").write_text('{"unexpected": 1}')
    docs = ws.load_all()
    assert [d.title for d in docs] == ["good"]
    assert sorted(ws.skipped) == ["broken.json", "wrong.json"]


def test_ids_cannot_escape_the_folder(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Workspace(tmp_path).delete("../../etc/passwd")
