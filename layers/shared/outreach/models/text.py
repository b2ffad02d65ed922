"""Text types shared by the request models: bounded, and free of control characters."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field, StringConstraints

# C0/C1 control characters except tab, newline and carriage return: they break
# prompts, terminals and CSV exports, and no lead field needs them.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
# One character that cleaning keeps: neither a control character above nor whitespace as str.strip() sees it.
# A required text holds one (blank or whitespace-only is refused); the OpenAPI document states it as `pattern`.
NON_BLANK = r"[^\x00-\x20\x7f-\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]"

# A session id: a uuid (versions 1-8, RFC 4122 variant), or the all-zero or all-f uuid (valid, never found).
SESSION_ID_PATTERN = (
    r"^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}"
    r"|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$"
)


def _clean(value: str) -> str:
    return _CONTROL.sub("", value).strip()


def text(max_length: int, min_length: int = 0):
    """A string capped at ``max_length`` characters, control characters and surrounding whitespace removed.

    With ``min_length``, what is left must be that long: the document says so with ``pattern`` (NON_BLANK).
    """
    return Annotated[
        str,
        StringConstraints(max_length=max_length, min_length=min_length or None),
        Field(json_schema_extra={"pattern": NON_BLANK} if min_length else None),
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
