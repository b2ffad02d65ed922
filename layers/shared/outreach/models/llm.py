"""Structured outputs the LLMs must produce (strict JSON schema: every field required)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    # The openai SDK sends these as strict schemas (additionalProperties: false) whatever this says;
    # "ignore" only makes reading answers from lenient compatible servers forgiving.
    model_config = ConfigDict(extra="ignore")


class EmailDraft(_Strict):
    subject: str = Field(description="The email's subject line, plain text, no placeholders.")
    body: str = Field(description="The email's body, plain text with line breaks, no placeholders.")


class SkeletonSection(_Strict):
    name: str = Field(description="Short name of the section, e.g. 'opener' or 'proof'.")
    guidance: str = Field(description="What this section says and how it is personalised.")


class Skeleton(_Strict):
    goal: str = Field(description="What the email should achieve.")
    audience: str = Field(description="Who it is written for.")
    tone: str
    sections: list[SkeletonSection]
    personalization: list[str] = Field(description="Lead fields or variables each email draws on.")
    call_to_action: str
    max_words: int


class Framework(_Strict):
    skeleton: Skeleton
    draft_subject: str = Field(description="Template subject; may use %variable% placeholders.")
    draft_body: str = Field(description="Template body; may use %variable% placeholders.")


class FrameworkReply(_Strict):
    reply: str = Field(description="The assistant's answer to the user, shown in the chat.")
    framework: Framework | None = Field(description="The email framework once there is enough to write it, else null.")


class Usage(BaseModel):
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            cached_input_tokens=self.cached_input_tokens + other.cached_input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
        )
