"""Split text into the pieces a byte-level BPE vocabulary merges within, as llama.cpp does.

llama.cpp gives each pre-tokenizer type (`tokenizer.ggml.pre`) a list of regexes; each one splits
every piece left by the one before, and text between two matches stays a piece of its own. Those
regexes use Unicode classes (\\p{L}, \\p{N}, ...) that Python's `re` lacks, so we do what
llama.cpp's own generic fallback does: "collapse" the text first, replacing every non-ASCII code
point by one stand-in character for its class. Plain `re` patterns over the stand-ins then give
exactly the offsets the Unicode-aware regex gives over the original. Classes come from
`unicodedata` plus llama.cpp's own whitespace list; llama.cpp's tables are Unicode 15.1, so code
points that the running Python's Unicode version leaves unassigned are patched from
`_ASSIGNED_SINCE_UNICODE_14`.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Stand-ins for non-ASCII code points, by class (llama.cpp uses the same bytes in its fallback).
_OTHER = "\xd0"
_NUMBER = "\xd1"
_LETTER = "\xd2"
_PUNCT = "\xd3"
_MARK = "\xd4"
_SYMBOL = "\xd5"
_SPACE = "\x0b"

# llama.cpp's `unicode_set_whitespace`; note that it leaves out U+001C..U+001F, which
# Python's str.isspace() and re's \s include.
WHITESPACE = frozenset(
    [0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B),
     0x2028, 0x2029, 0x202F, 0x205F, 0x3000]
)

# (first, last, general category class) of code points assigned in Unicode 15.0 / 15.1, which
# Python 3.11's unicodedata (Unicode 14.0) reports as unassigned. Format characters are left out:
# they collapse to _OTHER like unassigned code points do.
_ASSIGNED_SINCE_UNICODE_14 = (
    (0x0CF3, 0x0CF3, "M"), (0x0ECE, 0x0ECE, "M"), (0x2FFC, 0x2FFF, "S"), (0x31EF, 0x31EF, "S"),
    (0x10EFD, 0x10EFF, "M"), (0x1123F, 0x11240, "L"), (0x11241, 0x11241, "M"),
    (0x11B00, 0x11B09, "P"), (0x11F00, 0x11F01, "M"), (0x11F02, 0x11F02, "L"),
    (0x11F03, 0x11F03, "M"), (0x11F04, 0x11F10, "L"), (0x11F12, 0x11F33, "L"),
    (0x11F34, 0x11F3A, "M"), (0x11F3E, 0x11F42, "M"), (0x11F43, 0x11F4F, "P"),
    (0x11F50, 0x11F59, "N"), (0x1342F, 0x1342F, "L"), (0x13440, 0x13440, "M"),
    (0x13441, 0x13446, "L"), (0x13447, 0x13455, "M"), (0x1B132, 0x1B132, "L"),
    (0x1B155, 0x1B155, "L"), (0x1D2C0, 0x1D2D3, "N"), (0x1DF25, 0x1DF2A, "L"),
    (0x1E030, 0x1E06D, "L"), (0x1E08F, 0x1E08F, "M"), (0x1E4D0, 0x1E4EB, "L"),
    (0x1E4EC, 0x1E4EF, "M"), (0x1E4F0, 0x1E4F9, "N"), (0x1F6DC, 0x1F6DC, "S"),
    (0x1F774, 0x1F776, "S"), (0x1F77B, 0x1F77F, "S"), (0x1F7D9, 0x1F7D9, "S"),
    (0x1FA75, 0x1FA77, "S"), (0x1FA87, 0x1FA88, "S"), (0x1FAAD, 0x1FAAF, "S"),
    (0x1FABB, 0x1FABD, "S"), (0x1FABF, 0x1FABF, "S"), (0x1FACE, 0x1FACF, "S"),
    (0x1FADA, 0x1FADB, "S"), (0x1FAE8, 0x1FAE8, "S"), (0x1FAF7, 0x1FAF8, "S"),
    (0x2B739, 0x2B739, "L"), (0x2EBF0, 0x2EE5D, "L"), (0x31350, 0x323AF, "L"),
)

_STAND_IN_BY_CLASS = {"L": _LETTER, "N": _NUMBER, "M": _MARK, "P": _PUNCT, "S": _SYMBOL}


def char_class(cp: int) -> str:
    """llama.cpp's class of a code point: 'W' (whitespace), 'L', 'N', 'M', 'P', 'S' or 'C' (other)."""
    if cp in WHITESPACE:
        return "W"
    category = unicodedata.category(chr(cp))
    if category == "Cn":
        for first, last, cls in _ASSIGNED_SINCE_UNICODE_14:
            if first <= cp <= last:
                return cls
    return category[0] if category[0] in _STAND_IN_BY_CLASS else "C"


