"""A local server speaking the part of Slack's Web API that Outcomedesk calls (`users.info`, `chat.postMessage`),
and a slash command's `response_url`, on a free 127.0.0.1 port: it answers as Slack documents and records every
call, so the tests read what Outcomedesk sent."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.net import free_port


class SlackApi:
    def __init__(self, people: dict[str, tuple[str, str]], token: str) -> None:
        self.people, self.token = people, token  # Slack user id -> (e-mail, real name)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                method = self.path.rsplit("/", 1)[-1]
                api.calls.append((method, body))
                if method in ("users.info", "chat.postMessage") and \
                        self.headers.get("Authorization") != f"Bearer {api.token}":
                    answer: dict[str, Any] = {"ok": False, "error": "invalid_auth"}
                elif method == "users.info":
                    found = api.people.get(body.get("user", ""))
                    answer = {"ok": False, "error": "user_not_found"}
                    if found:
                        profile = {"email": found[0], "real_name": found[1]}
                        answer = {"ok": True, "user": {"id": body["user"], "profile": profile}}
                elif method == "chat.postMessage":
                    answer = {"ok": True, "channel": body.get("channel"), "ts": f"{len(api.calls)}.000100"}
                else:  # a response_url
                    answer = {"ok": True}
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def start(self) -> SlackApi:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def posted(self) -> list[dict[str, Any]]:
        return [body for method, body in self.calls if method == "chat.postMessage"]
