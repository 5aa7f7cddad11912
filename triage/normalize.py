"""Stage 1: text normalization, ``str -> str`` steps chained by :func:`normalize`.

Each step is a small typed function that can be used alone:

- :func:`nfkc` folds full-width letters, digits and punctuation (``ＡＢＣ１２３`` -> ``ABC123``);
- :func:`to_simplified` converts traditional to simplified Chinese with OpenCC;
- :func:`clean_whitespace` removes control characters and lone surrogates, collapses whitespace;
- :func:`mask_pii` replaces mobile numbers, 身份证 numbers, bank cards and e-mail addresses with
  placeholders, so that nothing the pipeline outputs as text carries personal data.

Examples
--------
>>> normalize("ＶＩＰ客戶，手機１３８１２３４５６７８，買到假貨！")
'VIP客户,手机[手机号],买到假货!'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Regexes are compiled once, here.
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\u2060\ufeff]")
_SURROGATE_RE = re.compile(r"[\ud800-\udfff]")
_WHITESPACE_RE = re.compile(r"\s+")
# Characters clean_whitespace changes wherever they are: control characters, surrogates and
# whitespace other than the plain space (what str.isspace() and the regex \s call whitespace).
_OTHER_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
_NEEDS_CLEANING_RE = re.compile(_CONTROL_RE.pattern[:-1] + "\\ud800-\\udfff" + re.escape(_OTHER_SPACE) + "]")
_EMAIL_RE = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
_ID_CARD_RE = re.compile(
    r"(?<![0-9])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9])"
)
# A mobile number, with optional +86 and separators: 138 1234 5678, 138-1234-5678.
_MOBILE_RE = re.compile(r"(?<![0-9])(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}(?![0-9])")
# Candidate bank cards: 16-19 digits, optionally in groups of 4; kept only if the Luhn check passes.
_CARD_RE = re.compile(r"(?<![0-9])(?:\d{4}[- ]?){3}\d{4,7}(?![0-9])")

_PII_HINT_RE = re.compile(r"@|\d{4}")

MASKS = {"mobile": "[手机号]", "id_card": "[身份证号]", "bank_card": "[银行卡号]", "email": "[邮箱]"}


_FULLWIDTH_RE = re.compile("[\uff01-\uff5e\u3000]")


def nfkc(text: str) -> str:
    """Unicode NFKC: full-width ASCII to half-width, compatibility characters folded.

    Fast path: most Chinese text is NFKC already except for full-width punctuation, which is
    mapped directly (it decomposes to one ASCII character, so the result is the same);
    ``unicodedata.normalize`` runs only on what is still not normalized.
    """
    if unicodedata.is_normalized("NFKC", text):
        return text
    for ch in set(_FULLWIDTH_RE.findall(text)):  # usually one or two distinct marks (，！)
        text = text.replace(ch, " " if ch == "\u3000" else chr(ord(ch) - 0xFEE0))
    return text if unicodedata.is_normalized("NFKC", text) else unicodedata.normalize("NFKC", text)


@lru_cache(maxsize=8)
def _converter(config: str):
    import opencc  # imported lazily: only needed once a text is normalized

    return opencc.OpenCC(config)


def to_simplified(text: str, *, config: str = "t2s") -> str:
    """Traditional -> simplified Chinese with OpenCC (``config`` is an OpenCC configuration)."""
    return _converter(config).convert(text)


def clean_whitespace(text: str) -> str:
    """Drop control characters and lone surrogates; collapse runs of whitespace to one space."""
    if not (_NEEDS_CLEANING_RE.search(text) or "  " in text or text[:1] == " " or text[-1:] == " "):
        return text  # the common case: one search instead of three substitutions
    text = _SURROGATE_RE.sub("", text)
    text = _CONTROL_RE.sub(" ", text)
    return _WHITESPACE_RE.sub(" ", text).strip()


def count_invalid_characters(text: str) -> int:
    """Number of lone surrogates in ``text`` (characters that cannot be encoded as UTF-8)."""
    return len(_SURROGATE_RE.findall(text))


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _mask_card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return MASKS["bank_card"] if 16 <= len(digits) <= 19 and _luhn_ok(digits) else match.group(0)


def mask_pii(text: str) -> str:
    """Replace e-mail addresses, 身份证 numbers, bank cards and mobile numbers by placeholders.

    >>> mask_pii("电话13812345678，邮箱 a.b@qq.com")
    '电话[手机号]，邮箱 [邮箱]'
    """
    if not _PII_HINT_RE.search(text):  # every pattern needs a run of 8 digits or an @
        return text
    text = _EMAIL_RE.sub(MASKS["email"], text)
    text = _ID_CARD_RE.sub(MASKS["id_card"], text)
    text = _CARD_RE.sub(_mask_card, text)
    return _MOBILE_RE.sub(MASKS["mobile"], text)


@dataclass(frozen=True)
class NormalizedText:
    """The result of :func:`normalize_text`: the text and what happened to it."""

    text: str
    truncated: bool
    invalid_characters: int


def _has_surrogates(text: str) -> bool:
    # Lone surrogates cannot be encoded; str.isascii() or a successful encode rules them out fast.
    if text.isascii():
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def normalize(text: str, *, opencc: str = "t2s", mask: bool = True) -> str:
    """All normalization steps in order: NFKC, whitespace, traditional->simplified, PII masks."""
    return _normalize(text, opencc, mask, _has_surrogates(text))


def _normalize(text: str, opencc: str, mask: bool, surrogates: bool) -> str:
    if surrogates:
        text = _SURROGATE_RE.sub("", text)
    text = clean_whitespace(nfkc(text))
    text = to_simplified(text, config=opencc)
    return mask_pii(text) if mask else text


def normalize_text(text: str, *, opencc: str = "t2s", mask: bool = True, max_chars: int = 5000) -> NormalizedText:
    """:func:`normalize`, plus truncation to ``max_chars`` and a count of removed bad characters."""
    return NormalizedText(*normalized_parts(text, opencc, mask, max_chars))


def normalized_parts(text: str, opencc: str = "t2s", mask: bool = True, max_chars: int = 5000) -> tuple[str, bool, int]:
    """(text, truncated, invalid characters): :func:`normalize_text` without the result object."""
    invalid = len(_SURROGATE_RE.findall(text)) if _has_surrogates(text) else 0
    # Truncate generously before the work, precisely after it.
    clean = _normalize(text[: max_chars * 2], opencc, mask, invalid > 0)
    truncated = len(text) > max_chars * 2 or len(clean) > max_chars
    return clean[:max_chars], truncated, invalid
