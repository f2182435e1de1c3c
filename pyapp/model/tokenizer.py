"""Text <-> token ids for a GGUF model, id for id what llama.cpp gives.

The tokenizer is rebuilt from the vocabulary stored in the GGUF header (tokens, token types,
merges or scores, special ids and flags), so any model the user loads brings its own. Two kinds
are supported: byte-level BPE (`tokenizer.ggml.model` "gpt2": GPT-2, SmolLM2, Qwen2, Llama 3, ...)
and SentencePiece-style BPE with scores ("llama": Llama 2, Phi-3, Gemma, ...). The algorithms,
the special-token handling and even llama.cpp's quirks (which tokens end generation, how
user-defined tokens are split off, detokenizer space cleanup) follow llama.cpp's
src/llama-vocab.cpp, checked against its own conformance vectors in the tests.

Input is any Python str. Lone surrogates stand for the bytes llama.cpp would be handed: U+DC80..
U+DCFF as the raw byte they escape (Python's "surrogateescape"), other surrogates as their
3-byte encodings; llama.cpp reads invalid UTF-8 as U+FFFD (BPE) or keeps the raw bytes (SPM).
"""

from __future__ import annotations

import codecs
import heapq
import operator
import re
from collections.abc import Iterable
from typing import Any

from pyapp.model.gguf import GGUFHeader
from pyapp.model.pretokenize import PRE_TOKENIZERS, PreTokenizer, PreTokenizerSpec


class TokenizerError(ValueError):
    """The GGUF's vocabulary metadata is missing, malformed or of an unsupported kind."""


# llama.cpp token attributes (bit flags), derived from tokenizer.ggml.token_type.
_UNKNOWN = 1 << 0
_UNUSED = 1 << 1
_NORMAL = 1 << 2
_CONTROL = 1 << 3
_USER_DEFINED = 1 << 4
_BYTE = 1 << 5
_RSTRIP = 1 << 8
_ATTR_BY_TYPE = {1: _NORMAL, 2: _UNKNOWN, 3: _CONTROL, 4: _USER_DEFINED, 5: _UNUSED, 6: _BYTE}
_SPECIAL = _UNKNOWN | _CONTROL

# Token texts llama.cpp recognises by name (llama_vocab::impl::load).
_EOT_NAMES = ("<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
              "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>")
_FIM_NAMES = {
    "pre": ("<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>",
            "<|code_prefix|>", "<|prefix|>"),
    "suf": ("<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>",
            "<|code_suffix|>", "<|suffix|>"),
    "mid": ("<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>",
            "<|code_middle|>", "<|middle|>"),
    "pad": ("<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"),
    "rep": ("<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"),
    "sep": ("<|file_sep|>",),
}
_EOG_NAMES = frozenset([
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>",
    "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]",
    "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>",
    "<｜end▁of▁sentence｜>", "[e~[",
])
_ALWAYS_RENDERED = ("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>")  # gpt-oss

_SPM_SPACE = "\u2581"
_C_SPACES = b" \t\n\v\f\r"
_WORD_CACHE_LIMIT = 1 << 16


def _byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from bytes to printable characters (llama.cpp unicode_byte_to_utf8)."""
    printable = [*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


_BYTE_TO_UNICODE = _byte_to_unicode()
_UNICODE_TO_BYTE = {ch: b for b, ch in _BYTE_TO_UNICODE.items()}


def _utf8(text: str) -> bytes:
    """The bytes `text` stands for (see the module docstring for lone surrogates)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        return b"".join(
            bytes([ord(ch) - 0xDC00]) if "\udc80" <= ch <= "\udcff" else ch.encode("utf-8", "surrogatepass")
            for ch in text
        )


