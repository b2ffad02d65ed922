"""Writing the emails out: CSV, JSON or Markdown by the file's extension."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from outreach_cli.leads import display_name

FORMATS = (".csv", ".json", ".md")
CSV_COLUMNS = ["lead", "company", "lead_id", "status", "verdict", "flags", "subject", "body", "error", "run_id"]


def verdict(example: dict[str, Any]) -> str:
    review = example.get("review") or {}
    if example.get("status") != "completed":
        return "failed"
    return str(review.get("verdict") or "unreviewed")


def flags(example: dict[str, Any]) -> list[str]:
    return [
        f"{flag.get('check')}: {', '.join(flag.get('evidence') or []) or flag.get('detail', '')}"
        for flag in (example.get("review") or {}).get("flags") or []
    ]


def _row(example: dict[str, Any]) -> dict[str, Any]:
    lead = example.get("lead") or {}
    return {
        "lead": display_name({k: v for k, v in lead.items() if k != "company"}) if lead else "",
        "company": lead.get("company", ""),
        "lead_id": example.get("lead_id", ""),
        "status": example.get("status", ""),
        "verdict": verdict(example),
        "flags": "; ".join(flags(example)),
        "subject": example.get("subject") or "",
        "body": example.get("body") or "",
        "error": example.get("error") or "",
        "run_id": example.get("run_id", ""),
    }


def markdown(examples: list[dict[str, Any]]) -> str:
    parts = []
    for example in examples:
        lead = example.get("lead") or {}
        parts.append(f"## {display_name(lead)}\n")
        parts.append(f"*{verdict(example)}*" + (f": {'; '.join(flags(example))}" if flags(example) else "") + "\n")
        if example.get("status") == "completed":
            parts.append(f"**Subject:** {example.get('subject') or ''}\n\n{example.get('body') or ''}\n")
        else:
            parts.append(f"Failed: {example.get('error') or 'unknown reason'}\n")
    return "\n".join(parts)


def write(path: Path, examples: list[dict[str, Any]]) -> None:
    suffix = path.suffix.lower()
    if suffix == ".json":
        path.write_text(json.dumps(examples, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    elif suffix == ".md":
        path.write_text(markdown(examples), encoding="utf-8")
    elif suffix == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
            writer.writeheader()
            writer.writerows(_row(e) for e in examples)
    else:
        raise ValueError(f"--out takes a {', '.join(FORMATS)} file")
