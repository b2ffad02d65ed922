"""Text types shared by the request models: bounded, and free of control characters."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, StringConstraints

# C0/C1 control characters except tab, newline and carriage return: they break
# prompts, terminals and CSV exports, and no lead field needs them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _clean(value: str) -> str:
    return _CONTROL.sub("", value).strip()


def text(max_length: int, min_length: int = 0):
    """A string capped at ``max_length`` characters, control characters removed."""
    return Annotated[
        str,
        StringConstraints(max_length=max_length, min_length=min_length or None),
        AfterValidator(_clean),
        AfterValidator(_require_min(min_length)),
    ]


def _require_min(min_length: int):
    def check(value: str) -> str:
        if len(value) < min_length:
            raise ValueError("must not be empty" if min_length == 1 else f"must be at least {min_length} characters")
        return value

    return check


Name = text(256)
LongText = text(4000)
Identifier = text(128, min_length=1)
