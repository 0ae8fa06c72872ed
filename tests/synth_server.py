"""A loopback OpenAI-compatible server whose every reply a test decides (status, body, headers, delay)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from linguabridge.data.generation import request_key


@dataclass
class Reply:
    status: int = 200
    body: bytes | dict | list | str | None = None  # bytes as they are; anything else as JSON
    headers: dict = field(default_factory=dict)
    delay: float = 0.0


def completion(text: str) -> dict:
    return {
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}]
    }


class ScriptedServer:
    """``POST /v1/chat/completions`` answered by ``reply(body, headers) -> Reply``; every request is logged
    as (request key, Authorization header) with the key the client computes (messages, params, model)."""

    def __init__(self, reply: Callable[[dict, dict], Reply]):
        self.reply = reply
        self.lock = threading.Lock()
        self.log: list[str] = []
        self.auth: set[str] = set()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):  # noqa: N802 - http.server's naming
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                params = {k: v for k, v in body.items() if k not in ("model", "messages")}
                with server.lock:
                    server.log.append(request_key(body["messages"], params, body["model"]))
                    server.auth.add(self.headers.get("Authorization", ""))
                r = server.reply(body, self.headers)  # case-insensitive .get()
                time.sleep(r.delay)
                data = r.body if isinstance(r.body, bytes) else json.dumps(r.body).encode()
                try:
                    self.send_response(r.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in r.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up on this attempt

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def keys(self) -> list[str]:
        with self.lock:
            return list(self.log)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
