"""The tokenizer on the embedded SmolLM2 model, its streaming decoder, its errors, and arbitrary input."""

from __future__ import annotations

from pathlib import Path

import jinja2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydoc_data.topics import topics

from pyapp.model.gguf import GGUFHeader, GGUFTruncated, read_header
from pyapp.model.tokenizer import StreamDecoder, Tokenizer, TokenizerError
from tests.fixtures.llama_vocab import load_tokenizer

MODEL = Path(__file__).resolve().parents[2] / "dist" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"

SAMPLES = [
    "Hello world",
    "  leading and trailing spaces  ",
    "Tabs\tand\r\nWindows line ends\n\n\nand blank lines",
    "Numbers: 3.14159, 1,000,000 and 2026-11-25 at 16:55 UTC.",
    "I'm sure they'll say it's fine; we've done what we'd planned. DON'T SHOUT'LL",
    "Zürich, Kraków, São Paulo, Reykjavík — naïve café résumé",
    "Ελληνικά, русский язык, العربية, עברית, हिन्दी, ภาษาไทย",
    "中文字符和日本語のテキスト、한국어 텍스트",
    "Emoji 🌍❄️👩‍👩‍👧 and flags 🇩🇪🇫🇷",
    "def f(x):\n    return {'a': [1, 2, 3]}  # code\n",
    "null\x00byte and control \x07\x1b[0m characters",
    "\u00a0non-breaking\u2003em space\u3000ideographic space",
    "<|im_start|> written as text, not parsed",
]


def read_model_header(path: Path) -> GGUFHeader:
    """Read only as much of the file as the header needs, as the browser does."""
    size = 4 << 20
    while True:
        with path.open("rb") as f:
            prefix = f.read(size)
        try:
            return read_header(prefix)
        except GGUFTruncated as short:
            size = max(short.needed, size * 2)


@pytest.fixture(scope="module")
def header() -> GGUFHeader:
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run `python3 build/make.py build`")
    return read_model_header(MODEL)


@pytest.fixture(scope="module")
def smol(header: GGUFHeader) -> Tokenizer:
    return Tokenizer.from_gguf(header)


@pytest.fixture(scope="module")
def spm() -> Tokenizer:
    return load_tokenizer("llama-spm")


@pytest.fixture(scope="module")
def gemma4() -> Tokenizer:
    return load_tokenizer("gemma-4")  # BPE over UTF-8 with "<0xXX>" byte tokens


def test_known_facts_about_smollm2(smol: Tokenizer) -> None:
    assert smol.vocab_size == 49152
    assert (smol.bos_id, smol.eos_id) == (1, 2)
    assert smol.encode("<|im_start|>", parse_special=True) == [1]
    assert smol.encode("<|im_end|>", parse_special=True) == [2]
    # <|endoftext|>, <|im_end|> (eos), and <reponame>, which llama.cpp takes for a FIM token.
    assert smol.eog_ids == frozenset({0, 2, 4})
    assert smol.token_bytes(1) == b"<|im_start|>"
    assert smol.token_bytes(smol.encode("Hello")[0]) == b"Hello"


def test_smollm2_adds_no_bos(smol: Tokenizer) -> None:
    # tokenizer.ggml.add_bos_token is false in this GGUF.
    assert smol.encode("Hello world") == smol.encode("Hello world", add_special=False)


@pytest.mark.parametrize("text", SAMPLES)
def test_round_trip_on_varied_text(smol: Tokenizer, text: str) -> None:
    ids = smol.encode(text)
    assert smol.decode(ids) == text
    assert smol.count(text) == len(ids)
    assert all(0 <= i < smol.vocab_size for i in ids)


def test_round_trip_on_long_english_prose(smol: Tokenizer) -> None:
    text = "\n\n".join(topics[name] for name in sorted(topics)[:40])
    ids = smol.encode(text)
    assert smol.decode(ids) == text
    assert len(text) / len(ids) > 3  # English packs several characters per token


def test_special_texts_are_plain_text_unless_parsed(smol: Tokenizer) -> None:
    as_text = smol.encode("<|im_start|>user")
    assert 1 not in as_text and smol.decode(as_text) == "<|im_start|>user"
    assert smol.encode("<|im_start|>user", parse_special=True)[0] == 1