class _StandIns(dict):
    """`str.translate` table: ASCII maps to itself, anything else to its class's stand-in.

    Filled lazily, so a text costs one classification per distinct code point, ever.
    """

    def __missing__(self, cp: int) -> str:
        cls = char_class(cp)
        stand_in = _SPACE if cls == "W" else _STAND_IN_BY_CLASS.get(cls, _OTHER)
        self[cp] = stand_in
        return stand_in


_COLLAPSE = _StandIns({cp: chr(cp) for cp in range(128)})
# What llama.cpp matches its non-category regexes against: non-ASCII whitespace becomes \v.
_WIDE = {cp: _SPACE for cp in WHITESPACE if cp >= 128}

# Character-class bodies over collapsed text.
_W = "\t-\r "
_L = "A-Za-z" + _LETTER
_N = "0-9" + _NUMBER
_M = _MARK
_P = r"!-#%-*,-/:;?@\[-\]_{}" + _PUNCT

_CONTRACTIONS_CASED = "'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD]"
# The tails below add a final `[W]+`, which llama.cpp's hand-written splitters also take.
_GPT2 = rf"'s|'t|'re|'ve|'m|'ll|'d| ?[{_L}]+| ?[{_N}]+| ?[^{_W}{_L}{_N}]+|[{_W}]+(?![^{_W}])|[{_W}]+"
_LLAMA3 = (rf"{_CONTRACTIONS_CASED}|[^\r\n{_L}{_N}]?[{_L}]+|[{_N}]{{1,3}}| ?[^{_W}{_L}{_N}]+[\r\n]*"
           rf"|[{_W}]*[\r\n]+|[{_W}]+(?![^{_W}])|[{_W}]+")
_QWEN2 = (rf"{_CONTRACTIONS_CASED}|[^\r\n{_L}{_N}]?[{_L}]+|[{_N}]| ?[^{_W}{_L}{_N}]+[\r\n]*"
          rf"|[{_W}]*[\r\n]+|[{_W}]+(?![^{_W}])|[{_W}]+")
_QWEN35 = (rf"{_CONTRACTIONS_CASED}|[^\r\n{_L}{_N}]?[{_L}{_M}]+|[{_N}]| ?[^{_W}{_L}{_M}{_N}]+[\r\n]*"
           rf"|[{_W}]*[\r\n]+|[{_W}]+(?![^{_W}])|[{_W}]+")
