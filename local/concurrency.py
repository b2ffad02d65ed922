"""Let one process serve API requests in parallel, as many Lambda containers would.

Powertools' resolver keeps the request being handled on the class
(``BaseRouter.current_event``) and the routing context on the app: right for a
Lambda container, which handles one request at a time, wrong for a threaded
local server. Here those three become per-thread. Nothing changes on AWS.
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


def make_resolver_thread_safe() -> None:
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    if type(BaseRouter) is _RouterMeta:
        return
    # Instance reads (app.current_event) find these in the class dict first.
    BaseRouter.current_event = _PerThread("current_event")
    BaseRouter.lambda_context = _PerThread("lambda_context")
    BaseRouter.context = _PerThread("context", dict)
    BaseRouter.__class__ = _RouterMeta
