"""`outcomedesk serve` behind a TLS proxy: the forwarded scheme, address and host are believed exactly when
OUTCOMEDESK_BEHIND_PROXY is set. The real command, started on a free port, answers real HTTP requests."""

from __future__ import annotations

import http.client
import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from outcomedesk.core.management.commands.serve import proxy_options
from tests.net import free_port

CLIENT = "198.51.100.7"




@contextmanager
def serving(data: Path, *, behind_proxy: bool, migrate: bool = False) -> Iterator[int]:
    port = free_port()
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("OUTCOMEDESK_", "DATABASE_URL", "DJANGO_"))}
    env.update({
        "OUTCOMEDESK_DATA_DIR": str(data), "OUTCOMEDESK_SECRET_KEY": "serve-proxy-test-" + "x" * 40,
        "OUTCOMEDESK_ALLOWED_HOSTS": "127.0.0.1,desk.example.org", "OUTCOMEDESK_BEHIND_PROXY": str(behind_proxy),
        "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parent.parent / "src"), env.get("PYTHONPATH", "")]),
    })
    command = [sys.executable, "-m", "outcomedesk", "serve", "--port", str(port), "--no-beat", "--threads", "2"]
    server = subprocess.Popen(command + (["--migrate"] if migrate else []), env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 180
        while True:
            assert server.poll() is None, server.stdout.read() if server.stdout else "serve ended"
            assert time.monotonic() < deadline, "serve did not listen within 180 s"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def get(port: int, path: str, **headers: str) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.request("GET", path, headers={"Host": "127.0.0.1", **headers})
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def attempt_addresses(data: Path) -> list[str]:
    with sqlite3.connect(data / "outcomedesk.sqlite3") as db:
        return [row[0] for row in db.execute("select ip_address from axes_accessattempt order by id")]


def test_the_proxy_options_trust_nothing_unless_behind_a_proxy() -> None:
    assert proxy_options(False, "*") == {"clear_untrusted_proxy_headers": True}
    behind = proxy_options(True, "10.0.0.5")
    assert behind["trusted_proxy"] == "10.0.0.5" and behind["trusted_proxy_count"] == 1
    assert behind["trusted_proxy_headers"] == {"x-forwarded-proto", "x-forwarded-for", "x-forwarded-host",
                                               "x-forwarded-port"}


def test_serve_believes_the_forwarded_scheme_address_and_host_only_behind_a_proxy(tmp_path: Path) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": CLIENT}

    with serving(tmp_path, behind_proxy=False, migrate=True) as port:
        # Plain HTTP goes to HTTPS; a client claiming https is not believed: still redirected, no HSTS.
        plain = get(port, "/login/")
        assert plain.status == 301 and plain.getheader("Location") == "https://127.0.0.1/login/"
        claimed = get(port, "/login/", **https)
        assert claimed.status == 301 and claimed.getheader("Strict-Transport-Security") is None
        assert get(port, "/api/v1/me", Authorization="Bearer od_guess", **https).status == 301
        bad = get(port, "/api/v1/me", Authorization="Bearer od_guess", **{"X-Forwarded-For": CLIENT})
        assert bad.status == 301

    with serving(tmp_path, behind_proxy=True) as port:
        # Through the TLS proxy: served, not redirected (the loop of issue 12), with HSTS since it is https.
        page = get(port, "/login/", **https)
        assert page.status == 200
        assert page.getheader("Strict-Transport-Security", "").startswith("max-age=")
        # Plain http through the proxy is still sent to https, at the host the client asked the proxy for.
        plain = get(port, "/login/", **{"X-Forwarded-Proto": "http", "X-Forwarded-Host": "desk.example.org"})
        assert plain.status == 301 and plain.getheader("Location") == "https://desk.example.org/login/"
        # A bad token is counted against the client's address, not the proxy's.
        assert get(port, "/api/v1/me", Authorization="Bearer od_guess", **https).status == 401
        assert attempt_addresses(tmp_path) == [CLIENT]
        # A header that is not a scheme is refused by waitress with 400, never a 5xx.
        assert get(port, "/login/", **{"X-Forwarded-Proto": "gopher"}).status == 400
