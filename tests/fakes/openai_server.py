"""A fake OpenAI-compatible server: answers /v1/chat/completions with structured outputs.

It honours ``response_format.json_schema`` (EmailDraft or FrameworkReply) and
lets tests script faults per lead: a lead whose data contains one of the
marker strings below gets that failure. It records every request and the
highest number of requests in flight at once, so tests can prove the leads ran
in parallel and that each call carried exactly one lead.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# Put one of these in a lead's field to script its fate.
PERMANENT_FAIL = "FAKE_LLM_400"  # 400 every time: a permanent error
RATE_LIMIT_ONCE = "FAKE_LLM_429_ONCE"  # 429 on the first call, then fine
ALWAYS_500 = "FAKE_LLM_500"  # 500 every time: transient, retried, then failed
EMPTY_ONCE = "FAKE_LLM_EMPTY_ONCE"  # an empty body once: retried for validation, then fine
REFUSE = "FAKE_LLM_REFUSE"  # a refusal every time
DROP = "FAKE_LLM_DROP"  # the connection closes with no answer, every time
SLOW = "FAKE_LLM_SLOW"  # answers after 30 s: longer than any client timeout in the tests

_PROSPECT = re.compile(r"<prospect_data>\s*(.*?)\s*</prospect_data>", re.S)


@dataclass
class FakeOpenAI:
    latency_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    max_in_flight: int = 0
    _in_flight: int = 0
    _seen: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None
    url: str = ""
    chat_route: bool = True  # False: only the Responses API, like some compatible servers
    # Scripted emails: a lead whose prospect data holds the key gets these answers, one per call, in order
    # (the last one repeats). Set with script_emails().
    _scripts: dict[str, list[dict[str, str]]] = field(default_factory=dict)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> FakeOpenAI:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw_body = self.rfile.read(length) or b"{}"
                body = json.loads(raw_body)
                if DROP.encode() in raw_body:
                    with fake._lock:
                        fake.requests.append({"path": self.path, "body": body, "headers": {}, "at": time.monotonic()})
                    self.close_connection = True
                    self.connection.close()
                    return
                if SLOW.encode() in raw_body and b"EmailDraft" in raw_body:
                    time.sleep(30)
                status, payload, headers = fake.handle(self.path, body, dict(self.headers.items()))
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for k, v in headers.items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(raw)

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512  # a 100-lead run connects all at once

        self.server = Server(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        return self

    def stop(self) -> None:
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.requests.clear()
            self._seen.clear()
            self._scripts.clear()
            self.max_in_flight = 0

    def script_emails(self, key: str, *answers: dict[str, str]) -> None:
        """The lead whose prospect data contains ``key`` (its name, say) gets ``answers`` ({subject, body}):
        the first call the first one, the second call the second, and so on; the last one repeats."""
        with self._lock:
            self._scripts[key] = list(answers)
            self._seen.pop("script" + key, None)  # a new script starts from its first answer

    def email_prompts_for(self, key: str) -> list[list[dict[str, Any]]]:
        """The messages of every email request whose prospect data contains ``key``, in order."""
        with self._lock:
            bodies = [r["body"] for r in self.requests if _schema_name(r["body"]) == "EmailDraft"]
        return [b["messages"] for b in bodies if key in json.dumps(_prospect(b.get("messages") or []))]

    # ------------------------------------------------------------- answers
    def email_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if _schema_name(r["body"]) == "EmailDraft"]

    def handle(self, path: str, body: dict, headers: dict) -> tuple[int, dict, dict]:
        with self._lock:
            self.requests.append({"path": path, "body": body, "headers": headers, "at": time.monotonic()})
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
        try:
            if self.latency_s:
                time.sleep(self.latency_s)
            return self._answer(path, body)
        finally:
            with self._lock:
                self._in_flight -= 1

    def _count(self, key: str) -> int:
        with self._lock:
            self._seen[key] += 1
            return self._seen[key]

    def _answer(self, path: str, body: dict) -> tuple[int, dict, dict]:
        if path.endswith("/chat/completions") and self.chat_route:
            messages, schema, wrap = body.get("messages") or [{}], _schema_name(body), _completion
        elif path.endswith("/responses"):
            fmt = ((body.get("text") or {}).get("format") or {})
            messages, schema, wrap = body.get("input") or [{}], fmt.get("name", ""), _response
        else:
            return 404, {"error": {"message": "not found", "type": "invalid_request_error"}}, {}
        status, content, refusal, headers = self._content(messages, schema)
        if status != 200:
            return status, content, headers
        return 200, wrap(body, messages, content, refusal), headers

    def _content(self, messages: list, schema: str) -> tuple[int, Any, str | None, dict]:
        if schema == "EmailDraft":
            lead = _prospect(messages)
            key = lead_text = json.dumps(lead)
            if PERMANENT_FAIL in lead_text:
                return 400, _error("bad request for this lead", "invalid_request_error"), None, {}
            if ALWAYS_500 in lead_text:
                return 500, _error("server error", "server_error"), None, {}
            if RATE_LIMIT_ONCE in lead_text and self._count("429" + key) == 1:
                return 429, _error("slow down", "rate_limit_exceeded"), None, {"retry-after-ms": "10"}
            if REFUSE in lead_text:
                return 200, None, "I can't help with that.", {}
            if EMPTY_ONCE in lead_text and self._count("empty" + key) == 1:
                return 200, {"subject": "", "body": ""}, None, {}
            scripted = self._scripted(lead_text)
            if scripted is not None:
                return 200, scripted, None, {}
            name = lead.get("first_name") or lead.get("full_name") or "there"
            company = lead.get("company") or "your company"
            content = {
                "subject": f"An idea for {company}",
                "body": f"Hi {name},\n\nA short note about {company}.\n\nBest,\nSam",
            }
            return 200, content, None, {}
        if schema == "FrameworkReply":
            content = {
                "reply": "Here is a framework.",
                "framework": {
                    "skeleton": {
                        "goal": "Book a call",
                        "audience": "Heads of sales",
                        "tone": "direct",
                        "sections": [{"name": "opener", "guidance": "Mention their company."}],
                        "personalization": ["first_name", "company"],
                        "call_to_action": "a 15-minute call",
                        "max_words": 100,
                    },
                    "draft_subject": "Idea for %company%",
                    "draft_body": "Hi %first_name%, ...",
                },
            }
            return 200, content, None, {}
        return 400, _error("unsupported response_format", "invalid_request_error"), None, {}


    def _scripted(self, lead_text: str) -> dict[str, str] | None:
        with self._lock:
            found = next(((k, v) for k, v in self._scripts.items() if k in lead_text), None)
        if found is None:
            return None
        key, answers = found
        return answers[min(self._count("script" + key), len(answers)) - 1]


def _prospect(messages: list) -> dict:
    """The lead of an email request: in the message holding the <prospect_data> tag (a repair request adds
    messages after it; the instructions only mention the tag's name)."""
    for message in reversed(messages):
        match = _PROSPECT.search(str(message.get("content", "")))
        if match:
            return json.loads(match.group(1))
    return {}


def _schema_name(body: dict) -> str:
    fmt = body.get("response_format") or {}
    return (fmt.get("json_schema") or {}).get("name", "")


def _error(message: str, kind: str) -> dict:
    return {"error": {"message": message, "type": kind, "param": None, "code": kind}}


def _usage(messages: list, text: str | None) -> tuple[int, int]:
    return sum(len(str(m.get("content", ""))) for m in messages) // 4, len(text or "") // 4


def _completion(request: dict, messages: list, content: Any, refusal: str | None) -> dict:
    text = json.dumps(content) if content is not None else None
    prompt_tokens, completion_tokens = _usage(messages, text)
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "fake"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text, "refusal": refusal},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": 0},
        },
    }


def _response(request: dict, messages: list, content: Any, refusal: str | None) -> dict:
    text = json.dumps(content) if content is not None else None
    input_tokens, output_tokens = _usage(messages, text)
    part = (
        {"type": "refusal", "refusal": refusal} if refusal
        else {"type": "output_text", "text": text, "annotations": []}
    )
    return {
        "id": "resp_fake",
        "object": "response",
        "created_at": int(time.time()),
        "model": request.get("model", "fake"),
        "status": "completed",
        "output": [
            {"type": "message", "id": "msg_fake", "status": "completed", "role": "assistant", "content": [part]}
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "total_tokens": input_tokens + output_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens_details": {"reasoning_tokens": 0},
        },
    }
