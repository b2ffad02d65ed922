"""How the checks read text: normalised comparison, word tokens, sentence starts, writing scripts.

Comparison is case-insensitive, with Unicode compatibility forms folded, curly apostrophes straightened,
possessives dropped ("Ledgerline's" reads as "ledgerline") and punctuation turned into word breaks, so
"Vasquez-Hart" in an email matches "vasquez hart" anywhere in the inputs.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import KeysView
from functools import lru_cache

from cachetools import LRUCache, cached

_APOSTROPHES = re.compile(r"[\u2018\u2019\u02bc`\u00b4]")
_POSSESSIVE = re.compile(r"(?<=[^\W\d_])'s\b|(?<=[^\W\d_]s)'(?!\w)", re.IGNORECASE)
# A comparison token: a run of letters and digits, or an ampersand ("Harbor & Pine").
_TOKEN = re.compile(r"[^\W_]+|&")


# A run's review compares every lead's email with every other lead's name and company, and reads the session's
# chat and draft again for each lead: the same strings are folded and tokenised again and again. Both are pure
# functions of the text, so both are cached. Short texts (names, companies, subjects) are cached by count. Longer
# ones (emails, chat messages, drafts) are cached by the size of what is kept: a count alone let a warm container,
# or a long-running `make serve`, keep its last 16,384 texts whatever their length (a 5,000-character chat
# message's tokens are ~50 kB). cachetools' LRUCache weighs its entries; functools' lru_cache only counts them.
SHORT_TEXT = 256  # characters
LONG_FOLDS_KEPT = 300_000  # characters of folded long texts (a session's chat and draft, many times over)
LONG_TOKENS_KEPT = 50_000  # tokens of long texts, ~55 bytes each: ~3 MB


def _fold(text: str) -> str:
    text = _APOSTROPHES.sub("'", unicodedata.normalize("NFKC", text))
    return _POSSESSIVE.sub("", text).casefold()


def _tokenise(text: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(fold(text)))


def _the_text(text: str) -> str:
    return text


_fold_short = lru_cache(maxsize=16384)(_fold)
_tokens_short = lru_cache(maxsize=16384)(_tokenise)
_fold_long = cached(LRUCache(LONG_FOLDS_KEPT, getsizeof=len), key=_the_text, lock=threading.Lock())(_fold)
_tokens_long = cached(LRUCache(LONG_TOKENS_KEPT, getsizeof=len), key=_the_text, lock=threading.Lock())(_tokenise)


def fold(text: str) -> str:
    """Case-folded, compatibility-normalised, apostrophes straightened, possessives dropped."""
    return _fold_short(text) if len(text) <= SHORT_TEXT else _fold_long(text)


def _token_tuple(text: str) -> tuple[str, ...]:
    return _tokens_short(text) if len(text) <= SHORT_TEXT else _tokens_long(text)


def tokens(text: str) -> list[str]:
    return list(_token_tuple(text))


def token_tuple(text: str) -> tuple[str, ...]:
    """``tokens`` as a tuple, cached: for hot loops that only read it."""
    return _token_tuple(text)


def strip_possessive(text: str) -> str:
    """ "Ledgerline's" -> "Ledgerline", "Sales'" -> "Sales" (as written otherwise)."""
    text = _APOSTROPHES.sub("'", text)
    if text.lower().endswith("'s"):
        return text[:-2]
    if text.endswith("s'"):
        return text[:-1]
    return text


@lru_cache(maxsize=4096)
def script_of(char: str) -> str:
    """The writing system of a letter: LATIN, CYRILLIC, CJK, HIRAGANA, ARABIC..., from its Unicode name."""
    try:
        return unicodedata.name(char).split(" ", 1)[0]
    except ValueError:
        return ""


def is_caseless_letter(char: str) -> bool:
    """A letter of a script with no capitals (Han, kana, Hangul, Arabic, Hebrew, Devanagari, Thai...)."""
    return char.isalpha() and not char.isupper() and not char.islower()


def is_capitalised(word: str) -> bool:
    """ "Priya", "HubSpot", "iPhone", "CRM", "Ørsted", "Дмитрий": written with a capital where prose has none."""
    letters = [c for c in word if c.isalpha()]
    if not letters:
        return False
    return letters[0].isupper() or any(c.isupper() for c in letters[1:])


def word_count(text: str) -> int:
    """Words as a reader counts them: whitespace-separated pieces that hold a letter or a digit."""
    return sum(1 for piece in text.split() if any(c.isalnum() for c in piece))


_SPAN = re.compile(r"[^\W_]+(?:['\u2019][sS](?![^\W_]))?|&")


@lru_cache(maxsize=64)
def _word_index(text: str) -> tuple[tuple[tuple[int, int, str], ...], dict[str, list[int]]]:
    """The words of ``text`` once (start, end, token), and where each token occurs: many phrases are
    looked up in one email."""
    flat = []
    for match in _SPAN.finditer(text):
        found = _token_tuple(match.group(0))
        if found:
            flat.append((match.start(), match.end(), found[0]))
    where: dict[str, list[int]] = {}
    for i, (_, _, token) in enumerate(flat):
        where.setdefault(token, []).append(i)
    return tuple(flat), where


def words_in(text: str) -> KeysView[str]:
    """The comparison tokens of ``text`` (as ``find_written`` matches them): a phrase whose first token is
    not among them is not written in ``text``."""
    return _word_index(text)[1].keys()


def find_written(text: str, phrase: str) -> str | None:
    """Where ``phrase`` appears in ``text`` as whole words (case-insensitive, possessives and punctuation
    normalised), the words as written in ``text``; else None."""
    wanted = _token_tuple(phrase)
    if not wanted:
        return None
    flat, where = _word_index(text)
    for i in where.get(wanted[0], ()):
        if tuple(t for _, _, t in flat[i:i + len(wanted)]) == wanted:
            return strip_possessive(text[flat[i][0]:flat[i + len(wanted) - 1][1]])
    return None


def find_in_email(subject: str, body: str, phrase: str) -> str | None:
    """``phrase`` as written in the subject, else in the body (see find_written); else None."""
    return find_written(subject, phrase) or find_written(body, phrase)
