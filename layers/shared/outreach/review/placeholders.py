"""unresolved_placeholder: template syntax or a writer's note left in the email."""

from __future__ import annotations

import re

# Each pattern is one way a template or a draft marks a gap.
PLACEHOLDER_PATTERNS = [
    re.compile(r"\{\{[^{}\n]{0,80}\}\}"),  # {{first_name}}, {{ company }}
    re.compile(r"(?<!\{)\{\s*[A-Za-z_][\w .-]{0,40}\}(?!\})"),  # {first_name}, ${company}
    re.compile(r"(?<![\w%])%[A-Za-z_][\w.-]{0,40}(?: [\w.-]{1,40}){0,3}%(?!\w)"),  # %first_name%, not "40% to 95%"
    re.compile(r"\[\s*[A-Za-z][^\[\]\n]{0,60}\](?!\()"),  # [First Name], [insert stat]; not a [link](url)
    re.compile(r"<\s*insert\b[^<>\n]{0,80}>", re.IGNORECASE),  # <insert company>
    re.compile(r"\b(?:TODO|FIXME|TBD|XXX+)\b"),  # notes left by a writer, in capitals only
]


def find_placeholders(text: str) -> list[str]:
    """Every unfilled gap in ``text``, as written, in order, each once."""
    found: list[tuple[int, str]] = []
    taken: list[range] = []
    for pattern in PLACEHOLDER_PATTERNS:
        for match in pattern.finditer(text):
            if any(match.start() in span for span in taken):
                continue  # "{{x}}" is not also "{x}"
            taken.append(range(match.start(), match.end()))
            found.append((match.start(), match.group(0)))
    return list(dict.fromkeys(s for _, s in sorted(found)))


def check_placeholders(subject: str, body: str) -> list[str]:
    return list(dict.fromkeys(find_placeholders(subject) + find_placeholders(body)))
