"""Request bodies of the API. Unknown fields are ignored everywhere (one rule, documented in README)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    field_validator,
    model_validator,
)

from outreach.models.text import NON_BLANK, Identifier, LongText, Name, text

MAX_LEADS_PER_CALL = 100
MAX_CUSTOM_FIELDS = 50


def _json_integer(value: Any) -> Any:
    """A JSON integer (7, or 7.0, which JSON Schema counts as one): not true, not "7"."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    return value


# What the document says is what is accepted: no "7" for a number, no 1 for a boolean, no "true" for either.
NodeIndex = Annotated[int, Field(ge=0, le=2**52 - 1), BeforeValidator(_json_integer)]
CustomValue = text(2000) | StrictInt | StrictFloat | StrictBool | None
# DynamoDB numbers: 38 significant digits, magnitude within 1e-130 .. 1e126. A custom number is 0 or of a size
# in [1e-130, 1e38): the store reads a whole float back as an int (1e37 -> 10**37), and every int it can then write
# again has at most 38 digits. One rule for JSON's 7, 7.0 and 7e0 alike.
_SMALLEST = 1e-130
_TOO_LARGE = 1e38


class _Body(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


IDENTIFYING_FIELDS = ("first_name", "last_name", "full_name", "company", "linkedin_url")


def _custom_fields_schema(schema: dict) -> None:
    """The document states what ``_flat_and_small`` checks: keys not blank, at most 50, numbers DynamoDB can store."""
    schema.pop("patternProperties", None)
    schema["propertyNames"] = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NON_BLANK}
    schema["maxProperties"] = MAX_CUSTOM_FIELDS
    schema["additionalProperties"] = {
        "anyOf": [
            {"type": "string", "maxLength": 2000},
            {"type": "number", "minimum": _SMALLEST, "exclusiveMaximum": _TOO_LARGE},
            {"type": "number", "exclusiveMinimum": -_TOO_LARGE, "maximum": -_SMALLEST},
            {"type": "integer", "minimum": 0, "maximum": 0},
            {"type": "boolean"},
            {"type": "null"},
        ]
    }


class Lead(_Body):
    # The schema says what the validator below enforces: at least one way to tell who the lead is, not blank.
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "string", "pattern": NON_BLANK}}}
                for name in IDENTIFYING_FIELDS
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
    custom_fields: dict[text(64, min_length=1), CustomValue] = Field(
        default_factory=dict, json_schema_extra=lambda schema: _custom_fields_schema(schema)
    )

    @field_validator("custom_fields")
    @classmethod
    def _flat_and_small(cls, value: dict) -> dict:
        if len(value) > MAX_CUSTOM_FIELDS:
            raise ValueError(f"at most {MAX_CUSTOM_FIELDS} custom fields")
        for key, item in value.items():
            if isinstance(item, bool) or item is None or isinstance(item, str):
                continue
            if not (item == 0 or _SMALLEST <= abs(item) < _TOO_LARGE):  # NaN and infinities compare False
                raise ValueError(f"custom field {key!r}: a number is 0 or between 1e-130 and 1e38 in size")
        return value

    @model_validator(mode="after")
    def _identifiable(self) -> Lead:
        if not any(getattr(self, name) for name in IDENTIFYING_FIELDS):
            raise ValueError("a lead needs a name, a company or a linkedin_url")
        return self

    def as_sent(self) -> dict:
        """The lead as the client sent it (known fields only, nothing added)."""
        return self.model_dump(mode="json", exclude_unset=True)


class PriorNode(_Body):
    subject: text(1000) | None = None
    body: text(20000) | None = None


class SequenceContext(_Body):
    position: NodeIndex | None = None
    total_nodes: NodeIndex | None = None
    prior_nodes: list[PriorNode] = Field(default_factory=list, max_length=50)


class WebhookTarget(_Body):
    """Where the run's end is POSTed, signed (Standard Webhooks). https, to a public address (else 422)."""

    # The document states the shape (http(s) with a host); whether it may be called depends on where it resolves
    # and on WEBHOOK_ALLOW_LOOPBACK, which no schema can say: that refusal is 422 invalid_webhook_url.
    url: Annotated[text(2048, min_length=1), Field(json_schema_extra={"format": "uri", "pattern": r"^https?://[^/?#\s]+"})]


class GenerateExamplesRequest(_Body):
    leads: list[Lead] = Field(min_length=1, max_length=MAX_LEADS_PER_CALL)
    sequence_context: SequenceContext | None = Field(default=None, alias="sequenceContext")
    is_first_batch: StrictBool = Field(default=False, alias="isFirstBatch")  # "yes" or 1 is no boolean
    webhook: WebhookTarget | None = None


class ChatTurnRequest(_Body):
    message: text(20000, min_length=1)
    available_var_names: list[text(64, min_length=1)] = Field(
        default_factory=list, alias="availableVarNames", max_length=100
    )
    sample_leads: list[Lead] = Field(default_factory=list, alias="sampleLeads", max_length=10)
    sequence_context: SequenceContext | None = Field(default=None, alias="sequenceContext")
    webhook: WebhookTarget | None = None


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
    "WebhookTarget",
]
