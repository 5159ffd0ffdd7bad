"""The API schema is committed (docs/openapi.json); a change to the API must update it on purpose."""

from __future__ import annotations

import json
from pathlib import Path

from outcomedesk.api.api import api

COMMITTED = Path(__file__).resolve().parent.parent / "docs" / "openapi.json"
REGENERATE = (
    "outcomedesk export_openapi_schema --api outcomedesk.api.api.api --output docs/openapi.json --indent 2"
)


def test_committed_schema_matches_the_api() -> None:
    current = json.loads(json.dumps(api.get_openapi_schema(path_prefix="/api/v1/"), default=str))
    committed = json.loads(COMMITTED.read_text())
    assert current == committed, f"the API changed; review and run: {REGENERATE}"
