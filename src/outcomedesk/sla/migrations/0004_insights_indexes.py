"""Indexes for `sla_compliance` over a period (issue 4, measured by benchmarks/insights_scale.py).

The figure counts targets that stopped in the period, and targets still running at its end (or stopped after
it) already past their deadline. Both indexes are partial so that the recompute, which rewrites every running
target that has not breached, writes no entry in them: a target enters `target_stopped` once, when it stops,
and `target_breached` once it has breached. `target_resolution_done` (PostgreSQL only: a covering index) gives
`mttr_business_hours` the counted business time of each completed resolution target from the index, one
lookup per ticket resolved in the period; it too is written only when a target completes.

Database only, like tickets 0006: the model state does not list them, so `makemigrations` sees nothing to do.
"""


from django.db import migrations, models
from django.db.models import Q

from outcomedesk.core.migration_ops import AddIndexOnPostgres

INDEXES = [
    models.Index(fields=["stopped_at"], name="target_stopped", condition=Q(stopped_at__isnull=False)),
    models.Index(fields=["stopped_at", "breached_at"], name="target_breached", condition=Q(breached_at__isnull=False)),
]
POSTGRES_INDEXES = [
    models.Index(fields=["ticket"], include=["id", "elapsed_seconds"], name="target_resolution_done",
                 condition=Q(metric="resolution", cycle=0, state__in=["met", "breached"])),
]


class Migration(migrations.Migration):

    dependencies = [
        ("sla", "0003_clock_start_and_stop"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            database_operations=[
                *(migrations.AddIndex(model_name="tickettarget", index=index) for index in INDEXES),
                *(AddIndexOnPostgres(model_name="tickettarget", index=index) for index in POSTGRES_INDEXES),
            ],
            state_operations=[],
        ),
    ]
