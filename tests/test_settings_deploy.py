"""Production configuration: safe defaults, `check --deploy` clean, bad values named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("OUTCOMEDESK_", "DJANGO_", "DATABASE_URL"))}
    clean.update(OUTCOMEDESK_DATA_DIR=str(tmp_path), **env)
    return subprocess.run(
        [sys.executable, "-m", "outcomedesk", *args], env=clean, capture_output=True, text=True, timeout=120
    )


def test_production_config_passes_check_deploy(tmp_path: Path) -> None:
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"], tmp_path,
        OUTCOMEDESK_SECRET_KEY="k" * 20 + "-production-secret-" + "Zq9!x" * 8,
        OUTCOMEDESK_ALLOWED_HOSTS="desk.example.org",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_without_a_secret_key_one_is_generated_and_kept_private(tmp_path: Path) -> None:
    result = _run(["check", "--deploy", "--fail-level", "WARNING"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    key_file = tmp_path / "secret_key"
    assert len(key_file.read_text()) >= 50
    assert key_file.stat().st_mode & 0o077 == 0


def test_a_bad_boolean_is_named(tmp_path: Path) -> None:
    result = _run(["check"], tmp_path, OUTCOMEDESK_HTTPS="maybe")
    assert result.returncode != 0
    assert "OUTCOMEDESK_HTTPS='maybe' is not a boolean" in result.stderr
