"""Text <-> token ids for a GGUF model, id for id what llama.cpp gives.

The tokenizer is rebuilt from the vocabulary stored in the GGUF header (tokens, token types,
merges or scores, special ids and flags), so any model the user loads brings its own. Supported:
byte-level BPE (`tokenizer.ggml.model` "gpt2": GPT-2, SmolLM2, Qwen2, Llama 3, ...), BPE over
UTF-8 with "▁" for spaces ("gemma4") and SentencePiece-style BPE with scores ("llama": Llama 2,
Phi-3, Gemma 1-3, ...). The algorithms,
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
import math
import operator
import re
from collections.abc import Callable, Iterable
from itertools import repeat
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
# Special-token roles; llama.cpp's default ids by tokenizer type; GGUF keys that set them.
_ROLES = ("bos", "eos", "unk", "eot", "eom", "fim_pre", "fim_suf", "fim_mid", "fim_pad", "fim_rep", "fim_sep")
_DEFAULT_IDS = {"llama": {"bos": 1, "eos": 2, "unk": 0}, "gpt2": {"bos": 11, "eos": 11}, "gemma4": {}}
_ID_KEYS = (("bos", "bos"), ("eos", "eos"), ("eot", "eot"), ("eom", "eom"), ("unknown", "unk"),
            *((f"fim_{r}", f"fim_{r}") for r in ("pre", "suf", "mid", "pad", "rep", "sep")),
            ("prefix", "fim_pre"), ("suffix", "fim_suf"), ("middle", "fim_mid"))
_ALWAYS_RENDERED = ("<|channel|>", "<|message|>", "<|start|>", "<|constrain|>")  # gpt-oss

_SPM_SPACE = "\u2581"
_SPM_WORDS = re.compile(f"{_SPM_SPACE}+[^{_SPM_SPACE}]*|[^{_SPM_SPACE}]+")
_MAX_BRIDGES = 256  # with more, searching for them costs more than merging whole fragments
_C_SPACES = " \t\n\v\f\r"  # C isspace(), which llama.cpp uses to strip around special tokens
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
        out.append(chr(cp) if cp <= 0x10FFFF else "\ufffd")  # where llama.cpp would throw
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


_NO_MERGE = math.inf
_SCAN_LIMIT = 128  # words longer than this merge with a heap


def _merge_pairs(symbols: list[str], priority: Callable[[str, str], float]) -> list[str]:
    """Merge the adjacent pair with the lowest priority, leftmost on ties, until no pair has a
    finite one: the order llama.cpp's priority queues give (BPE: merge rank; SPM: -score).

    For the short words that make up nearly all text a scan is faster than a heap; past
    _SCAN_LIMIT symbols the heap keeps it from going quadratic.
    """
    if len(symbols) > _SCAN_LIMIT:
        return _merge_with_heap(symbols, priority)
    pending = [priority(a, b) for a, b in zip(symbols, symbols[1:])]
    while pending:
        best = min(pending)
        if best == _NO_MERGE:
            break
        i = pending.index(best)
        symbols[i] += symbols.pop(i + 1)
        del pending[i]
        if i > 0:
            pending[i - 1] = priority(symbols[i - 1], symbols[i])
        if i < len(pending):
            pending[i] = priority(symbols[i], symbols[i + 1])
    return symbols


def _merge_with_heap(symbols: list[str], priority: Callable[[str, str], float]) -> list[str]:
    n = len(symbols)
    nxt = [*range(1, n), -1]
    prev = list(range(-1, n - 1))
    heap = [(p, i, i + 1, len(symbols[i]) + len(symbols[i + 1]))
            for i in range(n - 1) if (p := priority(symbols[i], symbols[i + 1])) != _NO_MERGE]
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
            p = priority(merged, symbols[after])
            if p != _NO_MERGE:
                heapq.heappush(heap, (p, left, after, len(merged) + len(symbols[after])))
        before = prev[left]
        if before >= 0:
            p = priority(symbols[before], merged)
            if p != _NO_MERGE:
                heapq.heappush(heap, (p, before, left, len(symbols[before]) + len(merged)))
    return [s for s in symbols if s]


class _BytePairModel:
    """BPE (llm_tokenizer_bpe_session): pre-split, map bytes to GPT-2's characters (Gemma 4: spaces
    to "▁" instead), then merge each piece by rank."""

    def __init__(self, token_to_id: dict[str, int], merges: list[str], spec: PreTokenizerSpec) -> None:
        self._token_to_id = token_to_id
        # llama.cpp keys ranks by (left, right) split at the first space after position 0 and
        # keeps the first of duplicates; our symbols never contain a space, so the merge text
        # itself is an equivalent key. Filling in reverse lets the first occurrence win.
        ranks = dict(zip(reversed(merges), range(len(merges) - 1, -1, -1)))
        self._rank = lambda left, right: ranks.get(left + " " + right, _NO_MERGE)
        self._pre = PreTokenizer(spec.stages)
        self._ignore_merges = spec.ignore_merges
        self._byte_level = spec.byte_level
        self._cache: dict[str, tuple[int, ...]] = {}

    def canonical(self, text: str) -> str:
        return text if _is_utf8_clean(text) else _decode_like_llama(_utf8(text))

    def tokenize(self, text: str, out: list[int], after_special: bool) -> None:
        """Append the ids of one text fragment (`after_special` matters to SentencePiece only)."""
        if not self._byte_level:
            text = text.replace(" ", _SPM_SPACE)
        cache = self._cache
        for word in self._pre.split(text):
            ids = cache.get(word)
            if ids is None:
                if len(cache) >= _WORD_CACHE_LIMIT:
                    cache.clear()
                ids = cache[word] = self._word_ids(word)
            out.extend(ids)

    def _word_ids(self, word: str) -> tuple[int, ...]:
        token_to_id = self._token_to_id
        if self._byte_level:
            encoded = word.encode("utf-8", "surrogatepass").decode("latin-1").translate(_BYTE_TO_UNICODE)
            if self._ignore_merges and encoded in token_to_id:
                return (token_to_id[encoded],)
        else:
            encoded = word
            if not word.strip("\n") and word in token_to_id:
                return (token_to_id[word],)
        ids: list[int] = []
        for symbol in _merge_pairs(list(encoded), self._rank):
            token = token_to_id.get(symbol)
            if token is not None:
                ids.append(token)
                continue
            # llama.cpp falls back to one token per byte of the symbol's UTF-8 and drops misses.
            for b in _utf8(symbol):
                byte_text = bytes([b]).decode("utf-8", "surrogateescape") if self._byte_level else f"<0x{b:02X}>"
                token = token_to_id.get(byte_text)
                if token is not None:
                    ids.append(token)
        return tuple(ids)

    def normal_piece(self, text: str) -> bytes:
        """llama_decode_text: map characters back to bytes; unmapped ones become a visible marker."""
        if not self._byte_level:
            return _utf8(text.replace(_SPM_SPACE, " "))
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

    def __init__(self, token_to_id: dict[str, int], scores: list[float], unk_id: int | None,
                 add_space_prefix: bool) -> None:
        self._token_to_id = token_to_id
        self._unk_id = unk_id
        self._add_space_prefix = add_space_prefix

        def priority(left: str, right: str) -> float:
            token = token_to_id.get(left + right)
            return _NO_MERGE if token is None else -scores[token]

        self._priority = priority
        # llama.cpp merges over a whole text fragment, but a merged symbol is always a token, so
        # only a token with "▁" after another character ("bridge", e.g. Gemma's ">▁</") can
        # cross the start of a "▁" run. Cutting the text there, except inside occurrences of
        # bridges, gives words that merge (and cache) independently with identical results.
        bridges = [t for t in token_to_id if _SPM_SPACE in t.lstrip(_SPM_SPACE)]
        self._bridges = bridges if len(bridges) <= _MAX_BRIDGES else None
        self._cache: dict[str, tuple[int, ...]] = {}

    def canonical(self, text: str) -> str:
        return text if _is_utf8_clean(text) else _utf8(text).decode("utf-8", "surrogateescape")

    def tokenize(self, text: str, out: list[int], after_special: bool) -> None:
        """Append the ids of one text fragment; like llama.cpp, the first fragment and each one
        after a special token get a space in front when the vocabulary asks for it."""
        if self._add_space_prefix and after_special:
            text = " " + text
        text = text.replace(" ", _SPM_SPACE)
        if self._bridges is None:
            out.extend(self._chunk_ids(text))
            return
        cache = self._cache
        for word in self._words(text):
            ids = cache.get(word)
            if ids is None:
                if len(cache) >= _WORD_CACHE_LIMIT:
                    cache.clear()
                ids = cache[word] = self._chunk_ids(word)
            out.extend(ids)

    def _words(self, text: str) -> list[str]:
        words = _SPM_WORDS.findall(text)
        inside: set[int] = set()  # word starts that fall inside an occurrence of a bridge
        for bridge in self._bridges:
            at = text.find(bridge)
            while at >= 0:
                inside.update(range(at + 1, at + len(bridge)))
                at = text.find(bridge, at + 1)
        if not inside:
            return words
        joined: list[str] = []
        start = 0
        for word in words:
            if start in inside:
                joined[-1] += word
            else:
                joined.append(word)
            start += len(word)
        return joined

    def _chunk_ids(self, text: str) -> tuple[int, ...]:
        symbols = list(text) if _is_utf8_clean(text) else _utf8_chunks(text)
        ids: list[int] = []
        token_to_id = self._token_to_id
        for symbol in _merge_pairs(symbols, self._priority):
            token = token_to_id.get(symbol)
            if token is not None:
                ids.append(token)
            else:
                ids.extend(self._byte_ids(symbol))
        return tuple(ids)

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
        first_chars = sorted({tokens[i][0] for i in specials})
        self._special_starts = re.compile("[" + "".join(map(re.escape, first_chars)) + "]" if first_chars else "(?!)")

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
        after_special = True
        for fragment in self._partition(model.canonical(text), parse_special) if text else ():
            if isinstance(fragment, int):
                out.append(fragment)
                after_special = True
            else:
                model.tokenize(fragment, out, after_special)
                after_special = False
        if add_special and self._add_eos:
            out.append(self._special_ids["eos"])
        return out

    def count(self, text: str) -> int:
        """How many tokens `text` adds to a prompt (no BOS/EOS, special texts read as text)."""
        return len(self.encode(text, add_special=False))

    def _partition(self, text: str, parse_special: bool) -> list[str | int]:
        """tokenizer_st_partition: split special-token texts out of `text`, one token at a time."""
        specials = self._split_parsed if parse_special else self._split_always
        if not specials:
            return [text]
        # Big vocabularies have thousands of special tokens (Gemma: 6,000 "<unused…>"); look only
        # for those whose first two characters occur where a special token could start.
        heads = set()
        for match in self._special_starts.finditer(text):
            at = match.start()
            heads.add(text[at:at + 2])
            heads.add(text[at])
        fragments: list[str | int] = [text]
        for token, piece, rstrip in specials:
            if piece[:2] not in heads:
                continue
            split: list[str | int] = []
            for fragment in fragments:
                if isinstance(fragment, int):
                    split.append(fragment)
                    continue
                start, end = 0, len(fragment)
                while start < end:
                    at = fragment.find(piece, start)
                    if at < 0:
                        split.append(fragment[start:])
                        break
                    if at > start:
                        split.append(fragment[start:at])
                    split.append(token)
                    start = at + len(piece)
                    while rstrip and start < end and fragment[start] in _C_SPACES:
                        start += 1
            fragments = split
        return fragments

    def token_bytes(self, token_id: int, skip_special: bool = False) -> bytes:
        """The bytes token `token_id` stands for (llama_token_to_piece); control tokens give
        their text, or nothing with skip_special."""
        return self._piece(token_id, special=not skip_special)

    def decode(self, ids: Iterable[int], skip_special: bool = False) -> str:
        """Text for `ids` as llama_detokenize gives it; skip_special leaves out control tokens.

        Like llama.cpp, the first token loses one leading space when the vocabulary adds a space
        prefix (so decode(encode(t, add_special=False)) == t for SentencePiece too), and spaces
        before punctuation are removed where the vocabulary asks for that cleanup.
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
        self._skip_special = skip_special
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")

    def feed(self, token_id: int) -> str:
        return self._decoder.decode(self._tokenizer.token_bytes(token_id, self._skip_special))

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
    if model_name not in ("gpt2", "llama", "gemma4"):
        raise TokenizerError(
            f"tokenizer type {model_name!r} is not supported; only BPE ('gpt2', 'gemma4') "
            "and SentencePiece-style BPE ('llama') are"
        )
    is_spm = model_name == "llama"
    tokens = _string_list(md, "tokenizer.ggml.tokens")
    if not tokens:
        raise TokenizerError("the vocabulary is empty (tokenizer.ggml.tokens has no entries)")
    n = len(tokens)
    if "" in tokens:
        tokens = [t if t else f"[EMPTY_{i}]" for i, t in enumerate(tokens)]
    token_to_id = dict(zip(tokens, range(n)))
    if len(token_to_id) != n:
        raise TokenizerError("the vocabulary lists the same token text twice (tokenizer.ggml.tokens)")

    types = _number_list(md, "tokenizer.ggml.token_type", n, int)
    attrs = list(map(_ATTR_BY_TYPE.get, types[:n], repeat(0))) if types is not None else [_NORMAL] * n

    special: dict[str, int | None] = dict.fromkeys(_ROLES)
    special.update((role, i) for role, i in _DEFAULT_IDS[model_name].items() if i < n)
    for key, role in _ID_KEYS:
        value = md.get(f"tokenizer.ggml.{key}_token_id")
        if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < n:
            special[role] = value

    pre: str | None = None
    spec: PreTokenizerSpec | None = None
    if is_spm:
        clean_spaces, add_bos, add_space_prefix = False, True, True
    else:
        pre = "gemma4" if model_name == "gemma4" else md.get("tokenizer.ggml.pre") or "default"
        spec = PRE_TOKENIZERS.get(pre) if isinstance(pre, str) else None
        if spec is None:
            raise TokenizerError(f"pre-tokenizer {pre!r} (tokenizer.ggml.pre) is not supported")
        clean_spaces, add_bos, add_space_prefix = spec.clean_spaces, spec.add_bos, False
    add_space_prefix = _flag(md, "tokenizer.ggml.add_space_prefix", add_space_prefix)
    add_bos = _flag(md, "tokenizer.ggml.add_bos_token", add_bos) or pre == "gemma4"  # llama.cpp forces it
    add_eos = _flag(md, "tokenizer.ggml.add_eos_token", False)
    if add_bos and special["bos"] is None:
        raise TokenizerError("the vocabulary asks for a BOS token (add_bos_token) but has none")
    if add_eos and special["eos"] is None:
        raise TokenizerError("the vocabulary asks for an EOS token (add_eos_token) but has none")

    model: _BytePairModel | _SentencePieceModel
    if is_spm:
        scores = _number_list(md, "tokenizer.ggml.scores", n, float)
        model = _SentencePieceModel(token_to_id, scores[:n] if scores is not None else [0.0] * n,
                                    special["unk"], add_space_prefix)
    else:
        model = _BytePairModel(token_to_id, _string_list(md, "tokenizer.ggml.merges"), spec)

    eog_ids = _mark_named_tokens(tokens, token_to_id, attrs, special)
    general_name = md.get("general.name")
    if isinstance(general_name, str) and ("phi-3" in general_name.lower() or "phi3" in general_name.lower()):
        _phi3_rstrip(token_to_id, attrs)
    return Tokenizer(
        tokens=tokens, attrs=attrs, model=model, special_ids=special, eog_ids=eog_ids,
        add_bos=add_bos, add_eos=add_eos, add_space_prefix=add_space_prefix, clean_spaces=clean_spaces,
    )


