"""Two lanes of read-only queries at once on PostgreSQL: a dashboard's figures of two periods need not wait
for each other. PostgreSQL runs each connection's query on its own core; the lanes' Python waits on the
database, not on the interpreter.

The second lane runs in a thread on its own connection (closed when it is done), so it only sees committed
data: inside a transaction (a test's, or a request's) or on SQLite the lanes run one after the other on the
caller's connection. OUTCOMEDESK_INSIGHTS_PARALLEL=false turns it off.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import connection, connections

Task = Callable[[], Any]


def _may_split() -> bool:
    return (
        bool(getattr(settings, "OUTCOMEDESK_INSIGHTS_PARALLEL", True))
        and connection.vendor == "postgresql"
        and not connection.in_atomic_block
    )


def lanes(here: dict[str, Task], *others: dict[str, Task]) -> dict[str, Any]:
    """Run the tasks of `here` in this thread and those of each of `others` in a thread of its own, each lane
    in order; the results by name. An exception in any lane is raised here."""
    if not _may_split():
        merged: dict[str, Task] = dict(here)
        for other in others:
            merged.update(other)
        return {name: task() for name, task in merged.items()}
    results: dict[str, Any] = {}
    failure: list[BaseException] = []
    context = contextvars.copy_context()  # the clock of `core.clock.at` and other context travels along

    def lane(tasks: dict[str, Task]) -> None:
        try:
            for name, task in tasks.items():
                results[name] = context.copy().run(task)
        except BaseException as exc:
            failure.append(exc)
        finally:
            connections.close_all()  # this thread's connections only

    workers = [threading.Thread(target=lane, args=(tasks,), name="insights-lane", daemon=True) for tasks in others]
    for worker in workers:
        worker.start()
    try:
        for name, task in here.items():
            results[name] = task()
    finally:
        for worker in workers:
            worker.join()
    if failure:
        raise failure[0]
    return results
