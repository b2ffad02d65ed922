"""Errors the API turns into JSON answers: ``{"error": ..., "code": ...}``."""

from __future__ import annotations

from typing import Any


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, *, code: str | None = None, details: list[Any] | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        self.details = details

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message, "code": self.code}
        if self.details is not None:
            out["details"] = self.details
        return out


class BadRequest(ApiError):
    status = 400
    code = "bad_request"


class Unauthorized(ApiError):
    status = 401
    code = "unauthorized"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Conflict(ApiError):
    status = 409
    code = "session_busy"


class PayloadTooLarge(ApiError):
    status = 413
    code = "payload_too_large"


class Unprocessable(ApiError):
    status = 422
    code = "validation_error"


class DispatchFailed(ApiError):
    status = 500
    code = "dispatch_failed"


class NoFramework(BadRequest):
    code = "no_framework"

    def __init__(self) -> None:
        super().__init__("Session has no framework yet. Chat first to create one.")


class SessionNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("No chat session with that id in this workspace.", code="session_not_found")


class SessionBusy(Conflict):
    def __init__(self, task_status: str) -> None:
        super().__init__(
            f"The session is busy ({task_status}). Poll the session until task_status is null, then retry.",
            code="session_busy",
        )


class TooManyExamples(Unprocessable):
    code = "too_many_examples"


class TooManyMessages(Unprocessable):
    code = "too_many_messages"


class TooLarge(Unprocessable):
    """A field that passed validation but would not fit what it is stored in."""

    code = "too_large"

    def __init__(self, loc: list[str], message: str) -> None:
        super().__init__(message, details=[{"loc": loc, "msg": message, "type": "too_large"}])


class InvalidCursor(BadRequest):
    code = "invalid_cursor"

    def __init__(self) -> None:
        super().__init__("The cursor is not one this list gave out: start again without it.")


class ExamplesChanged(Conflict):
    code = "examples_changed"

    def __init__(self) -> None:
        super().__init__(
            "The session's examples changed since this cursor was given out (a run ended): read the session again."
        )


class ClaimLost(Exception):
    """A run tried to write a session it no longer holds (expired, reclaimed or deleted)."""


class LLMPermanentError(Exception):
    """The model will not answer this request: retrying cannot help."""


class LLMTransientError(Exception):
    """Rate limits, 5xx, timeouts after the client's own retries: Step Functions retries the lead."""


class WorkspaceBusy(Exception):
    """The workspace already has its cap of LLM calls in flight: Step Functions retries the lead later."""


class StoreThrottled(Exception):
    """DynamoDB kept throttling after the SDK's own retries: transient, Step Functions retries the step."""


class ItemTooLarge(Exception):
    """The write would take an item past DynamoDB's 400 KB limit."""


class RunAlreadyFinished(Exception):
    """The run was finished by an earlier call: nothing to do again."""


class ResultNotStored(Exception):
    """A lead's paid-for result could not be written (throttled past its retries): recorded failed, never retried,
    so the model is not paid twice."""
