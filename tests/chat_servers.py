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


# --- Microsoft Teams through the Bot Framework -------------------------------------------------------------------

class _JsonServer:
    """A ThreadingHTTPServer on a free 127.0.0.1 port whose `answer(method, path, headers, body)` gives
    (status, JSON); every request is recorded as (method, path, headers, body)."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, dict[str, str], bytes]] = []
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
                headers = {name.lower(): value for name, value in self.headers.items()}
                server.requests.append((self.command, self.path, headers, body))
                status, answer = server.answer(self.command, self.path, headers, body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _any  # http.server calls do_<METHOD>

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        raise NotImplementedError

    def start(self) -> Any:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class BotConnectorKeys(_JsonServer):
    """The Bot Connector's OpenID metadata and its signing keys (JWKS, each key with its `endorsements`), as
    login.botframework.com publishes them; `token(...)` signs a token as the Bot Connector does with a published
    key, or with `key=` another one."""

    def __init__(self, key: Any, kid: str, endorsements: tuple[str, ...] = ("msteams",)) -> None:
        super().__init__()
        self.openid_url = f"{self.url}/v1/.well-known/openidconfiguration"
        self.keys: list[tuple[Any, str, tuple[str, ...]]] = [(key, kid, endorsements)]

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        from jwt.algorithms import RSAAlgorithm

        if path == "/v1/.well-known/openidconfiguration":
            return 200, {"issuer": "https://api.botframework.com", "authorization_endpoint":
                         "https://invalid.botframework.com", "jwks_uri": f"{self.url}/v1/.well-known/keys",
                         "id_token_signing_alg_values_supported": ["RS256"],
                         "token_endpoint_auth_methods_supported": ["private_key_jwt"]}
        if path == "/v1/.well-known/keys":
            published = []
            for key, kid, endorsements in self.keys:
                jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
                published.append({**jwk, "kid": kid, "use": "sig", "endorsements": list(endorsements)})
            return 200, {"keys": published}
        return 404, {"error": "not found"}

    def fetches(self) -> int:
        return sum(1 for method, path, _, _ in self.requests if path == "/v1/.well-known/keys")

    def token(self, claims: dict[str, Any], *, key: Any = None, kid: str | None = None, alg: str = "RS256") -> str:
        import jwt

        signing_key, published_kid, _ = self.keys[0]
        return jwt.encode(claims, key or signing_key, algorithm=alg, headers={"kid": kid or published_kid})


class EntraTokenEndpoint(_JsonServer):
    """Microsoft Entra ID's token endpoint for the client credentials grant (`/{tenant}/oauth2/v2.0/token`): a bot
    with the right app id and secret asking for the Bot Connector's scope gets an access token."""

    def __init__(self, app_id: str, secret: str, tenant: str = "botframework.com") -> None:
        super().__init__()
        self.app_id, self.secret, self.tenant = app_id, secret, tenant
        self.token_url = f"{self.url}/{tenant}/oauth2/v2.0/token"
        self.issued: list[str] = []

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        from urllib.parse import parse_qs

        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        if method != "POST" or path != f"/{self.tenant}/oauth2/v2.0/token":
            return 404, {"error": "invalid_request", "error_description": f"no tenant at {path}"}
        if form.get("grant_type") != "client_credentials" or form.get("scope") != "https://api.botframework.com/.default":
            return 400, {"error": "invalid_request", "error_description": "client_credentials for the bot scope"}
        if (form.get("client_id"), form.get("client_secret")) != (self.app_id, self.secret):
            return 401, {"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret"}
        self.issued.append(f"access-token-{len(self.issued) + 1}")
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": self.issued[-1]}


class BotConnector(_JsonServer):
    """The Bot Connector's REST API for a bot's messages (`POST /v3/conversations/{conversationId}/activities` and
    `.../activities/{activityId}`, ids percent-encoded), taking only the access tokens the token endpoint issued:
    it records what arrived in `posted`, as (conversation id, the activity replied to or None, the activity)."""

    def __init__(self, tokens: EntraTokenEndpoint) -> None:
        super().__init__()
        self.tokens = tokens
        self.service_url = f"{self.url}/amer/"
        self.posted: list[tuple[str, str | None, dict[str, Any]]] = []
        self.failures = 0  # answer this many posts 503 first

    def answer(self, method: str, path: str, headers: dict[str, str], body: bytes) -> tuple[int, Any]:
        from urllib.parse import unquote

        parts = path.split("/")  # "", "amer", "v3", "conversations", <id>, "activities"[, <activity id>]
        if method != "POST" or parts[1:4] != ["amer", "v3", "conversations"] or len(parts) not in (6, 7) \
                or parts[5] != "activities":
            return 404, {"error": {"code": "BadSyntax", "message": f"no route {path}"}}
        bearer = headers.get("authorization", "")
        if not bearer.startswith("Bearer ") or bearer[7:] not in self.tokens.issued:
            return 401, {"message": "Authorization has been denied for this request."}
        if self.failures:
            self.failures -= 1
            return 503, {"error": {"code": "ServiceError", "message": "try again"}}
        activity = json.loads(body)
        self.posted.append((unquote(parts[4]), unquote(parts[6]) if len(parts) == 7 else None, activity))
        return 201, {"id": f"17000000{len(self.posted):05d}"}
