"""What the Model panel knows and says about stored models: checksums, names, sizes, notes."""

from __future__ import annotations

import pytest

from pyapp.model.stored import ChecksumError, StorageEstimate, StoredModel, model_name, split_sha256
from pyapp.ui.stored_text import not_stored_note, size_label, storage_line, store_progress_label

HF = "https://huggingface.co/Qwen/Qwen2.5-0.5B-Instruct-GGUF/resolve/main/qwen2.5-0.5b-instruct-q4_k_m.gguf"
DIGEST = "ab" * 32


def test_the_checksum_comes_from_the_url_fragment_and_leaves_the_url() -> None:
    assert split_sha256(f"{HF}#sha256={DIGEST.upper()}", "") == (HF, DIGEST)


def test_a_typed_checksum_is_used_and_may_repeat_the_fragment() -> None:
    assert split_sha256(HF, f"  {DIGEST}\n") == (HF, DIGEST)
    assert split_sha256(f"{HF}#sha256={DIGEST}", DIGEST) == (HF, DIGEST)


def test_no_checksum_keeps_other_fragments_out_of_the_stored_url() -> None:
    assert split_sha256(f"{HF}#section", "") == (HF, None)


@pytest.mark.parametrize(("url", "typed", "message"), [
    (f"{HF}#sha256=abc", "", "in the URL must be 64 hexadecimal digits"),
    (HF, "z" * 64, "you entered must be 64 hexadecimal digits"),
    (f"{HF}#sha256={DIGEST}", "cd" * 32, "different checksums"),
])
def test_unusable_checksums_are_refused(url: str, typed: str, message: str) -> None:
    with pytest.raises(ChecksumError, match=message):
        split_sha256(url, typed)


def test_model_name_is_the_decoded_file_name() -> None:
    assert model_name(HF) == "qwen2.5-0.5b-instruct-q4_k_m.gguf"
    assert model_name("http://127.0.0.1:8000/downloads/my%20model.gguf?download=true") == "my model.gguf"


def test_sizes_of_complete_and_incomplete_models() -> None:
    assert size_label(StoredModel(HF, 98_362_432, 98_362_432, None, True)) == "98.4 MB"
    assert size_label(StoredModel(HF, 98_362_432, 40_000_000, None, False)) == (
        "40.0 MB of 98.4 MB, incomplete: load it to resume")
    assert size_label(StoredModel(HF, None, 0, None, False)) == "0.0 MB, incomplete: load it to resume"


def test_storage_line_sums_the_models_and_warns_when_not_persistent() -> None:
    models = [StoredModel(HF, 100_000_000, 100_000_000, None, True), StoredModel("x", None, 5_000_000, None, False)]
    line = storage_line(StorageEstimate(usage=260_000_000, quota=2_000_000_000, persisted=False), models)
    assert line == ("Models stored here: 105.0 MB · this site uses 260.0 MB of the 2000.0 MB the browser allows"
                    " · the browser may clear them when space runs low")
    assert "may clear" not in storage_line(StorageEstimate(1, 2, persisted=True), [])


def test_store_phases_have_words_and_others_are_left_alone() -> None:
    assert store_progress_label("resume", 40_000_000, 98_362_432) == "Resuming the download at 40.0 MB of 98.4 MB…"
    assert store_progress_label("verify", 16_777_216, 98_362_432) == "Checking the SHA-256: 16.8 MB of 98.4 MB…"
    assert store_progress_label("stored", 1, 1) == "Using the copy stored in this browser…"
    assert store_progress_label("download", 1, 2) is None


def test_a_model_that_was_not_stored_says_why() -> None:
    assert not_stored_note(None) == ""
    note = not_stored_note("quota")
    assert "not stored" in note and "no room left" in note and "downloaded again next time" in note
