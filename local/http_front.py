"""A threaded HTTP front that turns each request into an API Gateway HTTP API (v2.0) event."""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from local.bus import aws_json_call
from local.execution_starts import held_until_answered

# API Gateway refuses payloads over 10 MB before the function sees them.
MAX_REQUEST_BYTES = 10 * 1024 * 1024
PROXY_PREFIX = "/api/"  # the template's one route: ANY /api/{proxy+}


def to_event(method: str, target: str, headers: dict[str, str], body: bytes, source_ip: str) -> dict[str, Any]:
    url = urlsplit(target)
    # An HTTP API hands the function the path percent-decoded, in rawPath and pathParameters alike
    # (REST APIs and function URLs keep it encoded): ids are checked as the client meant them.
    path = unquote(url.path or "/", errors="replace")
    query: dict[str, str] = {}
    for key, value in parse_qsl(url.query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value  # HTTP API joins repeats with commas
    lowered = {k.lower(): v for k, v in headers.items()}
    text_body: str | None = None
    is_base64 = False
    if body:
        try:
            text_body = body.decode("utf-8")
        except UnicodeDecodeError:
            text_body, is_base64 = base64.b64encode(body).decode(), True
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": url.query,
        "cookies": [],
        "headers": lowered,
        "queryStringParameters": query or None,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": lowered.get("host", "127.0.0.1"),
            "domainPrefix": "local",
            "http": {
                "method": method.upper(),
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": text_body,
        "pathParameters": {"proxy": path[len(PROXY_PREFIX):]} if path.startswith(PROXY_PREFIX) else None,
        "isBase64Encoded": is_base64,
    }


def make_server(stack, host: str = "127.0.0.1", port: int = 3000) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "outreach-local"
        disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

        def log_message(self, fmt: str, *args: Any) -> None:  # quiet: the handlers log what matters
            pass

        def __getattr__(self, name: str):
            # BaseHTTPRequestHandler answers a method it has no do_<METHOD> for (TRACE, CONNECT, made-up ones)
            # with a 501 HTML page: pass every method to the API, whose answer is the JSON 405.
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

        def _handle(self) -> None:
            with held_until_answered():  # the executions this request starts begin once it is answered
                self._answer()

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_REQUEST_BYTES:
                self._reply(413, {"error": "The request body is too large.", "code": "payload_too_large"}, close=True)
                return
            body = self.rfile.read(length) if length else b""
            target = self.headers.get("X-Amz-Target")
            if target is not None and self.command == "POST":  # an AWS JSON call to the bus or the queues
                content_type = self.headers.get("Content-Type") or "application/x-amz-json-1.1"
                self._reply(*aws_json_call(stack, target, body), content_type=content_type)
                return
            event = to_event(self.command, self.path, dict(self.headers.items()), body, self.client_address[0])
            try:
                result = stack.invoke_api(event)
            except Exception:  # the handler itself answers errors; this is the front's last resort
                self._reply(500, {"error": "Internal error.", "code": "internal_error"})
                return
            payload = result.get("body") or ""
            raw = base64.b64decode(payload) if result.get("isBase64Encoded") else payload.encode()
            self.send_response(int(result.get("statusCode", 200)))
            headers = {k.lower(): v for k, v in (result.get("headers") or {}).items()}
            headers.setdefault("content-type", "application/json")
            for key, value in headers.items():
                if key not in ("content-length", "connection"):
                    self.send_header(key, str(value))
            for key, values in (result.get("multiValueHeaders") or {}).items():
                for value in values:
                    self.send_header(key, str(value))
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _reply(self, status: int, body: dict, close: bool = False, content_type: str = "application/json") -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            if close:
                self.send_header("Connection", "close")
                self.close_connection = True
            self.end_headers()
            self.wfile.write(raw)


    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the default 5 makes bursts of clients wait a SYN retry (1 s)

    server = Server((host, port), Handler)
    return server


def serve_in_background(stack, host: str = "127.0.0.1", port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    server = make_server(stack, host, port)
    thread = threading.Thread(target=server.serve_forever, name="http-front", daemon=True)
    thread.start()
    return server, f"http://{host}:{server.server_address[1]}"
