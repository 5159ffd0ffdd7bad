"""PostgreSQL: a stored tsvector kept by a trigger, indexed with GIN, so ranking reads no ticket text."""

from django.db import migrations

from outcomedesk.tickets.search import POSTGRES_DDL, POSTGRES_SETUP


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS tickets_searchdocument_fts")
    for statement in POSTGRES_SETUP:
        schema_editor.execute(statement)
    schema_editor.execute(POSTGRES_DDL)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("DROP INDEX IF EXISTS tickets_searchdocument_fts")
    schema_editor.execute("DROP TRIGGER IF EXISTS tickets_searchdocument_vector ON tickets_searchdocument")
    schema_editor.execute("ALTER TABLE tickets_searchdocument DROP COLUMN IF EXISTS vector")
    schema_editor.execute(
        "CREATE INDEX tickets_searchdocument_fts ON tickets_searchdocument USING gin (to_tsvector('english', body))"
    )


class Migration(migrations.Migration):
    dependencies = [("tickets", "0003_external_ref")]

    operations = [migrations.RunPython(forwards, backwards)]