def _mark_named_tokens(tokens: list[str], token_to_id: dict[str, int], attrs: list[int],
                       special: dict[str, int | None]) -> frozenset[int]:
    """llama.cpp's detection of end-of-turn / FIM tokens by their text, the control flags it sets
    on them, and the resulting set of end-of-generation ids. Where several texts qualify for one
    role, llama.cpp takes whichever its hash map yields first; we take the lowest id."""
    roles = [("eot", _EOT_NAMES), ("eom", ("<|eom_id|>",)),
             *((f"fim_{role}", names) for role, names in _FIM_NAMES.items())]
    for role, names in roles:
        found = [token_to_id[name] for name in names if name in token_to_id]
        if special[role] is None and found:
            special[role] = min(found)
            attrs[special[role]] |= _CONTROL
    eog = {special[r] for r in ("fim_pad", "fim_rep", "fim_sep") if special[r] is not None}
    for name in _EOG_NAMES & token_to_id.keys():
        eog.add(token_to_id[name])
        attrs[token_to_id[name]] |= _CONTROL
    for name in _ALWAYS_RENDERED:
        if name in token_to_id:
            attrs[token_to_id[name]] = _USER_DEFINED
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
    if not isinstance(value, list) or not set(map(type, value)) <= {str}:
        raise TokenizerError(f"{key} must be an array of strings")
    return value


def _number_list(md: dict[str, Any], key: str, n: int, kind: type) -> list | None:
    value = md.get(key)
    if value is None:
        return None
    allowed = {int} if kind is int else {int, float}
    if not isinstance(value, list) or not set(map(type, value)) <= allowed:
        raise TokenizerError(f"{key} must be an array of numbers")
    if len(value) < n:
        raise TokenizerError(f"{key} has {len(value)} entries for {n} tokens")
    return value


def _flag(md: dict[str, Any], key: str, default: bool) -> bool:
    value = md.get(key, default)
    if not isinstance(value, bool):
        raise TokenizerError(f"{key} must be a boolean, not {value!r}")
    return value