def _decode_like_llama(raw: bytes) -> str:
    """llama.cpp's lenient UTF-8 reader (unicode_cpts_from_utf8): a byte that does not start a
    well-formed sequence becomes U+FFFD and reading resumes at the next byte."""
    out: list[str] = []
    i, n = 0, len(raw)
    while i < n:
        lead = raw[i]
        if lead < 0x80:
            out.append(chr(lead))
            i += 1
            continue
        if not lead & 0x40:
            need = 0
        elif not lead & 0x20:
            need, cp = 1, lead & 0x1F
        elif not lead & 0x10:
            need, cp = 2, lead & 0x0F
        elif not lead & 0x08:
            need, cp = 3, lead & 0x07
        else:
            need = 0
        tail = raw[i + 1:i + 1 + need]
        if need == 0 or len(tail) < need or any(b & 0xC0 != 0x80 for b in tail):
            out.append("\ufffd")
            i += 1
            continue
        for b in tail:
            cp = (cp << 6) | (b & 0x3F)
        out.append(chr(cp) if cp <= 0x10FFFF else "\ufffd")
        i += need + 1
    return "".join(out)


def _utf8_chunks(text: str) -> list[str]:
    """Split `text` into the units llama.cpp's SPM tokenizer starts from: one per lead byte, its
    length read from that byte (unicode_len_utf8), invalid bytes kept as surrogateescape chars."""
    raw = _utf8(text)
    lengths = (1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 3, 4)
    chunks: list[str] = []
    i = 0
    while i < len(raw):
        size = lengths[raw[i] >> 4]
        chunks.append(raw[i:i + size].decode("utf-8", "surrogateescape"))
        i += size
    return chunks


class _BytePairModel:
    """Byte-level BPE (llm_tokenizer_bpe_session): pre-split, map bytes to characters, merge by rank."""

    def __init__(self, token_to_id: dict[str, int], merges: list[str], spec: PreTokenizerSpec) -> None:
        self._token_to_id = token_to_id
        # llama.cpp keys ranks by (left, right) split at the first space after position 0 and
        # keeps the first of duplicates; our symbols never contain a space, so the merge text
        # itself is an equivalent key.
        ranks: dict[str, int] = {}
        for rank, merge in enumerate(merges):
            ranks.setdefault(merge, rank)
        self._ranks = ranks
        self._pre = PreTokenizer(spec.stages)
        self._ignore_merges = spec.ignore_merges
        self._cache: dict[str, tuple[int, ...]] = {}

    def canonical(self, text: str) -> str:
        return text if _is_utf8_clean(text) else _decode_like_llama(_utf8(text))

    def tokenize(self, text: str, out: list[int]) -> None:
        cache = self._cache
        for word in self._pre.split(text):
            ids = cache.get(word)
            if ids is None:
                if len(cache) >= _WORD_CACHE_LIMIT:
                    cache.clear()
                ids = cache[word] = self._word_ids(word)
            out.extend(ids)

    def _word_ids(self, word: str) -> tuple[int, ...]:
        encoded = word.encode("utf-8", "surrogatepass").decode("latin-1").translate(_BYTE_TO_UNICODE)
        token_to_id = self._token_to_id
        if self._ignore_merges and encoded in token_to_id:
            return (token_to_id[encoded],)
        ids: list[int] = []
        for symbol in self._merge(list(encoded)):
            token = token_to_id.get(symbol)
            if token is not None:
                ids.append(token)
                continue
            # llama.cpp falls back to the single bytes of the symbol's UTF-8 and drops misses.
            for b in symbol.encode("utf-8"):
                token = token_to_id.get(bytes([b]).decode("utf-8", "surrogateescape"))
                if token is not None:
                    ids.append(token)
        return tuple(ids)

    def _merge(self, symbols: list[str]) -> list[str]:
        """Merge the lowest-ranked adjacent pair (leftmost on ties) until none has a rank."""
        n = len(symbols)
        if n < 2:
            return symbols
        ranks = self._ranks
        nxt = [*range(1, n), -1]
        prev = list(range(-1, n - 1))
        heap = []
        for i in range(n - 1):
            rank = ranks.get(symbols[i] + " " + symbols[i + 1])
            if rank is not None:
                heap.append((rank, i, i + 1, len(symbols[i]) + len(symbols[i + 1])))
        heapq.heapify(heap)
        while heap:
            _, left, right, size = heapq.heappop(heap)
            left_text, right_text = symbols[left], symbols[right]
            # Stale if either side was merged away or grew since the pair was queued.
            if not left_text or not right_text or len(left_text) + len(right_text) != size:
                continue
            merged = symbols[left] = left_text + right_text
            symbols[right] = ""
            after = nxt[left] = nxt[right]
            if after >= 0:
                prev[after] = left
                rank = ranks.get(merged + " " + symbols[after])
                if rank is not None:
                    heapq.heappush(heap, (rank, left, after, len(merged) + len(symbols[after])))
            before = prev[left]
            if before >= 0:
                rank = ranks.get(symbols[before] + " " + merged)
                if rank is not None:
                    heapq.heappush(heap, (rank, before, left, len(symbols[before]) + len(merged)))
        return [s for s in symbols if s]

    def normal_piece(self, text: str) -> bytes:
        """llama_decode_text: map characters back to bytes; unmapped ones become a visible marker."""
        try:
            return bytes(_UNICODE_TO_BYTE[ch] for ch in text)
        except KeyError:
            pass
        out = bytearray()
        for ch in text:
            if ch in _UNICODE_TO_BYTE:
                out.append(_UNICODE_TO_BYTE[ch])
            else:
                out += b"[UNK_BYTE_0x" + _utf8(ch).hex().encode() + _utf8(text) + b"]"
        return bytes(out)


