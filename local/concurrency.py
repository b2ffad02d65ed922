"""Let one process serve API requests in parallel, as many Lambda containers would.

Powertools' resolver keeps the request being handled on the class
(``BaseRouter.current_event``) and the routing context on the app: right for a
Lambda container, which handles one request at a time, wrong for a threaded
local server. Here those three become per-thread. So do the keys its Logger
adds to every line (``inject_lambda_context``: function name, request id,
correlation id): one formatter serves every function here, and an invoke's lines
carried whichever function had started last. Nothing changes on AWS.
"""

from __future__ import annotations

import threading
from abc import ABCMeta

_local = threading.local()


def forget_request() -> None:
    """Drop this thread's request state once its invoke ends: handler threads are pooled, and an idle one must
    not keep the last request it handled (a body may be 1 MiB)."""
    _local.__dict__.clear()


class _PerThread:
    """A data descriptor whose value is per thread (class and instance access alike)."""

    def __init__(self, name: str, default=None):
        self.name, self.default = name, default

    def __get__(self, obj, owner=None):
        if not hasattr(_local, self.name) and self.default is not None:
            setattr(_local, self.name, self.default())
        return getattr(_local, self.name, None)

    def __set__(self, obj, value) -> None:
        setattr(_local, self.name, value)


class _RouterMeta(ABCMeta):
    # Class-level assignment (BaseRouter.current_event = ...) goes through the metaclass.
    current_event = _PerThread("current_event")
    lambda_context = _PerThread("lambda_context")


class _PerThreadLogFormat:
    """LambdaPowertoolsFormatter.log_format per thread. Each thread starts from the format as it was built
    (with the keys appended at import, before any invoke), and drops its own when its invoke ends."""

    def __get__(self, formatter, owner=None):
        if formatter is None:
            return self
        name = f"log_format_{id(formatter)}"
        value = _local.__dict__.get(name)
        if value is None:
            value = _local.__dict__[name] = dict(_base_log_format(formatter))
        return value

    def __set__(self, formatter, value) -> None:
        formatter.__dict__.setdefault("_outreach_base_log_format", value)  # the first: __init__'s
        _local.__dict__[f"log_format_{id(formatter)}"] = value


def _base_log_format(formatter) -> dict:
    if "_outreach_base_log_format" not in formatter.__dict__:  # built before the switch: its format so far
        formatter.__dict__["_outreach_base_log_format"] = formatter.__dict__.get("log_format", {})
    return formatter.__dict__["_outreach_base_log_format"]


def make_resolver_thread_safe() -> None:
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    if not isinstance(LambdaPowertoolsFormatter.__dict__.get("log_format"), _PerThreadLogFormat):
        LambdaPowertoolsFormatter.log_format = _PerThreadLogFormat()

    if type(BaseRouter) is _RouterMeta:
        return
    # Instance reads (app.current_event) find these in the class dict first.
    BaseRouter.current_event = _PerThread("current_event")
    BaseRouter.lambda_context = _PerThread("lambda_context")
    BaseRouter.context = _PerThread("context", dict)
    BaseRouter.__class__ = _RouterMeta
