"""Full-text index (FTS5 on SQLite, GIN on PostgreSQL) and the default ITIL priority matrix."""

from django.db import migrations

from outcomedesk.tickets.search import SQLITE_DDL

# The first PostgreSQL index; 0004 replaces it with a stored, trigger-kept tsvector.
POSTGRES_DDL = (
    "CREATE INDEX IF NOT EXISTS tickets_searchdocument_fts ON tickets_searchdocument "
    "USING gin (to_tsvector('english', body))"
)

DEFAULT_MATRIX = {(1, 1): 1, (1, 2): 2, (1, 3): 3, (2, 1): 2, (2, 2): 3, (2, 3): 4, (3, 1): 3, (3, 2): 4, (3, 3): 5}


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DDL)
    elif schema_editor.connection.vendor == "sqlite":
        for statement in SQLITE_DDL:
            schema_editor.execute(statement)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS tickets_searchdocument_fts")
    elif schema_editor.connection.vendor == "sqlite":
        for name in ("tickets_search_ai", "tickets_search_ad", "tickets_search_au"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {name}")
        schema_editor.execute("DROP TABLE IF EXISTS tickets_search_fts")


def seed_matrix(apps, schema_editor):
    entry = apps.get_model("tickets", "PriorityMatrixEntry")
    for (impact, urgency), priority in DEFAULT_MATRIX.items():
        entry.objects.get_or_create(impact=impact, urgency=urgency, defaults={"priority": priority})


class Migration(migrations.Migration):
    dependencies = [("tickets", "0001_initial")]

    operations = [
        migrations.RunPython(create_search_index, drop_search_index),
        migrations.RunPython(seed_matrix, migrations.RunPython.noop),
    ]