class _SentencePieceModel:
    """SentencePiece-style BPE (llm_tokenizer_spm_session): merge the adjacent pair that forms the
    highest-scoring token, leftmost on ties, starting from single characters."""

    def __init__(self, token_to_id: dict[str, int], scores: list[float], unk_id: int | None) -> None:
        self._token_to_id = token_to_id
        self._scores = scores
        self._unk_id = unk_id
        # llama.cpp merges over a whole text fragment. When no token has "▁" after another
        # character, no merge can cross the start of a "▁" run, so words can be merged (and
        # cached) one by one with identical results.
        self._by_word = not any(_SPM_SPACE in t.lstrip(_SPM_SPACE) for t in token_to_id)
        self._cache: dict[str, tuple[int, ...]] = {}

    def canonical(self, text: str) -> str:
        return text if _is_utf8_clean(text) else _utf8(text).decode("utf-8", "surrogateescape")

    def tokenize(self, text: str, out: list[int]) -> None:
        if not self._by_word:
            out.extend(self._chunk_ids(text))
            return
        cache = self._cache
        for word in _SPM_WORDS.findall(text):
            ids = cache.get(word)
            if ids is None:
                if len(cache) >= _WORD_CACHE_LIMIT:
                    cache.clear()
                ids = cache[word] = self._chunk_ids(word)
            out.extend(ids)

    def _chunk_ids(self, text: str) -> tuple[int, ...]:
        symbols = list(text) if _is_utf8_clean(text) else _utf8_chunks(text)
        ids: list[int] = []
        token_to_id = self._token_to_id
        for symbol in self._merge(symbols):
            token = token_to_id.get(symbol)
            if token is not None:
                ids.append(token)
            else:
                ids.extend(self._byte_ids(symbol))
        return tuple(ids)

    def _merge(self, symbols: list[str]) -> list[str]:
        n = len(symbols)
        if n < 2:
            return symbols
        token_to_id, scores = self._token_to_id, self._scores
        nxt = [*range(1, n), -1]
        prev = list(range(-1, n - 1))
        heap = []

        def push(left: int, right: int) -> None:
            token = token_to_id.get(symbols[left] + symbols[right])
            if token is not None:
                heapq.heappush(heap, (-scores[token], left, right, len(symbols[left]) + len(symbols[right])))

        for i in range(n - 1):
            push(i, i + 1)
        while heap:
            _, left, right, size = heapq.heappop(heap)
            left_text, right_text = symbols[left], symbols[right]
            if not left_text or not right_text or len(left_text) + len(right_text) != size:
                continue
            symbols[left] = left_text + right_text
            symbols[right] = ""
            after = nxt[left] = nxt[right]
            if after >= 0:
                prev[after] = left
            if prev[left] >= 0:
                push(prev[left], left)
            if after >= 0:
                push(left, after)
        return [s for s in symbols if s]

    def _byte_ids(self, symbol: str) -> list[int]:
        """byte_to_token for each byte: "<0xXX>", else the byte as a one-character token. Where
        llama.cpp would abort (neither exists) we use the unknown token, or drop the byte."""
        ids = []
        for b in _utf8(symbol):
            token = self._token_to_id.get(f"<0x{b:02X}>")
            if token is None:
                token = self._token_to_id.get(bytes([b]).decode("utf-8", "surrogateescape"), self._unk_id)
            if token is not None:
                ids.append(token)
        return ids

    @staticmethod
    def normal_piece(text: str) -> bytes:
        return _utf8(text.replace(_SPM_SPACE, " "))