_CJK = "[\u4e00-\u9fa5\u0800-\u4e00\uac00-\ud7ff]+"
_DEEPSEEK_LETTERS = (
    "A-Za-z\u00b5\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u01ba\u01bc-\u01bf\u01c4-\u0293\u0295-\u02af"
    "\u0370-\u0373\u0376\u0377\u037b-\u037d\u037f\u0386\u0388-\u038a\u038c\u038e-\u03a1\u03a3-\u03f5"
    "\u03f7-\u0481\u048a-\u052f\u0531-\u0556\u10a0-\u10c5\u13a0-\u13f5\u13f8-\u13fd\u1c90-\u1cba"
    "\u1cbd-\u1cbf\u1d00-\u1d2b\u1d6b-\u1d77\u1d79-\u1d9a\u1e00-\u1f15\u1f18-\u1f1d\u1f20-\u1f45"
    "\u1f48-\u1f4d\u1f50-\u1f57\u1f59\u1f5b\u1f5d\u1f5f-\u1f7d\u1f80-\u1fb4\u1fb6-\u1fbc\u1fbe"
    "\u1fc2-\u1fc4\u1fc6-\u1fcc\u1fd0-\u1fd3\u1fd6-\u1fdb\u1fe0-\u1fec\u1ff2-\u1ff4\u1ff6-\u1ffc"
    "\u2102\u2107\u210a-\u2113\u2115\u2119-\u211d\u2124\u2126\u2128\u212a-\u212d\u212f-\u2134"
    "\u2139\u213c-\u213f\u2145-\u2149\u214e\u2183\u2184\u2c00-\u2c7b\u2c7e-\u2ce4\u2ceb-\u2cee"
    "\u2cf2\u2cf3\ua640-\ua66d\ua680-\ua69b\ua722-\ua76f\ua771-\ua787\ua78b-\ua78e\uab70-\uabbf"
    "\ufb00-\ufb06\ufb13-\ufb17\uff21-\uff3a\uff41-\uff5a\U00010400-\U0001044f\U000104b0-\U000104d3"
    "\U000104d8-\U000104fb\U00010c80-\U00010cb2\U00010cc0-\U00010cf2\U000118a0-\U000118df"
    "\U0001e900-\U0001e943"
)


@dataclass(frozen=True)
class _Stage:
    pattern: re.Pattern[str]
    collapsed: bool  # matched against class stand-ins; else against the text (\v for Unicode spaces)


def _stage(pattern: str, collapsed: bool = True) -> _Stage:
    return _Stage(re.compile(pattern), collapsed)


# llama.cpp's regex lists (llm_tokenizer_bpe), by pre-tokenizer family. A family with a single
# stage must match every character, leaving no gaps: `PreTokenizer.split` relies on that.
_STAGES: dict[str, tuple[_Stage, ...]] = {
    "default": (_stage(rf"[{_P}$+<=>^~|]+"), _stage(_GPT2), _stage(rf"[{_N}]+"),
                _stage("[0-9][0-9][0-9]", collapsed=False)),
    "newlines": (_stage("[^\n]+|\n+", collapsed=False),),
    "gpt2": (_stage(_GPT2),),
    "llama3": (_stage(_LLAMA3),),
    "qwen2": (_stage(_QWEN2),),
    "qwen35": (_stage(_QWEN35),),
    "starcoder": (_stage(rf"[{_N}]"), _stage(_GPT2)),
    "falcon": (_stage(rf"[{_P}$+<=>^~|`]+"), _stage(_GPT2), _stage("[0-9][0-9][0-9]", collapsed=False)),
    "deepseek-coder": (
        _stage("[\r\n]", collapsed=False), _stage(rf"[{_W}]?[{_L}]+"), _stage(rf"[{_W}]?[{_P}]+"),
        _stage(_CJK, collapsed=False), _stage(rf"[{_N}]"),
    ),
    "deepseek-llm": (
        _stage("[\r\n]", collapsed=False),
        _stage(rf"[{_W}]?[{_DEEPSEEK_LETTERS}]+", collapsed=False),
        _stage(rf"[{_W}]?[!-/:-~\uff01-\uff0f\uff1a-\uff5e\u2018-\u201f\u3000-\u3002]+", collapsed=False),
        _stage(rf"[{_W}]+\Z", collapsed=False),
        _stage(_CJK, collapsed=False),
        _stage(rf"[{_N}]+"),
    ),
}


