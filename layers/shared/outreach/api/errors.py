"""Every error answer is JSON ``{error, code, details?}``: the resolver's exception and not-found handlers.

Also what happens when an answer fails response validation: it is data the service wrote, so it is sent as it is
and the drift is logged, never turned into an error (models/responses.py).
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError

from outreach.errors import ApiError, BadRequest
from outreach.observability import service_logger

logger = service_logger()


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body), headers=headers)


def answer(status: int, body: Any) -> Response:
    """A route's answer: the body stays a dict, so Powertools validates it against the route's ``Response[Model]``."""
    return Response(status_code=status, content_type="application/json", body=body)


def campaign_id_required() -> BadRequest:
    return BadRequest("campaign_id is required: GET ...?campaign_id=<id>.", code="campaign_id_required")


def invalid_json() -> Response:
    return json_response(400, {"error": "The request body is not valid JSON.", "code": "invalid_json"})


def validation_answer(problems: list[dict[str, Any]]) -> Response:
    """422 for the body and query, 400 for path parameters; ``details`` never echo the input (leads, secrets)."""
    if any(tuple(p.get("loc", ())) == ("query", "campaign_id") and p.get("type") == "missing" for p in problems):
        error = campaign_id_required()  # the same 400 as an empty campaign_id
        return json_response(error.status, error.body())
    if any(p.get("type") == "json_invalid" for p in problems):
        return invalid_json()
    details = [
        {"loc": [str(part) for part in p.get("loc", ())], "msg": str(p.get("msg", "")), "type": str(p.get("type", ""))}
        for p in problems
    ]
    first = details[0] if details else {"loc": [], "msg": "invalid"}
    where = ".".join(first["loc"][1:] if first["loc"][:1] in (["body"], ["path"], ["query"]) else first["loc"])
    message = f"Invalid request: {where}: {first['msg']}" if where else f"Invalid request: {first['msg']}"
    status = 400 if any(d["loc"][:1] == ["path"] for d in details) else 422
    return json_response(status, {"error": message, "code": "validation_error", "details": details})


def unvalidated_answer(app: APIGatewayHttpResolver, body: Any, problems: list[dict[str, Any]]) -> Response:
    """Powertools reports a failed response validation as a request validation error at ``("response", ...)``.

    The answer is the service's own data: send it unchanged, with the route's success status, and log where it
    drifted from its model (field paths and error types only, never values).
    """
    route = app.context.get("_route")  # set by Powertools for the matched route, as its own middlewares read it
    status = min((code for code in (getattr(route, "responses", None) or {}) if 200 <= code < 300), default=200)
    drift = [{"loc": [str(part) for part in p.get("loc", ())], "type": str(p.get("type", ""))} for p in problems]
    logger.error("answer failed response validation; sent unvalidated", extra={"status": status, "drift": drift})
    return json_response(status, body)


def register(app: APIGatewayHttpResolver) -> None:
    @app.exception_handler(ApiError)
    def api_error(error: ApiError) -> Response:
        return json_response(error.status, error.body())

    @app.exception_handler(RequestValidationError)
    def validation_error(error: RequestValidationError) -> Response:
        problems = list(error.errors())
        if any(tuple(p.get("loc", ()))[:1] == ("response",) for p in problems):
            return unvalidated_answer(app, error.body, problems)
        return validation_answer(problems)

    @app.not_found
    def not_found(_: Exception) -> Response:
        """404 for an unknown path; 405 with ``Allow`` for a known path and another method."""
        path, method = app.current_event.path, app.current_event.http_method.upper()
        allowed = sorted({r.method for r in app._static_routes + app._dynamic_routes if r.rule.match(path)})
        if allowed and method not in allowed:
            error = {"error": f"{method} is not allowed here. Allowed: {', '.join(allowed)}.",
                     "code": "method_not_allowed"}
            return json_response(405, error, headers={"Allow": ", ".join(allowed)})
        return json_response(404, {"error": f"No route {method} {path}.", "code": "route_not_found"})

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response:
        logger.exception("unhandled error")
        return json_response(
            500, {"error": "Internal error. Check the session's task_status before retrying.", "code": "internal_error"}
        )
