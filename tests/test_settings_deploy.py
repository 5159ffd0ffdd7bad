"""Production configuration: safe defaults, `check --deploy` clean, bad values named."""

from __future__ import annotations

import json
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


def test_with_redis_a_killed_workers_tasks_go_to_another_worker(tmp_path: Path) -> None:
    """Acknowledged once run; put back when the pool process dies; given to another worker after the redelivery
    time when the whole worker does (tests/test_intake_durability.py kills real ones)."""
    code = ("import json; from django.conf import settings as s; print(json.dumps([s.CELERY_TASK_ACKS_LATE, "
            "s.CELERY_TASK_REJECT_ON_WORKER_LOST, s.CELERY_BROKER_TRANSPORT_OPTIONS]))")
    redis = {"CELERY_BROKER_URL": "redis://127.0.0.1:6379/0"}
    result = _run(["shell", "--no-imports", "-c", code], tmp_path, **redis)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == [True, True, {
        "visibility_timeout": 3600, "unacked_restore_interval": 10, "unacked_restore_throttle": 1,
        "unacked_mutex_expire": 300}]
    result = _run(["shell", "--no-imports", "-c", code], tmp_path, **redis, OUTCOMEDESK_TASK_REDELIVERY_SECONDS="4",
                  OUTCOMEDESK_BROKER_KEY_PREFIX="staging:")
    assert json.loads(result.stdout.strip().splitlines()[-1])[2] == {
        "visibility_timeout": 4, "unacked_restore_interval": 2, "unacked_restore_throttle": 1,
        "unacked_mutex_expire": 4, "global_keyprefix": "staging:"}
    result = _run(["check"], tmp_path, **redis, OUTCOMEDESK_TASK_REDELIVERY_SECONDS="0")
    assert result.returncode != 0 and "OUTCOMEDESK_TASK_REDELIVERY_SECONDS=0 must be 1 or more" in result.stderr
