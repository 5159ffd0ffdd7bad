"""The API fuzzed by schemathesis (the pinned version in requirements/test.lock) against the live server, as an
IT agent and as a requester, each with a bearer token: no 5xx, and every answer conforms to the OpenAPI
document (status declared, content type, body schema). Bounded for CI by FUZZ_EXAMPLES cases per operation and
phase; `docs/fuzzing.md` has a longer run and how to repeat it.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from outcomedesk.accounts.services import create_token
from outcomedesk.core import clock
from outcomedesk.tickets import impact as impacts
from outcomedesk.tickets import services as tickets
from tests import factories as f
from tests.conftest import World

ST = shutil.which("st", path=str(Path(sys.executable).parent)) or shutil.which("st")
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "10"))
SEED = os.environ.get("FUZZ_SEED", "20261206")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"

pytestmark = [
    pytest.mark.skipif(ST is None, reason="schemathesis is not installed (requirements/test.lock pins it)"),
    pytest.mark.django_db(transaction=True),  # the live server's threads must see the seeded world
]


def seed_small_world(world: World) -> None:
    """A few tickets of every kind the API shows: open, resolved with a survey, merged, with an impact window."""
    service = f.make_service(world.it, "Payroll", cost_of_downtime_per_hour=500)
    category = f.make_category(world.it, "Network")
    f.make_policy("Standard", targets={"response": 60, "resolution": 480})
    for i in range(4):
        ticket = f.make_ticket(world.alice, world.it, title=f"VPN drops {i}", category=category.pk,
                               service=service.pk, impact=2, urgency=2)
        tickets.add_comment(world.bob, ticket, "Looking into it")
    done = f.make_ticket(world.alice, world.it, title="Printer jams")
    tickets.change_state(world.bob, done, "resolved", resolution_notes="new toner")
    incident = f.make_ticket(world.carol, world.it, title="Payroll down", service=service.pk, impact=1)
    impacts.record_impact(world.bob, incident, service=service, impact_start=clock.now() - timedelta(hours=1),
                          users_affected=40)
    dup = f.make_ticket(world.carol, world.it, title="Payroll is down")
    tickets.merge_tickets(world.bob, dup, incident.number)
    f.make_ticket(world.hana, world.hr, title="Confidential matter")


def run_schemathesis(base: str, token: str, report: Path, examples: int, *extra: str) -> subprocess.CompletedProcess:
    command = [
        str(ST), "run", f"{base}/api/v1/openapi.json", "--checks", CHECKS,
        "--header", f"Authorization: Bearer {token}", "--max-examples", str(examples), "--seed", SEED,
        "--phases", "examples,coverage,fuzzing", "--workers", "1", "--request-timeout", "30",
        "--suppress-health-check", "all", "--no-color", "--report", "junit", "--report-junit-path", str(report),
        *extra,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=1800, check=False)


@pytest.mark.parametrize("persona", ["bob", "alice"])  # an IT agent; a requester
def test_the_api_fuzzed_gives_no_5xx_and_conforms_to_its_openapi_document(
        world: World, live_server: object, tmp_path: Path, persona: str) -> None:
    seed_small_world(world)
    token = create_token(persona).key
    base = str(live_server.url).replace("localhost", "127.0.0.1")  # type: ignore[attr-defined]
    # Thousands of 4xx answers are the point here: keep Django's per-request warnings out of the output.
    requests_log = logging.getLogger("django.request")
    level = requests_log.level
    requests_log.setLevel(logging.ERROR)
    try:
        done = run_schemathesis(base, token, tmp_path / "junit.xml", EXAMPLES)
    finally:
        requests_log.setLevel(level)
    print(done.stdout[done.stdout.rfind("SUMMARY"):])  # cases and time: shown with `pytest -s`
    assert done.returncode == 0, f"schemathesis found failures:\n{done.stdout[-20000:]}\n{done.stderr[-3000:]}"
