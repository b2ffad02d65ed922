"""ungrounded_fact: a figure, date, URL, email address, @handle or proper noun found in none of the inputs.

Not flagged: a sentence's first word on its own, ordinary words however capitalised (ordinary_words.txt),
weekday and month names, quarters ("Q3"), idioms with digits ("24/7", "B2B"), and anything present in the
inputs, compared case-insensitively with possessives and punctuation normalised.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from outreach.review.calendar_words import is_calendar_word
from outreach.review.numbers import find_figures, mask
from outreach.review.ordinary import is_ordinary
from outreach.review.placeholders import PLACEHOLDER_PATTERNS
from outreach.review.sources import Sources, caseless_runs
from outreach.review.text import is_capitalised, is_caseless_letter, strip_possessive

EMAIL_ADDRESS = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
URL = re.compile(
    r"\b(?:https?://|www\.)[^\s<>\"'\]]+"
    r"|\b(?:[a-z0-9-]+\.)+(?:com|io|ai|co|net|org|app|dev|tech|xyz|info|biz|us|uk|de|fr|es|it|nl|se|no|fi|dk|ca"
    r"|eu|jp|in|au|ch|at|be|ie)\b(?:/[^\s<>\"'\]]*)?",
    re.IGNORECASE,
)
HANDLE = re.compile(r"(?<![\w@.])@[A-Za-z0-9_]{2,30}\b")
WORD = re.compile(r"[^\W\d_](?:[\w'\u2019-]*[^\W_])?")
SENTENCE_END = re.compile(r"[.!?:;\u2026]")
# Lower-case words inside a name: "Bank of America", "Harbor & Pine", "Ludwig van Beethoven".
CONNECTORS = frozenset({"of", "de", "la", "le", "van", "von", "der", "den", "da", "di", "du", "del", "y"})
_TRAILING = ".,;:!?)'\""
SIGN_OFF = re.compile(
    r"^\s*(?:best|best regards|kind regards|warm regards|regards|thanks|thank you|many thanks|cheers|sincerely|"
    r"warmly|talk soon|speak soon|all the best|best wishes)\s*[,.!-]*\s*$",
    re.IGNORECASE,
)


@dataclass
class _Word:
    text: str
    start: int
    end: int
    sentence_start: bool


def ungrounded_strings(subject: str, body: str, sources: Sources) -> list[str]:
    """Each string of the email that states something the inputs do not hold, as written, each once."""
    found: list[str] = []
    for text in (subject, body):
        found += _ungrounded_in(text, sources)
    return list(dict.fromkeys(found))


def _ungrounded_in(text: str, sources: Sources) -> list[tuple[int, str]] | list[str]:
    hits: list[tuple[int, str]] = []
    for pattern in (EMAIL_ADDRESS, URL, HANDLE):
        for match in pattern.finditer(text):
            written = match.group(0).rstrip(_TRAILING)
            grounded = sources.has_web(written) or (
                pattern is HANDLE and f"@ {written[1:].lower()}" in sources.folded
            )
            if not grounded:
                hits.append((match.start(), written))
            text = mask(text, match.start(), match.end())
    for pattern in PLACEHOLDER_PATTERNS:  # reported by unresolved_placeholder, not here
        for match in pattern.finditer(text):
            text = mask(text, match.start(), match.end())
    for figure in find_figures(text):
        if not sources.has_figure(figure.kind, figure.value, figure.text):
            hits.append((figure.start, figure.text))
        text = mask(text, figure.start, figure.end)
    hits += _proper_nouns(text, sources)
    hits += _caseless_names(text, sources)
    return [written for _, written in sorted(hits)]


def _words(text: str) -> list[list[_Word]]:
    """The words of each line, each marked when it starts a sentence."""
    lines: list[list[_Word]] = []
    offset = 0
    for line in text.split("\n"):
        words: list[_Word] = []
        previous_end = 0
        for match in WORD.finditer(line):
            gap = line[previous_end:match.start()]
            starts = not words or bool(SENTENCE_END.search(gap))
            words.append(_Word(match.group(0), offset + match.start(), offset + match.end(), starts))
            previous_end = match.end()
        lines.append(words)
        offset += len(line) + 1
    return lines


def _joins(text: str, left: _Word, right: _Word) -> bool:
    gap = text[left.end:right.start]
    return gap.strip() in ("", "&") and "\n" not in gap


def _is_name_word(word: _Word) -> bool:
    return len(word.text) > 1 and is_capitalised(word.text) and not is_calendar_word(word.text)


def _phrases(text: str) -> list[list[_Word]]:
    """Runs of capitalised words, joined by spaces, "&" or a lower-case connector ("Bank of America")."""
    phrases: list[list[_Word]] = []
    for words in _words(text):
        current: list[_Word] = []
        i = 0
        while i < len(words):
            word = words[i]
            if _is_name_word(word) and (not current or (not word.sentence_start and _joins(text, current[-1], word))):
                current.append(word)
                i += 1
                continue
            nxt = words[i + 1] if i + 1 < len(words) else None
            if (
                current
                and word.text in CONNECTORS
                and nxt is not None
                and _is_name_word(nxt)
                and _joins(text, current[-1], word)
                and _joins(text, word, nxt)
            ):
                current += [word, nxt]
                i += 2
                continue
            if current:
                phrases.append(current)
            current = [word] if _is_name_word(word) else []
            i += 1
        if current:
            phrases.append(current)
    return phrases


def _signature(text: str) -> range:
    """The line that signs the email after a sign-off ("Best,\nSam Carter"): the sender's name is not a claim
    about the prospect, so it is not checked for names. Empty when there is no such line."""
    lines = text.split("\n")
    offset = 0
    for i, line in enumerate(lines):
        offset += len(line) + 1
        if SIGN_OFF.match(line):
            rest = offset
            for following in lines[i + 1:]:
                if following.strip():
                    if len(following.split()) <= 4:
                        return range(rest, rest + len(following))
                    break
                rest += len(following) + 1
    return range(0)


def _capitals_inside(word: str) -> bool:
    """Capitals past the first letter ("TechCorp", "iPhone", "IBM"): a name wherever it stands."""
    letters = [c for c in strip_possessive(word) if c.isalpha()]
    return any(c.isupper() for c in letters[1:])


def _proper_nouns(text: str, sources: Sources) -> list[tuple[int, str]]:
    hits: list[tuple[int, str]] = []
    signature = _signature(text)
    for phrase in _phrases(text):
        if phrase[0].start in signature:
            continue
        if phrase[0].sentence_start:
            if len(phrase) == 1 and not _capitals_inside(phrase[0].text):
                continue  # a sentence's first word is capitalised whatever it is; "TechCorp" or "IBM" is a name
            if is_ordinary(phrase[0].text):
                phrase = phrase[1:]
        while phrase and (is_ordinary(phrase[0].text) or phrase[0].text in CONNECTORS):
            phrase = phrase[1:]
        while phrase and (is_ordinary(phrase[-1].text) or phrase[-1].text in CONNECTORS):
            phrase = phrase[:-1]
        if not phrase:
            continue
        written = strip_possessive(text[phrase[0].start:phrase[-1].end])
        if sources.has_phrase(written):
            continue
        names = [w for w in phrase if w.text not in CONNECTORS and not is_ordinary(w.text)]
        if all(sources.has_every_word(strip_possessive(w.text)) for w in names):
            continue
        hits.append((phrase[0].start, written))
    return hits


def _caseless_names(text: str, sources: Sources) -> list[tuple[int, str]]:
    """Names in scripts without capitals, in an email written mostly in a script with them ("山田 at Acme").
    An email written in such a script is left alone: there a name cannot be told from a word."""
    letters = [c for c in text if c.isalpha()]
    caseless = sum(1 for c in letters if is_caseless_letter(c))
    if not caseless or caseless * 2 > len(letters):
        return []
    hits = []
    for run in caseless_runs(text):
        if not sources.has_caseless(run):
            hits.append((text.find(run), run))
    return hits
