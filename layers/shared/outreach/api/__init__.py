"""The HTTP API on Powertools' event handler: one resolver, a Router per resource, the error answers.

- ``resolver.py``: builds the resolver, includes the routers, adapts an API Gateway event to it.
- ``guards.py``: what must happen before routing (body size, API key, body decoding).
- ``routes/``: sessions, tasks (chat turns, example runs), runs, the OpenAPI document.
- ``errors.py``: every error answer is JSON ``{error, code, details?}``.
- ``documentation.py``: the OpenAPI document's text and the per-route ``responses=``.
"""
