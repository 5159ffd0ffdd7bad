"""Indexes for the insights figures over a period (issue 4, measured by benchmarks/insights_scale.py).

Database only: the model state does not list them (the models' Meta is unchanged), so `makemigrations` sees
nothing to do. To move them into `Ticket.Meta.indexes`, add the same `Index` lines there and turn this
operation into a plain `AddIndex` (state and database).

- (desk, opened_at) and (desk, resolved_at): tickets opened or resolved in a period within the scope's desks,
  one range scan instead of the period's range ANDed with the whole desk's index entries;
- (desk, done) where done = the earlier of resolved_at and closed_at: `open_at_end` (the backlog) and the
  trend's finished tickets read the few tickets not done before a date instead of every older ticket;
- the completion of imported tickets with their own SLA outcome (a partial index: empty without imports);
- (id) with desk and service included (PostgreSQL only: SQLite has no covering indexes, and without them it
  would repeat the primary key):
  the figures on SLA targets, surveys and audit events join each row to its ticket for the scope's desks and
  the service it counts under; this reads them from the index, not from the ticket rows.
"""


from django.db import migrations, models
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Least

from outcomedesk.core.migration_ops import AddIndexOnPostgres

INDEXES = [
    models.Index(fields=["desk", "opened_at"], name="ticket_desk_opened"),
    models.Index(fields=["desk", "resolved_at"], name="ticket_desk_resolved"),
    models.Index(F("desk"), Coalesce(Least("resolved_at", "closed_at"), "resolved_at", "closed_at"),
                 name="ticket_desk_done"),
    models.Index(Coalesce("resolved_at", "closed_at"), name="ticket_imported_done",
                 condition=Q(imported_sla_met__isnull=False)),
]
POSTGRES_INDEXES = [
    models.Index(fields=["id"], include=["desk", "service"], name="ticket_scope"),
]


class Migration(migrations.Migration):

    dependencies = [
        ("tickets", "0005_outcome_fields_and_service_impact"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                *(migrations.AddIndex(model_name="ticket", index=index) for index in INDEXES),
                *(AddIndexOnPostgres(model_name="ticket", index=index) for index in POSTGRES_INDEXES),
            ],
            state_operations=[],
        ),
    ]