_SPM_WORDS = re.compile(f"{_SPM_SPACE}+[^{_SPM_SPACE}]*|[^{_SPM_SPACE}]+")


def _is_utf8_clean(text: str) -> bool:
    """True when `text` has no lone surrogates, so it is exactly the UTF-8 llama.cpp would read."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class Tokenizer:
    """A GGUF model's tokenizer; build it with `Tokenizer.from_gguf(header)`."""

    def __init__(
        self,
        *,
        tokens: list[str],
        attrs: list[int],
        model: _BytePairModel | _SentencePieceModel,
        special_ids: dict[str, int | None],
        eog_ids: frozenset[int],
        add_bos: bool,
        add_eos: bool,
        add_space_prefix: bool,
        clean_spaces: bool,
    ) -> None:
        self._tokens = tokens
        self._attrs = attrs
        self._model = model
        self._is_spm = isinstance(model, _SentencePieceModel)
        self._special_ids = special_ids
        self._eog_ids = eog_ids
        self._add_bos = add_bos
        self._add_eos = add_eos
        self._add_space_prefix = add_space_prefix
        self._clean_spaces = clean_spaces
        self._pieces: list[bytes | None] = [None] * len(tokens)
        # tokenizer_st_partition's order: longest text first (ties by id: llama.cpp's sort is unstable).
        specials = sorted(
            (i for i, a in enumerate(attrs) if a & (_CONTROL | _USER_DEFINED | _UNKNOWN)),
            key=lambda i: -len(_utf8(tokens[i])),
        )
        self._split_always = [(i, tokens[i], attrs[i] & _RSTRIP) for i in specials if not attrs[i] & _SPECIAL]
        self._split_parsed = [(i, tokens[i], attrs[i] & _RSTRIP) for i in specials]

    @classmethod
    def from_gguf(cls, header: GGUFHeader) -> Tokenizer:
        """Build the tokenizer from a GGUF header's tokenizer.ggml.* metadata."""
        return _build(header.metadata)

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    @property
    def bos_id(self) -> int | None:
        return self._special_ids["bos"]

    @property
    def eos_id(self) -> int | None:
        return self._special_ids["eos"]

    @property
    def eog_ids(self) -> frozenset[int]:
        """Ids that end generation (llama_vocab_is_eog): eos, eot, <|im_end|>, <|endoftext|>, ..."""
        return self._eog_ids

    def encode(self, text: str, add_special: bool = True, parse_special: bool = False) -> list[int]:
        """Token ids for `text`, as llama_tokenize(text, add_special, parse_special) returns them.

        add_special adds BOS/EOS where the model asks for them; parse_special turns control-token
        texts written in `text` (such as "<|im_start|>") into those tokens. User-defined tokens
        are always split off, as in llama.cpp.
        """
        out: list[int] = []
        if add_special and self._add_bos:
            out.append(self._special_ids["bos"])
        model = self._model
        is_prev_special = True
        for fragment in self._partition(model.canonical(text), parse_special) if text else ():
            if isinstance(fragment, int):
                out.append(fragment)
                is_prev_special = True
            elif self._is_spm:
                if self._add_space_prefix and is_prev_special:
                    fragment = " " + fragment
                model.tokenize(fragment.replace(" ", _SPM_SPACE), out)
                is_prev_special = False
            else:
                model.tokenize(fragment, out)
        if add_special and self._add_eos:
            out.append(self._special_ids["eos"])
        return out

    def count(self, text: str) -> int:
        """How many tokens `text` adds to a prompt (no BOS/EOS, special texts read as text)."""
        return len(self.encode(text, add_special=False))

    def _partition(self, text: str, parse_special: bool) -> list[str | int]:
        """tokenizer_st_partition: split special-token texts out of `text`, one token at a time."""
        fragments: list[str | int] = [text]
        for token, piece, rstrip in self._split_parsed if parse_special else self._split_always:
            if not any(isinstance(f, str) and piece in f for f in fragments):
                continue
            split: list[str | int] = []
            for fragment in fragments:
                if isinstance(fragment, int) or piece not in fragment:
                    split.append(fragment)
                    continue
                rest = fragment
                while True:
                    at = rest.find(piece)
                    if at < 0:
                        split.append(rest)
                        break
                    if at > 0:
                        split.append(rest[:at])
                    split.append(token)
                    rest = rest[at + len(piece):]
                    if rstrip:
                        rest = rest.lstrip(" \t\n\v\f\r")
                    if not rest:
                        break
            fragments = split
        return fragments

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes token `token_id` stands for; control tokens give their text."""
        return self._piece(token_id, special=True)

    def decode(self, ids: Iterable[int], skip_special: bool = False) -> str:
        """Text for `ids` as llama_detokenize gives it (skip_special leaves out control tokens).

        Like llama.cpp this drops the space SentencePiece models put before the first word and,
        where the vocabulary asks for it, the spaces before punctuation.
        """
        out = bytearray()
        remove_space = self._add_space_prefix
        for token_id in ids:
            piece = self._piece(token_id, special=not skip_special)
            if remove_space and piece.startswith(b" "):
                piece = piece[1:]
            remove_space = False
            out += piece
        if self._clean_spaces:
            out = _clean_spaces(out)
        return out.decode("utf-8", "replace")

    def _piece(self, token_id: int, special: bool) -> bytes:
        """token_to_piece (no lstrip)."""
        try:
            token_id = operator.index(token_id)
        except TypeError:
            raise TokenizerError(f"token id {token_id!r} is not an integer") from None
        if not 0 <= token_id < len(self._tokens):
            raise TokenizerError(f"token id {token_id!r} is outside the vocabulary (0..{len(self._tokens) - 1})")
        attr = self._attrs[token_id]
        if not special and attr & _SPECIAL:
            return b""
        piece = self._pieces[token_id]
        if piece is None:
            piece = self._pieces[token_id] = self._render(token_id)
        return piece

    def _render(self, token_id: int) -> bytes:
        text, attr = self._tokens[token_id], self._attrs[token_id]
        if attr & (_SPECIAL | _USER_DEFINED):
            return _utf8(text)
        if attr & _NORMAL:
            return self._model.normal_piece(text)
        if attr & _BYTE:
            return bytes([_parse_hex_byte(text)])
        return b""


def _parse_hex_byte(text: str) -> int:
    """strtol(text[3:5], 16) for "<0xXX>" byte tokens; like strtol, reads the hex prefix only."""
    digits = re.match(r"[0-9a-fA-F]*", text[3:5]).group()
    return int(digits, 16) if digits else 0


class StreamDecoder:
    """Decodes generated ids one at a time, holding back bytes of an unfinished UTF-8 character.

    Byte-level vocabularies split characters across tokens; feeding a token returns only the text
    that is complete so far (invalid bytes come out as U+FFFD rather than stalling the stream).
    """

    def __init__(self, tokenizer: Tokenizer, skip_special: bool = False) -> None:
        self._tokenizer = tokenizer
        self._special = not skip_special
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, token_id: int) -> str:
        return self._decoder.decode(self._tokenizer._piece(token_id, self._special))

    def flush(self) -> str:
        """Whatever is still held back, with an unfinished character shown as U+FFFD."""
        return self._decoder.decode(b"", final=True)


def _clean_spaces(text: bytearray) -> bytearray:
    """llama_detokenize's clean_spaces passes, transcribed with their in-place quirks."""
    total = len(text)
    # " ?", " !", " .", " ,": drop the space
    n, total = total, 1 if total else 0
    for i in range(1, n):
        x = text[i]
        if text[i - 1] == 0x20 and x in b"?!.,":
            total -= 1
        text[total] = x
        total += 1
    # " ' ": drop both spaces around a lone apostrophe
    n, total = total, 1 if total else 0
    i = 1
    while i < n:
        x = text[i]
        if x == 0x27 and i + 1 < n and text[i - 1] == 0x20 and text[i + 1] == 0x20:
            total -= 1
            i += 1
            text[i] = 0
        text[total] = x
        total += 1
        i += 1
    # " 's", " 'm", " 're", " 've": drop the space
    n, total = total, 1 if total else 0
    for i in range(1, n):
        x = text[i]
        if text[i - 1] == 0x20 and x == 0x27 and i + 1 < n:
            x1 = text[i + 1]
            if x1 in b"sm" or (i + 2 < n and (x1, text[i + 2]) in ((0x72, 0x65), (0x76, 0x65))):
                total -= 1
        text[total] = x
        total += 1
    del text[total:]
    return text


