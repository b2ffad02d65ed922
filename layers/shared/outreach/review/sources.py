"""The inputs of one email, indexed once for the grounding check's look-ups."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from outreach.review.numbers import find_figures
from outreach.review.text import fold, is_caseless_letter, script_of, tokens

_WEB = re.compile(r"^(?:https?://)?(?:www\.)?")


def web_form(text: str) -> str:
    """A URL, domain, email address or handle as compared: no scheme, no www., no trailing slash or dot."""
    return _WEB.sub("", fold(text)).rstrip("/.,;:!?)")


@dataclass
class Sources:
    token_stream: str  # " tok tok tok ", for word-bounded phrase look-ups
    token_set: frozenset[str]
    folded: str  # the whole text folded, for URLs and scripts written without spaces
    values: dict[str, set[float]]  # figure values by kind
    written: set[str]  # figures as written (kind, folded and tokenised): how dates and times are compared

    @classmethod
    def of(cls, texts: list[str]) -> Sources:
        stream: list[str] = []
        values: dict[str, set[float]] = {"money": set(), "percent": set(), "number": set()}
        written: set[str] = set()
        for text in texts:
            stream += tokens(text)
            stream.append("|")  # no phrase spans two inputs
            for figure in find_figures(text):
                if figure.value is not None:
                    values[figure.kind].add(figure.value)
                    values["number"].add(figure.value)
                written.add(_written(figure.kind, figure.text))
        return cls(
            token_stream=f" {' '.join(stream)} ",
            token_set=frozenset(stream),
            folded="\n".join(fold(t) for t in texts),
            values=values,
            written=written,
        )

    def has_phrase(self, text: str) -> bool:
        words = tokens(text)
        return bool(words) and f" {' '.join(words)} " in self.token_stream

    def has_every_word(self, text: str) -> bool:
        words = tokens(text)
        return bool(words) and all(w in self.token_set for w in words)

    def has_web(self, text: str) -> bool:
        form = web_form(text)
        return bool(form) and form in self.folded

    def has_caseless(self, run: str) -> bool:
        """A name in a script without spaces: found inside the inputs, or it holds one of their runs
        ("田中さん" holds "田中")."""
        folded = fold(run)
        if folded in self.folded:
            return True
        return any(len(part) >= 2 and part in folded for part in self._caseless_runs)

    @cached_property
    def _caseless_runs(self) -> list[str]:
        return caseless_runs(self.folded)

    def has_figure(self, kind: str, value: float | None, written: str) -> bool:
        if _written(kind, written) in self.written:
            return True
        if value is None:
            return False
        if kind == "percent":
            return value in self.values["percent"]
        if kind == "money":
            return value in self.values["money"] or value in self.values["number"]
        return value in self.values["number"]


def _written(kind: str, text: str) -> str:
    return f"{kind}:{' '.join(tokens(text))}"


def caseless_runs(text: str) -> list[str]:
    """Runs of letters of one caseless script (kana that only inflect, hiragana, are left out)."""
    runs: list[str] = []
    current, current_script = "", ""
    for char in text:
        script = script_of(char) if is_caseless_letter(char) else ""
        if script == "HIRAGANA":
            script = ""
        if script and script == current_script:
            current += char
            continue
        if current:
            runs.append(current)
        current, current_script = (char, script) if script else ("", "")
    if current:
        runs.append(current)
    return runs
