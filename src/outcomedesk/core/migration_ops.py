"""Migration operations shared by the apps' migrations."""

from typing import Any

from django.db import migrations


class AddIndexOnPostgres(migrations.AddIndex):
    """A covering index: PostgreSQL only (elsewhere Django would create it without its included columns)."""

    def database_forwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label: str, schema_editor: Any, from_state: Any, to_state: Any) -> None:
        if schema_editor.connection.vendor == "postgresql":
            super().database_backwards(app_label, schema_editor, from_state, to_state)
