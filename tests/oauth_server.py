"""A small OAuth 2.0 authorization server on 127.0.0.1 for the intake tests, in a thread of the tests: the token
endpoint (RFC 6749: the client credentials and refresh token grants, the client authenticated by its secret in
the body or by HTTP Basic) and token introspection (RFC 7662), which the tests' Dovecot asks about the bearer
token of every XOAUTH2 login (its oauth2 passdb), as a mail server asks its identity provider.

A client is registered for one mailbox user, the one its tokens may read (as an app is granted one mailbox in
Microsoft 365). Every request is recorded, for the tests to see what the product asked for.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote


@dataclass
class Token:
    username: str
    client_id: str
    scope: str
    expires_at: float
    active: bool = True


@dataclass
class OAuthState:
    clients: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (secret, username)
    refresh_tokens: dict[str, str] = field(default_factory=dict)  # refresh token -> client id
    tokens: dict[str, Token] = field(default_factory=dict)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    introspected: list[str] = field(default_factory=list)
    lifetime: int = 3600  # seconds an access token is valid, as `expires_in` says


class OAuthServer:
    """One authorization server; `stop()` ends it."""

    def __init__(self) -> None:
        self.state = OAuthState()
        self.lock = threading.Lock()
        self.http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self.http.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.token_url = f"{self.url}/token"
        self.introspection_url = f"{self.url}/introspect"

    def start(self) -> OAuthServer:
        threading.Thread(target=self.http.serve_forever, name="oauth-server", daemon=True).start()
        return self

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()

    def reset(self) -> None:
        """Forget every client, token and request (between tests: the server lives for the session)."""
        with self.lock:
            self.state = OAuthState()

    def register(self, client_id: str, secret: str, username: str) -> None:
        with self.lock:
            self.state.clients[client_id] = (secret, username)

    def refresh_token_for(self, client_id: str) -> str:
        """A refresh token of `client_id` (as a person's consent gives one)."""
        token = secrets.token_urlsafe(24)
        with self.lock:
            self.state.refresh_tokens[token] = client_id
        return token

    def issue(self, client_id: str, scope: str = "") -> str:
        """An access token of `client_id`, made without the token endpoint (as another tool would fetch one)."""
        with self.lock:
            return self._issue(client_id, scope)

    def revoke_all(self) -> None:
        """Every access token issued so far is no longer active (revoked, or its client disabled)."""
        with self.lock:
            for token in self.state.tokens.values():
                token.active = False

    def _issue(self, client_id: str, scope: str) -> str:
        token = secrets.token_urlsafe(32)
        self.state.tokens[token] = Token(self.state.clients[client_id][1], client_id, scope,
                                         time.time() + self.state.lifetime)
        return token

    # --- the endpoints ----------------------------------------------------------------------------------------

    def token_endpoint(self, form: dict[str, str], authorization: str) -> tuple[int, dict[str, Any]]:
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        if authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
            client_id, secret = unquote(client_id), unquote(secret)
        with self.lock:
            self.state.token_requests.append({k: v for k, v in form.items() if k != "client_secret"}
                                             | {"client_id": client_id})
            client = self.state.clients.get(client_id)
            if client is None or not secrets.compare_digest(client[0], secret):
                return 401, {"error": "invalid_client", "error_description": "Client authentication failed."}
            grant = form.get("grant_type", "")
            if grant == "refresh_token":
                if self.state.refresh_tokens.get(form.get("refresh_token", "")) != client_id:
                    return 400, {"error": "invalid_grant", "error_description": "The refresh token is not valid."}
            elif grant != "client_credentials":
                return 400, {"error": "unsupported_grant_type", "error_description": f"{grant!r} is not supported."}
            token = self._issue(client_id, form.get("scope", ""))
            return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.state.lifetime,
                         "scope": form.get("scope", "")}

    def introspection_endpoint(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self.lock:
            token = self.state.tokens.get(form.get("token", ""))
            self.state.introspected.append(form.get("token", ""))
            if token is None or not token.active or token.expires_at < time.time():
                return 200, {"active": False}
            return 200, {"active": True, "username": token.username, "client_id": token.client_id,
                         "scope": token.scope, "token_type": "Bearer", "exp": int(token.expires_at)}


def _handler(server: OAuthServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            form = {key: values[0] for key, values in parse_qs(body).items()}
            if self.path == "/token":
                status, answer = server.token_endpoint(form, self.headers.get("Authorization", ""))
            elif self.path == "/introspect":
                status, answer = server.introspection_endpoint(form)
            else:
                status, answer = 404, {"error": "not_found"}
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler
