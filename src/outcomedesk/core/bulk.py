"""Plain multi-row INSERTs for bulk loads (imports of history), without building a model instance per row.

Django's bulk_create prepares every value of every row through its field (about 15 µs a value); an import of
a hundred thousand rows spends most of its time there. Here only datetimes are adapted, the rest goes to the
driver as it is, in one executemany per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from django.db import connection, models


def insert_rows(model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]],
                batch: int = 2000) -> None:
    """INSERT `rows` (values in the order of `columns`, field names) into the table of `model`."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in columns]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    names = ", ".join(quote(f.column) for f in fields)  # type: ignore[union-attr,arg-type]
    sql = f"INSERT INTO {table} ({names}) VALUES ({', '.join(['%s'] * len(fields))})"  # noqa: S608 (quoted names)
    adapt = connection.ops.adapt_datetimefield_value
    times = [i for i, f in enumerate(fields) if isinstance(f, models.DateTimeField)]
    with connection.cursor() as cursor:
        for start in range(0, len(rows), batch):
            prepared = []
            for row in rows[start:start + batch]:
                values = list(row)
                for i in times:
                    value = values[i]
                    if isinstance(value, datetime):
                        values[i] = adapt(value)
                prepared.append(values)
            cursor.executemany(sql, prepared)


def refresh_statistics(*models: Any) -> None:
    """After a bulk write, PostgreSQL's planner statistics of these tables (ANALYZE), so that the queries that
    follow (the insights figures) are planned on the rows that are there, not on autovacuum's timing: without
    them the escalation figure over an imported log took over a minute instead of milliseconds."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models))