def _build(md: dict[str, Any]) -> Tokenizer:
    model_name = md.get("tokenizer.ggml.model")
    if model_name is None:
        raise TokenizerError("the GGUF file has no tokenizer (tokenizer.ggml.model is missing)")
    if model_name not in ("gpt2", "llama"):
        raise TokenizerError(
            f"tokenizer type {model_name!r} is not supported; only byte-level BPE ('gpt2') "
            "and SentencePiece-style BPE ('llama') are"
        )
    is_spm = model_name == "llama"
    tokens = _string_list(md, "tokenizer.ggml.tokens")
    if not tokens:
        raise TokenizerError("the vocabulary is empty (tokenizer.ggml.tokens has no entries)")
    n = len(tokens)
    tokens = [t if t else f"[EMPTY_{i}]" for i, t in enumerate(tokens)]
    token_to_id = {t: i for i, t in enumerate(tokens)}
    if len(token_to_id) != n:
        raise TokenizerError("the vocabulary lists the same token text twice (tokenizer.ggml.tokens)")

    types = _number_list(md, "tokenizer.ggml.token_type", n, int)
    attrs = [_ATTR_BY_TYPE.get(t, 0) for t in types[:n]] if types is not None else [_NORMAL] * n

    special: dict[str, int | None] = {
        "bos": 1 if is_spm else 11, "eos": 2 if is_spm else 11, "unk": 0 if is_spm else None,
        "eot": None, "eom": None,
        "fim_pre": None, "fim_suf": None, "fim_mid": None, "fim_pad": None, "fim_rep": None, "fim_sep": None,
    }
    special = {k: (v if v is None or v < n else None) for k, v in special.items()}
    keys = {"bos": "bos", "eos": "eos", "eot": "eot", "eom": "eom", "unk": "unknown",
            "fim_pre": "fim_pre", "fim_suf": "fim_suf", "fim_mid": "fim_mid", "fim_pad": "fim_pad",
            "fim_rep": "fim_rep", "fim_sep": "fim_sep",
            "prefix": "fim_pre", "suffix": "fim_suf", "middle": "fim_mid"}
    for key_part, name in keys.items():
        value = md.get(f"tokenizer.ggml.{key_part}_token_id")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n:
            special[name] = value

    if is_spm:
        scores = _number_list(md, "tokenizer.ggml.scores", n, float)
        model: _BytePairModel | _SentencePieceModel = _SentencePieceModel(
            token_to_id, [float(s) for s in scores[:n]] if scores is not None else [0.0] * n, special["unk"]
        )
        clean_spaces, add_bos, add_space_prefix = False, True, True
    else:
        merges = _string_list(md, "tokenizer.ggml.merges")
        pre = md.get("tokenizer.ggml.pre", "default") or "default"
        spec = PRE_TOKENIZERS.get(pre) if isinstance(pre, str) else None
        if spec is None:
            raise TokenizerError(f"pre-tokenizer {pre!r} (tokenizer.ggml.pre) is not supported")
        model = _BytePairModel(token_to_id, merges, spec)
        clean_spaces, add_bos, add_space_prefix = spec.clean_spaces, spec.add_bos, False

    add_space_prefix = _flag(md, "tokenizer.ggml.add_space_prefix", add_space_prefix)
    add_bos = _flag(md, "tokenizer.ggml.add_bos_token", add_bos)
    add_eos = _flag(md, "tokenizer.ggml.add_eos_token", False)
    if add_bos and special["bos"] is None:
        raise TokenizerError("the vocabulary asks for a BOS token (add_bos_token) but has none")
    if add_eos and special["eos"] is None:
        raise TokenizerError("the vocabulary asks for an EOS token (add_eos_token) but has none")

    eog_ids = _mark_named_tokens(tokens, attrs, special)
    general_name = md.get("general.name")
    if isinstance(general_name, str) and ("phi-3" in general_name.lower() or "phi3" in general_name.lower()):
        _phi3_rstrip(token_to_id, attrs)
    return Tokenizer(
        tokens=tokens, attrs=attrs, model=model, special_ids=special, eog_ids=eog_ids,
        add_bos=add_bos, add_eos=add_eos, add_space_prefix=add_space_prefix, clean_spaces=clean_spaces,
    )


