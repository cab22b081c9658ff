"""A small real HTTP API on 127.0.0.1 (a thread in the test process) for the HTTP hook, operator and DAG tests.

- `/items?page=N` pages through `items` (`page_size` per page) as `{"items": [...], "next_page": N+1 | null}`;
- any path can be given scripted replies (`reply(path, Reply(503), Reply(200, {...}))`), used in order,
  the last one repeating;
- with `credentials` set, every request needs that basic auth (else 401);
- every request is recorded (method, path, query, headers, body).
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: Any = ""  # a str is sent as text, anything else as JSON
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


class ApiServer:
    def __init__(self, *, items: list[dict[str, Any]] | None = None, page_size: int = 2) -> None:
        self.items = list(items or [])
        self.page_size = page_size
        self.credentials: tuple[str, str] | None = None
        self.requests: list[Recorded] = []
        self._replies: dict[str, list[Reply]] = {}
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def reply(self, path: str, *replies: Reply) -> None:
        with self._lock:
            self._replies[path] = list(replies)

    def requests_to(self, path: str) -> list[Recorded]:
        return [request for request in self.requests if request.path == path]

    def __enter__(self) -> ApiServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    # what the handler asks

    def answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(target)
        query = parse_qs(parts.query)
        with self._lock:
            self.requests.append(Recorded(method, parts.path, query, headers, body))
            scripted = self._replies.get(parts.path)
            reply = (scripted.pop(0) if len(scripted) > 1 else scripted[0]) if scripted else None
        if self.credentials and not _authorized(headers.get("Authorization", ""), self.credentials):
            return Reply(401, {"error": "unauthorized"}, {"WWW-Authenticate": 'Basic realm="api"'})
        if reply is not None:
            return reply
        if parts.path in ("/", ""):
            return Reply(200, "api root")
        if parts.path == "/items":
            return self._items_page(int(query.get("page", ["1"])[0]))
        return Reply(404, {"error": f"no route {parts.path}"})

    def _items_page(self, page: int) -> Reply:
        start = (page - 1) * self.page_size
        chunk = self.items[start : start + self.page_size]
        has_more = start + self.page_size < len(self.items)
        return Reply(200, {"items": chunk, "page": page, "next_page": page + 1 if has_more else None})


def _authorized(header: str, credentials: tuple[str, str]) -> bool:
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "basic":
        return False
    return base64.b64decode(token).decode() == f"{credentials[0]}:{credentials[1]}"


def _handler_for(api: ApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            reply = api.answer(self.command, self.path, dict(self.headers.items()), body)
            if reply.delay:
                time.sleep(reply.delay)
            data = reply.body.encode() if isinstance(reply.body, str) else json.dumps(reply.body).encode()
            kind = "text/plain" if isinstance(reply.body, str) else "application/json"
            try:
                self.send_response(reply.status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a timeout test)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = _serve

        def log_message(self, format: str, *args: Any) -> None:
            pass  # keep pytest's output for failures

    return Handler