@dataclass(frozen=True)
class PreTokenizerSpec:
    """Everything llama.cpp derives from a `tokenizer.ggml.pre` name."""

    stages: str  # key of _STAGES
    clean_spaces: bool = True  # detokenizer removes spaces before punctuation, as HF's cleanup does
    ignore_merges: bool = False  # a piece that is itself a token is taken whole
    add_bos: bool = False  # default for tokenizer.ggml.add_bos_token
    # GPT-2's byte-to-character mapping; without it (Gemma 4) merges run on the UTF-8 text with
    # "▁" for spaces, bytes fall back to "<0xXX>" tokens, and newline runs that are tokens stay whole.
    byte_level: bool = True


_LLAMA3_SPEC = PreTokenizerSpec("llama3", ignore_merges=True, add_bos=True)
PRE_TOKENIZERS: dict[str, PreTokenizerSpec] = {
    "default": PreTokenizerSpec("default"),
    **dict.fromkeys(["llama3", "llama-v3", "llama-bpe", "falcon3", "falcon-h1", "pixtral",
                     "midm-2.0", "lfm2", "jina-v5-nano"], _LLAMA3_SPEC),
    **dict.fromkeys(["dbrx", "smaug-bpe"], PreTokenizerSpec("llama3")),
    "deepseek-llm": PreTokenizerSpec("deepseek-llm", clean_spaces=False),
    "deepseek-coder": PreTokenizerSpec("deepseek-coder", clean_spaces=False),
    "falcon": PreTokenizerSpec("falcon"),
    **dict.fromkeys(["gpt-2", "phi-2", "mpt", "olmo", "jais", "exaone4", "gigachat", "a.x-4.0",
                     "mellum"], PreTokenizerSpec("gpt2")),
    **dict.fromkeys(["trillion", "granite-docling"], PreTokenizerSpec("gpt2", clean_spaces=False)),
    **dict.fromkeys(["starcoder", "refact", "codeshell", "exaone", "minerva-7b", "mellum2"],
                    PreTokenizerSpec("starcoder")),
    **dict.fromkeys(["smollm", "command-r"], PreTokenizerSpec("starcoder", clean_spaces=False)),
    **dict.fromkeys(["qwen2", "deepseek-r1-qwen", "kormo", "f2llmv2", "hunyuan", "solar-open", "grok-2"],
                    PreTokenizerSpec("qwen2", clean_spaces=False)),
    **dict.fromkeys(["stablelm2", "megrez"], PreTokenizerSpec("qwen2")),
    "qwen35": PreTokenizerSpec("qwen35", clean_spaces=False),
    "gemma4": PreTokenizerSpec("newlines", add_bos=True, byte_level=False),
}


class PreTokenizer:
    """Splits text into pieces with one pre-tokenizer type's regexes, applied in order."""

    def __init__(self, stages: str) -> None:
        self._stages = _STAGES[stages]
        self._needs_wide = any(not stage.collapsed for stage in self._stages)

    def split(self, text: str) -> list[str]:
        """The pieces of `text`, in order; joined they give `text` back."""
        if not text:
            return []
        ascii_only = text.isascii()
        collapsed = text if ascii_only else text.translate(_COLLAPSE)
        wide = text if ascii_only or not self._needs_wide else text.translate(_WIDE)
        stages = self._stages
        if len(stages) == 1 and ascii_only:
            # Every pattern used alone covers all text, so matches are the pieces.
            return stages[0].pattern.findall(text)
        bounds = [(0, len(text))]
        for stage in stages:
            bounds = _split_bounds(stage.pattern, collapsed if stage.collapsed else wide, bounds)
        return [text[start:end] for start, end in bounds]


def _split_bounds(pattern: re.Pattern[str], view: str, bounds: list[tuple[int, int]]) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    append = out.append
    for start, end in bounds:
        pos = start
        for match in pattern.finditer(view, start, end):
            first, last = match.span()
            if first > pos:
                append((pos, first))
            append((first, last))
            pos = last
        if pos < end:
            append((pos, end))
    return out
