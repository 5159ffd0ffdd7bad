"""A real Prometheus Alertmanager (Debian's prometheus-alertmanager) for the intake tests: a throwaway
configuration whose one receiver is the running Outcomedesk's webhook, clustering off, on a free 127.0.0.1 port.
Tests raise and clear alerts through its own API (POST /api/v2/alerts), as Prometheus does."""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.net import free_port

ALERTMANAGER = shutil.which("prometheus-alertmanager") or "/usr/bin/prometheus-alertmanager"


class AlertmanagerServer:
    """One Alertmanager process sending to `webhook_url` with `token`; `stop()` ends it and removes its folder."""

    def __init__(self, webhook_url: str, token: str) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="outcomedesk-alertmanager-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.webhook_url, self.token = webhook_url, token
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> AlertmanagerServer:
        config = self.folder / "alertmanager.yml"
        config.write_text(json.dumps({  # YAML is a superset of JSON
            "route": {"receiver": "outcomedesk", "group_by": ["alertname", "service"], "group_wait": "1s",
                      "group_interval": "1s", "repeat_interval": "1h"},
            "receivers": [{"name": "outcomedesk", "webhook_configs": [{
                "url": self.webhook_url, "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": self.token}},
            }]}],
        }))
        self.process = subprocess.Popen(
            [ALERTMANAGER, f"--config.file={config}", f"--storage.path={self.folder / 'data'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--cluster.listen-address=", "--log.level=warn"],
            stdout=subprocess.DEVNULL, stderr=(self.folder / "alertmanager.log").open("wb"))
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"alertmanager exited: {self.log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=1) as answer:
                    if answer.status == 200:
                        return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"alertmanager did not answer on {self.url}")

    def log(self) -> str:
        """What Alertmanager wrote (its warnings: a webhook it could not deliver, with the reason)."""
        path = self.folder / "alertmanager.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        shutil.rmtree(self.folder, ignore_errors=True)

    def raise_alerts(self, *alerts: dict[str, Any]) -> None:
        """Post alerts as Prometheus does: each with labels, annotations, startsAt, and endsAt to clear it."""
        body = json.dumps(list(alerts)).encode()
        request = urllib.request.Request(f"{self.url}/api/v2/alerts", data=body, method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as answer:
            if answer.status != 200:
                raise RuntimeError(f"alertmanager refused the alerts: {answer.status}")


def instant(moment: datetime | None = None) -> str:
    return (moment or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
