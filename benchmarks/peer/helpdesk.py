"""Set up django-helpdesk 2.6.1 for the peer benchmark, from PyPI only, and serve it with gunicorn.

    .venv/bin/python -m benchmarks.peer.helpdesk setup --tickets 100000     # venv, database, load (~2 min)
    .venv/bin/python -m benchmarks.peer.helpdesk setup --reuse               # venv only; keep the database

What it makes, all of it its own:
- a virtualenv, `$OUTCOMEDESK_PEER_DIR/venv` (default `benchmarks/.peer/venv`, git-ignored), with the pinned
  packages of `benchmarks/peer/requirements.txt` (django-helpdesk 2.6.1, Django 5.2, psycopg, gunicorn);
  re-installed when that file changes;
- the PostgreSQL database `helpdesk_bench` on postgres://postgres@127.0.0.1:5432, dropped and re-created
  (no other database is touched), migrated, then filled by `site/bulk_load.py`: four queues, 200 agents, the
  API user `bench-agent` with a DRF token, and N tickets with their follow-ups.

`benchmarks/peer/site/` is the Django project (settings, urls, wsgi); it is served from there.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).resolve().parent
SITE = HERE / "site"
REQUIREMENTS = HERE / "requirements.txt"
DATABASE = "helpdesk_bench"
PG_SERVER = "postgresql://postgres@127.0.0.1:5432"
PG_ADMIN_URL = f"{PG_SERVER}/postgres"  # only to drop and create DATABASE
API_USER = "bench-agent"


def peer_dir() -> Path:
    return Path(os.environ.get("OUTCOMEDESK_PEER_DIR", str(ROOT / "benchmarks" / ".peer")))


def python() -> Path:
    return peer_dir() / "venv" / "bin" / "python"


def environment() -> dict[str, str]:
    """The peer's own environment: none of Outcomedesk's settings variables leak into it."""
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
            "PIP_CONFIG_FILE")
    env = {k: v for k, v in os.environ.items() if k in keep}
    env.update({
        "DJANGO_SETTINGS_MODULE": "helpdesk_site.settings",
        "HELPDESK_BENCH_DB": DATABASE,
        "HELPDESK_BENCH_MEDIA": str(peer_dir() / "media"),
        # The project, and the repository for benchmarks.text (the loader's ticket text).
        "PYTHONPATH": f"{SITE}{os.pathsep}{ROOT}",
        "PYTHONDONTWRITEBYTECODE": "1",
    })
    return env


def run(command: list[str]) -> None:
    print("$ " + " ".join(command), flush=True)
    subprocess.run(command, check=True, cwd=SITE, env=environment())


def ensure_venv() -> None:
    """The virtualenv with the pinned packages; installed again whenever requirements.txt changes."""
    venv = peer_dir() / "venv"
    marker = venv / ".requirements.sha256"
    wanted = hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()
    if marker.exists() and marker.read_text().strip() == wanted and python().exists():
        return
    if not python().exists():
        venv.parent.mkdir(parents=True, exist_ok=True)
        # The base interpreter, not Outcomedesk's venv: the two share nothing.
        base = getattr(sys, "_base_executable", sys.executable)
        run([base, "-m", "venv", str(venv)])
    run([str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check", "-r", str(REQUIREMENTS)])
    marker.write_text(wanted + "\n")


def fresh_database() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DATABASE}")


def ticket_count() -> int | None:
    """Tickets in the peer's database, or None when it (or its table) is not there."""
    import psycopg

    try:
        with psycopg.connect(f"{PG_SERVER}/{DATABASE}") as conn:
            row = conn.execute("SELECT count(*) FROM helpdesk_ticket").fetchone()
    except psycopg.Error:
        return None
    return int(row[0]) if row else None


def queue_id(slug: str) -> int:
    import psycopg

    with psycopg.connect(f"{PG_SERVER}/{DATABASE}") as conn:
        row = conn.execute("SELECT id FROM helpdesk_queue WHERE slug = %s", (slug,)).fetchone()
    if row is None:
        raise RuntimeError(f"django-helpdesk has no queue {slug!r}: run the setup")
    return int(row[0])


def token() -> str:
    """The API user's DRF token (made by the load; drf_create_token returns the existing one)."""
    out = subprocess.run([str(python()), "manage.py", "drf_create_token", API_USER], check=True, cwd=SITE,
                         env=environment(), capture_output=True, text=True).stdout
    # "Generated token <key> for user bench-agent"
    return out.split()[2]


def versions() -> dict[str, str]:
    code = ("import importlib.metadata as m, platform; print(platform.python_version()); "
            "[print(n, m.version(n)) for n in ('django-helpdesk', 'Django', 'djangorestframework', 'gunicorn', "
            "'psycopg')]")
    out = subprocess.run([str(python()), "-c", code], check=True, capture_output=True, text=True,
                         env=environment()).stdout.split("\n")
    found = {"python": out[0]}
    found.update(dict(line.split(" ", 1) for line in out[1:] if line.strip()))
    return found


def server_command(port: int, workers: int, worker_class: str) -> list[str]:
    return [str(peer_dir() / "venv" / "bin" / "gunicorn"), "--workers", str(workers), "--worker-class", worker_class,
            "--bind", f"127.0.0.1:{port}", "--no-control-socket", "--log-level", "warning",
            "helpdesk_site.wsgi:application"]


def setup(tickets: int, *, reuse: bool) -> dict[str, float]:
    """The venv; unless `reuse` (and the database holds tickets), a fresh database with `tickets` tickets."""
    phases: dict[str, float] = {}
    started = time.perf_counter()
    ensure_venv()
    phases["venv_s"] = time.perf_counter() - started
    existing = ticket_count() if reuse else None
    if reuse and existing:
        print(f"django-helpdesk: reusing {DATABASE} ({existing:,} tickets)", flush=True)
        return phases
    fresh_database()
    started = time.perf_counter()
    run([str(python()), "manage.py", "migrate", "--verbosity", "0"])
    phases["migrate_s"] = time.perf_counter() - started
    started = time.perf_counter()
    run([str(python()), "bulk_load.py", "--tickets", str(tickets)])
    phases["load_s"] = time.perf_counter() - started
    return phases


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["setup"])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--reuse", action="store_true", help="Keep the database when it holds tickets")
    args = parser.parse_args(argv)
    phases = setup(args.tickets, reuse=args.reuse)
    print(f"django-helpdesk ready: {ticket_count() or 0:,} tickets in {DATABASE}; "
          + ", ".join(f"{k} {v:.1f}" for k, v in phases.items()), flush=True)


if __name__ == "__main__":
    main()