def _mark_named_tokens(tokens: list[str], attrs: list[int], special: dict[str, int | None]) -> frozenset[int]:
    """llama.cpp's detection of end-of-turn / FIM tokens by their text, the control flags it sets
    on them, and the resulting set of end-of-generation ids. Where several texts qualify for one
    role, llama.cpp takes whichever its hash map yields first; we take the lowest id."""
    roles = [("eot", _EOT_NAMES), ("eom", ("<|eom_id|>",)),
             *((f"fim_{role}", names) for role, names in _FIM_NAMES.items())]
    for role, names in roles:
        if special[role] is None:
            found = [i for i, t in enumerate(tokens) if t in names]
            if found:
                special[role] = found[0]
                attrs[found[0]] |= _CONTROL
    eog = {special[r] for r in ("fim_pad", "fim_rep", "fim_sep") if special[r] is not None}
    for i, text in enumerate(tokens):
        if text in _EOG_NAMES:
            eog.add(i)
            attrs[i] |= _CONTROL
        if text in _ALWAYS_RENDERED:
            attrs[i] = _USER_DEFINED
    eog.update(special[r] for r in ("eos", "eot", "eom") if special[r] is not None)
    texts = {tokens[i]: i for i in eog}
    if "<|end|>" in texts and (("<|return|>" in texts and "<|call|>" in texts)
                               or ("<|calls|>" in texts and "<|flush|>" in texts)):
        eog.discard(texts["<|end|>"])
        attrs[texts["<|end|>"]] = _USER_DEFINED
    if "</s>" in texts and ("<|tool_response>" in texts or "<|plamo:eos|>" in texts):
        eog.discard(texts["</s>"])
        attrs[texts["</s>"]] = _NORMAL
    return frozenset(eog)