def test_chat_template_tokens(smol: Tokenizer, header: GGUFHeader) -> None:
    template = jinja2.Environment().from_string(header.metadata["tokenizer.chat_template"])
    messages = [{"role": "user", "content": "Summarize: glaciers are melting."},
                {"role": "assistant", "content": "Glaciers melt."},
                {"role": "user", "content": "Why?"}]
    prompt = template.render(messages=messages, add_generation_prompt=True)
    ids = smol.encode(prompt, parse_special=True)
    # The template adds a system turn, then one turn per message, then the assistant's opening.
    assert ids.count(1) == len(messages) + 2
    assert ids.count(2) == len(messages) + 1
    assert ids[0] == 1 and smol.decode(ids[1:3]) == "system\n"
    assert smol.decode(ids) == prompt
    assert "<|im_start|>" not in smol.decode(ids, skip_special=True)
    last_turn = len(ids) - 1 - ids[::-1].index(1)
    assert smol.decode(ids[last_turn:]) == "<|im_start|>assistant\n"


def test_decode_skips_special_tokens_on_request(smol: Tokenizer) -> None:
    ids = smol.encode("<|im_start|>Hi<|im_end|>", parse_special=True)
    assert smol.decode(ids, skip_special=True) == "Hi"
    assert smol.decode(ids) == "<|im_start|>Hi<|im_end|>"


def test_decode_accepts_numpy_ids_and_rejects_unknown_ones(smol: Tokenizer) -> None:
    ids = np.array(smol.encode("numpy ids"), dtype=np.int64)
    assert smol.decode(ids) == "numpy ids"
    with pytest.raises(TokenizerError, match="outside the vocabulary"):
        smol.decode([smol.vocab_size])
    with pytest.raises(TokenizerError, match="outside the vocabulary"):
        smol.token_bytes(-1)


def test_stream_decoder_holds_back_split_characters(smol: Tokenizer) -> None:
    text = "Snow ❄️ and 🌍 in Zürich"
    ids = smol.encode(text)
    stream = StreamDecoder(smol)
    pieces = [stream.feed(i) for i in ids]
    pieces.append(stream.flush())
    assert "".join(pieces) == text
    assert "" in pieces[:-1]  # some emoji bytes span tokens and were held back
    assert not any("\ufffd" in p for p in pieces)


def test_stream_decoder_skips_special_tokens_on_request(smol: Tokenizer) -> None:
    stream = StreamDecoder(smol, skip_special=True)
    ids = smol.encode("Done.<|im_end|>", parse_special=True)
    assert "".join(stream.feed(i) for i in ids) + stream.flush() == "Done."


def test_sentencepiece_decode_drops_the_added_space(spm: Tokenizer) -> None:
    ids = spm.encode("Hello world", add_special=False)
    assert spm.token_bytes(ids[0]) == b" Hello"
    assert spm.decode(ids) == "Hello world"
    stream = StreamDecoder(spm)
    assert "".join(stream.feed(i) for i in ids) == " Hello world"  # streaming keeps pieces as they are


any_text = st.one_of(
    st.text(st.characters(exclude_categories=())),  # any code point, lone surrogates included
    st.binary().map(lambda raw: raw.decode("utf-8", "surrogateescape")),
    st.lists(st.sampled_from(["<|im_start|>", "<|im_end|>", "<s>", "</s>", " ", "\x00", "\udcff", "é", "▁"]))
    .map("".join),
)


@settings(max_examples=300, deadline=None)
@given(text=any_text, add_special=st.booleans(), parse_special=st.booleans())
def test_never_crashes_on_arbitrary_text(smol: Tokenizer, spm: Tokenizer, gemma4: Tokenizer, text: str,
                                         add_special: bool, parse_special: bool) -> None:
    for tok in (smol, spm, gemma4):
        ids = tok.encode(text, add_special=add_special, parse_special=parse_special)
        assert all(0 <= i < tok.vocab_size for i in ids)
        decoded = tok.decode(ids, skip_special=parse_special)
        stream = StreamDecoder(tok, skip_special=parse_special)
        streamed = "".join(stream.feed(i) for i in ids) + stream.flush()
        if tok is smol:  # no space cleanup or dropped first space: both must agree
            assert streamed == decoded


