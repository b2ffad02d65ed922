"""Request bodies of the API. Unknown fields are ignored everywhere (one rule, documented in README)."""

from __future__ import annotations

import math

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from outreach.models.text import Identifier, LongText, Name, text

MAX_LEADS_PER_CALL = 100
MAX_CUSTOM_FIELDS = 50
CustomValue = text(2000) | int | float | bool | None
# DynamoDB numbers: 38 significant digits, magnitude within 1e-130 .. 1e126.
_MAX_INT = 10**38
_FLOAT_RANGE = (1e-130, 1e125)


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class Lead(_Body):
    # The schema says what the validator below enforces: at least one way to tell who the lead is.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "anyOf": [
                {"required": [name]} for name in ("first_name", "last_name", "full_name", "company", "linkedin_url")
            ]
        },
    )

    first_name: Name | None = None
    last_name: Name | None = None
    full_name: Name | None = None
    company: Name | None = None
    position: Name | None = None
    headline: text(2000) | None = None
    linkedin_url: text(512) | None = None
    custom_fields: dict[text(64, min_length=1), CustomValue] = Field(default_factory=dict)

    @field_validator("custom_fields")
    @classmethod
    def _flat_and_small(cls, value: dict) -> dict:
        if len(value) > MAX_CUSTOM_FIELDS:
            raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields")
        for key, item in value.items():
            if isinstance(item, bool) or item is None or isinstance(item, str):
                continue
            if isinstance(item, int) and abs(item) >= _MAX_INT:
                raise ValueError(f"custom field {key!r}: integers have at most 38 digits")
            if isinstance(item, float) and not (
                item == 0 or (math.isfinite(item) and _FLOAT_RANGE[0] <= abs(item) <= _FLOAT_RANGE[1])
            ):
                raise ValueError(f"custom field {key!r}: numbers must be finite, between 1e-130 and 1e125")
        return value

    @model_validator(mode="after")
    def _identifiable(self) -> Lead:
        if not any((self.first_name, self.last_name, self.full_name, self.company, self.linkedin_url)):
            raise ValueError("a lead needs a name, a company or a linkedin_url")
        return self

    def as_sent(self) -> dict:
        """The lead as the client sent it (known fields only, nothing added)."""
        return self.model_dump(mode="json", exclude_unset=True)


class PriorNode(_Body):
    subject: text(1000) | None = None
    body: text(20000) | None = None


class SequenceContext(_Body):
    position: int | None = Field(default=None, ge=0, le=2**52 - 1)
    total_nodes: int | None = Field(default=None, ge=0, le=2**52 - 1)
    prior_nodes: list[PriorNode] = Field(default_factory=list, max_length=50)


class GenerateExamplesRequest(_Body):
    leads: list[Lead] = Field(min_length=1, max_length=MAX_LEADS_PER_CALL)
    sequence_context: SequenceContext | None = Field(default=None, alias="sequenceContext")
    is_first_batch: bool = Field(default=False, alias="isFirstBatch")


class ChatTurnRequest(_Body):
    message: text(20000, min_length=1)
    available_var_names: list[text(64, min_length=1)] = Field(
        default_factory=list, alias="availableVarNames", max_length=100
    )
    sample_leads: list[Lead] = Field(default_factory=list, alias="sampleLeads", max_length=10)
    sequence_context: SequenceContext | None = Field(default=None, alias="sequenceContext")


class CreateSessionRequest(_Body):
    campaign_id: Identifier
    node_id: Identifier
    title: text(200) | None = None


class UpdateSessionRequest(_Body):
    title: text(200) | None = None
    draft_subject: text(1000) | None = None
    draft_body: text(20000) | None = None

    def changes(self) -> dict:
        """Only the fields the client named: an explicit null clears, an omitted field stays."""
        return {name: getattr(self, name) for name in self.model_fields_set}


__all__ = [
    "MAX_LEADS_PER_CALL",
    "ChatTurnRequest",
    "CreateSessionRequest",
    "GenerateExamplesRequest",
    "Lead",
    "LongText",
    "PriorNode",
    "SequenceContext",
    "UpdateSessionRequest",
]
