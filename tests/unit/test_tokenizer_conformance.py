"""The tokenizer against llama.cpp's own conformance vectors (tests/test-tokenizer-0 data).

Every vocabulary that ships with vectors is either supported (and must match every vector) or
listed in UNSUPPORTED with the reason, so a newer llama.cpp snapshot cannot add one silently.
"""

from __future__ import annotations

import unicodedata

import pytest

from pyapp.model import tokenizer as tokenizer_module
from pyapp.model.gguf import read_header
from pyapp.model.pretokenize import char_class
from pyapp.model.tokenizer import Tokenizer, TokenizerError
from tests.fixtures.llama_vocab import load_tokenizer, names_with_vectors, read_vectors, unicode_tables, vocab_path

BPE = ["gpt-2", "mpt", "starcoder", "refact", "command-r", "falcon", "llama-bpe", "qwen2", "qwen35",
       "deepseek-coder", "deepseek-llm", "gemma-4"]
SPM = ["llama-spm", "phi-3"]
UNSUPPORTED = {
    "bert-bge": "WordPiece ('bert'): an embedding model's tokenizer, not a chat model's",
}
# Vocabularies whose detokenizer does not clean spaces, so decoding the vectors gives the input.
LOSSLESS = ["llama-spm", "phi-3", "qwen2", "qwen35", "command-r", "deepseek-coder", "deepseek-llm"]


@pytest.fixture(scope="module")
def tokenizers() -> dict[str, Tokenizer]:
    return {}


def cached(tokenizers: dict[str, Tokenizer], name: str) -> Tokenizer:
    if name not in tokenizers:
        tokenizers[name] = load_tokenizer(name)
    return tokenizers[name]


def test_every_vocabulary_with_vectors_is_accounted_for() -> None:
    assert sorted([*BPE, *SPM, *UNSUPPORTED]) == names_with_vectors()


@pytest.mark.parametrize("name", BPE + SPM)
def test_matches_every_llama_cpp_vector(name: str, tokenizers: dict[str, Tokenizer]) -> None:
    tok = cached(tokenizers, name)
    vectors = read_vectors(name)
    assert len(vectors) >= 40
    mismatches = [(text, got, ids) for text, ids in vectors if (got := tok.encode(text, add_special=False)) != ids]
    assert mismatches == []


@pytest.mark.parametrize("name", ["gpt-2", "llama-spm", "gemma-4"])
def test_heap_merging_of_long_words_matches_the_vectors_too(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokenizer_module, "_SCAN_LIMIT", 0)  # every word takes the long-word path
    tok = load_tokenizer(name)
    assert [tok.encode(text, add_special=False) for text, _ in read_vectors(name)] == [
        ids for _, ids in read_vectors(name)]


@pytest.mark.parametrize("name", LOSSLESS)
def test_decoding_the_vectors_gives_the_inputs(name: str, tokenizers: dict[str, Tokenizer]) -> None:
    tok = cached(tokenizers, name)
    for text, ids in read_vectors(name):
        assert tok.decode(ids) == text


@pytest.mark.parametrize("name", sorted(UNSUPPORTED))
def test_unsupported_vocabularies_are_refused_clearly(name: str) -> None:
    with pytest.raises(TokenizerError, match="not supported"):
        Tokenizer.from_gguf(read_header(vocab_path(name).read_bytes()))


def test_detokenizer_cleans_spaces_like_llama_cpp(tokenizers: dict[str, Tokenizer]) -> None:
    # GPT-2's vocabulary asks for clean_up_tokenization_spaces; llama_detokenize's three passes.
    tok = cached(tokenizers, "gpt-2")

    def round_trip(text: str) -> str:
        return tok.decode(tok.encode(text, add_special=False))

    assert round_trip("Hello , world ! Really ? Yes .") == "Hello, world! Really? Yes."
    assert round_trip("a ' b") == "a'b"
    assert round_trip("it 's he 'm we 're they 've") == "it's he'm we're they've"
    assert round_trip("do n 't I 'd we 'll") == "do n 't I 'd we 'll"


def test_special_ids_and_flags_follow_llama_cpp(tokenizers: dict[str, Tokenizer]) -> None:
    spm = cached(tokenizers, "llama-spm")
    assert (spm.bos_id, spm.eos_id) == (1, 2)
    assert spm.encode("Hello")[0] == 1  # SentencePiece vocabularies add BOS by default
    assert spm.decode(spm.encode("Hello", add_special=False)) == "Hello"
    llama3 = cached(tokenizers, "llama-bpe")
    assert llama3.encode("Hi")[0] == llama3.bos_id == 128000  # the llama-bpe pre-tokenizer adds BOS
    eot = llama3.encode("<|eot_id|>", add_special=False, parse_special=True)
    assert len(eot) == 1 and eot[0] in llama3.eog_ids
    qwen = cached(tokenizers, "qwen2")
    im_end = qwen.encode("<|im_end|>", add_special=False, parse_special=True)
    assert len(im_end) == 1 and im_end[0] in qwen.eog_ids
    assert qwen.encode("Hi") == qwen.encode("Hi", add_special=False)  # Qwen2 adds no BOS


def test_phi3_special_tokens_swallow_the_whitespace_after_them(tokenizers: dict[str, Tokenizer]) -> None:
    # llama.cpp sets RSTRIP on Phi-3's special tokens (recognised by the model name).
    tok = cached(tokenizers, "phi-3")
    assert tok.encode("<|user|>\n  Hi<|end|>\n", parse_special=True) == tok.encode("<|user|>Hi<|end|>", parse_special=True)
    assert tok.encode("<|user|>\nHi", add_special=False) != tok.encode("<|user|>Hi", add_special=False)


def test_user_defined_tokens_are_split_off_even_without_parse_special(tokenizers: dict[str, Tokenizer]) -> None:
    # deepseek-coder lists single characters such as "ö" as user-defined tokens; byte-level BPE
    # alone would need two tokens for it.
    tok = cached(tokenizers, "deepseek-coder")
    ids = tok.encode("schön", add_special=False)
    assert [tok.token_bytes(i) for i in ids][-2:] == ["ö".encode(), b"n"]
    assert tok.decode(ids) == "schön"


def test_character_classes_match_llama_cpp_tables() -> None:
    ranges, whitespace = unicode_tables()
    by_flag = {0x01: "C", 0x02: "N", 0x04: "L", 0x08: "C", 0x10: "M", 0x20: "P", 0x40: "S", 0x80: "C"}
    mismatches = []
    for (start, flags), (end, _) in zip(ranges, ranges[1:]):
        for cp in range(start, end):
            expected = "W" if cp in whitespace else by_flag[flags & 0xFF]
            if char_class(cp) != expected:
                mismatches.append((hex(cp), char_class(cp), expected, unicodedata.category(chr(cp))))
    assert mismatches == []