def test_bytes_without_a_token_are_dropped_as_llama_cpp_does(smol: Tokenizer) -> None:
    # SmolLM2 has no token for a few bytes, e.g. 0x1D and 0xF1 (which starts U+40000..U+7FFFF).
    assert smol.encode("a\x1db") == smol.encode("a") + smol.encode("b")
    assert smol.decode(smol.encode("x\U00050000y")) == "x\ufffd\ufffd\ufffdy"


def test_lone_surrogates_stand_for_the_bytes_llama_cpp_would_see(smol: Tokenizer, spm: Tokenizer) -> None:
    assert smol.encode("\udcc3\udca9") == smol.encode("é")  # escaped bytes of valid UTF-8
    assert smol.encode("a\udcffb") == smol.encode("a\ufffdb")  # BPE reads invalid UTF-8 as U+FFFD
    assert spm.token_bytes(spm.encode("\udcff", add_special=False)[-1]) == b"\xff"  # SPM keeps the byte


# Characters all of whose UTF-8 bytes have a token in SmolLM2's vocabulary.
SMOL_ENCODABLE = st.characters(
    max_codepoint=0x3FFFF, exclude_categories=("Cs",), exclude_characters="\x04\x06\x13\x14\x16\x1d"
)


@settings(max_examples=300, deadline=None)
@given(text=st.text(SMOL_ENCODABLE))
def test_byte_level_bpe_round_trips_valid_text(smol: Tokenizer, text: str) -> None:
    ids = smol.encode(text)
    assert smol.decode(ids) == text
    stream = StreamDecoder(smol)
    assert "".join(stream.feed(i) for i in ids) + stream.flush() == text


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.characters(exclude_categories=("Cs",), exclude_characters="\u2581")))
def test_sentencepiece_round_trips_valid_text(spm: Tokenizer, text: str) -> None:
    # "▁" stands for a space inside SentencePiece tokens, so it cannot come back as itself.
    assert spm.decode(spm.encode(text, add_special=False)) == text


def metadata(**changes: object) -> dict:
    base = {
        "tokenizer.ggml.model": "gpt2",
        "tokenizer.ggml.pre": "gpt-2",
        "tokenizer.ggml.tokens": ["a", "b", "ab"],
        "tokenizer.ggml.merges": ["a b"],
        "tokenizer.ggml.bos_token_id": 0,
        "tokenizer.ggml.eos_token_id": 0,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def test_a_tiny_valid_vocabulary_works() -> None:
    tok = Tokenizer.from_gguf(GGUFHeader(version=3, metadata=metadata()))
    assert tok.encode("abab") == [2, 2]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"tokenizer.ggml.model": None}, "has no tokenizer"),
        ({"tokenizer.ggml.model": "bert"}, "'bert' is not supported"),
        ({"tokenizer.ggml.tokens": None}, "no tokenizer.ggml.tokens"),
        ({"tokenizer.ggml.tokens": []}, "vocabulary is empty"),
        ({"tokenizer.ggml.tokens": ["a", 7]}, "array of strings"),
        ({"tokenizer.ggml.tokens": ["a", "a"]}, "same token text twice"),
        ({"tokenizer.ggml.merges": None}, "no tokenizer.ggml.merges"),
        ({"tokenizer.ggml.pre": "klingon"}, "'klingon' .* not supported"),
        ({"tokenizer.ggml.token_type": [1]}, "1 entries for 3 tokens"),
        ({"tokenizer.ggml.token_type": ["x", "y", "z"]}, "array of numbers"),
        ({"tokenizer.ggml.add_bos_token": "yes"}, "must be a boolean"),
        ({"tokenizer.ggml.bos_token_id": None, "tokenizer.ggml.add_bos_token": True}, "asks for a BOS"),
        ({"tokenizer.ggml.model": "llama", "tokenizer.ggml.scores": [0.0]}, "1 entries for 3 tokens"),
    ],
)
def test_bad_vocabulary_metadata_is_refused_clearly(changes: dict, message: str) -> None:
    with pytest.raises(TokenizerError, match=message):
        Tokenizer.from_gguf(GGUFHeader(version=3, metadata=metadata(**changes)))
