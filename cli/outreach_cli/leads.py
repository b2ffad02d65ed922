"""Leads from a file: CSV as sales tools export it, or JSON.

CSV headers are matched case- and spacing-insensitively to lead fields (``First Name``, ``Company Name``,
``Person Linkedin Url`` ...); any other column becomes a custom field. Empty cells are left out. Rows are
checked against the API's limits here, so a bad row is reported with its line number before anything is sent.
"""

from __future__ import annotations

import csv
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Normalised header -> lead field. Normalising drops case, spaces, underscores, dashes and dots.
HEADERS = {
    "firstname": "first_name",
    "first": "first_name",
    "lastname": "last_name",
    "last": "last_name",
    "surname": "last_name",
    "fullname": "full_name",
    "name": "full_name",
    "company": "company",
    "companyname": "company",
    "organization": "company",
    "organisation": "company",
    "account": "company",
    "accountname": "company",
    "title": "position",
    "jobtitle": "position",
    "position": "position",
    "headline": "headline",
    "linkedin": "linkedin_url",
    "linkedinurl": "linkedin_url",
    "personlinkedinurl": "linkedin_url",
    "linkedinprofile": "linkedin_url",
    "linkedinprofileurl": "linkedin_url",
}
IDENTIFYING = ("first_name", "last_name", "full_name", "company", "linkedin_url")
# The API's limits (docs/README "Limits"): checked here so a bad row names its line.
MAX_CHARS = {"first_name": 256, "last_name": 256, "full_name": 256, "company": 256, "position": 256,
             "headline": 2000, "linkedin_url": 512}
MAX_CUSTOM_FIELDS, MAX_CUSTOM_KEY, MAX_CUSTOM_VALUE = 50, 64, 2000


def normalise(header: str) -> str:
    return re.sub(r"[\s_\-.]+", "", header.strip().lower())


@dataclass
class BadRow:
    line: int
    reason: str


@dataclass
class LeadFile:
    leads: list[dict[str, Any]] = field(default_factory=list)
    bad_rows: list[BadRow] = field(default_factory=list)

    def add(self, line: int, lead: Any) -> None:
        """Keep ``lead``, or note why the API would refuse it, by its line (CSV) or position (JSON)."""
        reason = problem(lead) if isinstance(lead, dict) else "a lead is a JSON object"
        if reason:
            self.bad_rows.append(BadRow(line, reason))
        else:
            self.leads.append(lead)


def problem(lead: dict[str, Any]) -> str | None:
    """Why the API would refuse this lead, or None."""
    if not any(str(lead.get(name) or "").strip() for name in IDENTIFYING):
        return "a lead needs a name, a company or a LinkedIn URL"
    for name, limit in MAX_CHARS.items():
        if len(str(lead.get(name) or "")) > limit:
            return f"{name} is longer than {limit} characters"
    custom = lead.get("custom_fields") or {}
    if len(custom) > MAX_CUSTOM_FIELDS:
        return f"more than {MAX_CUSTOM_FIELDS} custom fields"
    for key, value in custom.items():
        if len(key) > MAX_CUSTOM_KEY:
            return f"custom field name {key[:20]!r}... is longer than {MAX_CUSTOM_KEY} characters"
        if isinstance(value, str) and len(value) > MAX_CUSTOM_VALUE:
            return f"custom field {key!r} is longer than {MAX_CUSTOM_VALUE} characters"
    return None


def _from_row(row: dict[str | None, Any], columns: dict[str, str]) -> dict[str, Any]:
    lead: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    for header, value in row.items():
        if header is None:  # more cells than headers
            raise ValueError("the row has more cells than the header")
        cell = (value or "").strip() if isinstance(value, str) else value
        if cell in ("", None):
            continue
        target = columns.get(header)
        if target is None:
            custom[header.strip()] = cell
        elif target not in lead:  # the first of two columns for one field wins
            lead[target] = cell
    if custom:
        lead["custom_fields"] = custom
    return lead


def read_csv(path: Path) -> LeadFile:
    text = path.read_text(encoding="utf-8-sig")  # Excel's exports start with a BOM
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(text.splitlines(keepends=True), dialect=dialect)
    columns = {h: HEADERS[normalise(h)] for h in reader.fieldnames or [] if normalise(h) in HEADERS}
    out = LeadFile()
    for row in reader:
        line = reader.line_num
        if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
            continue  # blank lines are not leads
        try:
            lead = _from_row(row, columns)
        except ValueError as error:
            out.bad_rows.append(BadRow(line, str(error)))
            continue
        out.add(line, lead)
    return out


def read_json(path: Path) -> LeadFile:
    data = json.loads(path.read_text(encoding="utf-8"))
    if isinstance(data, dict):
        data = data.get("leads")
    if not isinstance(data, list):
        raise ValueError("a JSON leads file is a list of leads, or {\"leads\": [...]}")
    out = LeadFile()
    for number, lead in enumerate(data, start=1):
        out.add(number, lead)
    return out


def read_leads(path: Path) -> LeadFile:
    if path.suffix.lower() == ".json":
        return read_json(path)
    return read_csv(path)


def display_name(lead: dict[str, Any]) -> str:
    name = lead.get("full_name") or " ".join(p for p in (lead.get("first_name"), lead.get("last_name")) if p)
    name = name or lead.get("linkedin_url") or ""
    company = lead.get("company")
    return f"{name} ({company})" if name and company else (name or company or "?")