def _phi3_rstrip(token_to_id: dict[str, int], attrs: list[int]) -> None:
    """Phi-3's special tokens swallow the whitespace after them (llama.cpp sets this by model name)."""
    for i, attr in enumerate(attrs):
        if attr & (_CONTROL | _USER_DEFINED | _UNKNOWN):
            attrs[i] |= _RSTRIP
    for text, on in (("</s>", True), ("<unk>", False), ("<s>", False), ("<|endoftext|>", False)):
        if text in token_to_id:
            i = token_to_id[text]
            attrs[i] = attrs[i] | _RSTRIP if on else attrs[i] & ~_RSTRIP


def _string_list(md: dict[str, Any], key: str) -> list[str]:
    value = md.get(key)
    if value is None:
        raise TokenizerError(f"the GGUF file has no {key}")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TokenizerError(f"{key} must be an array of strings")
    return value


def _number_list(md: dict[str, Any], key: str, n: int, kind: type) -> list | None:
    value = md.get(key)
    if value is None:
        return None
    ok = (int,) if kind is int else (int, float)
    if not isinstance(value, list) or not all(isinstance(v, ok) and not isinstance(v, bool) for v in value):
        raise TokenizerError(f"{key} must be an array of numbers")
    if len(value) < n:
        raise TokenizerError(f"{key} has {len(value)} entries for {n} tokens")
    return value


def _flag(md: dict[str, Any], key: str, default: bool) -> bool:
    value = md.get(key, default)
    if not isinstance(value, bool):
        raise TokenizerError(f"{key} must be a boolean, not {value!r}")
    return value
