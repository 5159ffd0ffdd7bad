"""SQL pieces the figures need on both databases: a duration in seconds and a continuous percentile.

PostgreSQL has `percentile_cont`; SQLite gets the same function as a Python aggregate registered on each
connection, so a figure is one grouped query on either database.
"""

from __future__ import annotations

import math
from typing import Any

from django.db.models import Aggregate, FloatField, Func


class Seconds(Func):
    """`end - start` in seconds (a float), for two datetime expressions."""

    output_field = FloatField()
    arity = 2

    def as_sql(self, compiler: Any, connection: Any, *args: Any, **extra: Any) -> Any:  # PostgreSQL and the default
        end, start = (compiler.compile(e) for e in self.source_expressions)
        return f"EXTRACT(EPOCH FROM ({end[0]} - {start[0]}))", [*end[1], *start[1]]

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        end, start = (compiler.compile(e) for e in self.source_expressions)
        return f"((julianday({end[0]}) - julianday({start[0]})) * 86400.0)", [*end[1], *start[1]]


class Percentile(Aggregate):
    """The continuous percentile (linear interpolation, as numpy's default) of an expression."""

    name = "Percentile"
    output_field = FloatField()
    allow_distinct = False

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        if not 0 <= fraction <= 1:
            raise ValueError("fraction must be between 0 and 1")
        self.fraction = float(fraction)
        super().__init__(expression, **extra)

    def _with_template(self, template: str, compiler: Any, connection: Any, **extra: Any) -> Any:
        clone = self.copy()
        clone.template = template
        return Aggregate.as_sql(clone, compiler, connection, **extra)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        template = f"percentile_cont({self.fraction!r}) WITHIN GROUP (ORDER BY %(expressions)s)"
        return self._with_template(template, compiler, connection, **extra)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self._with_template(f"od_percentile(%(expressions)s, {self.fraction!r})", compiler, connection, **extra)

    def get_group_by_cols(self) -> list[Any]:
        return []


def percentile(values: list[float], fraction: float) -> float | None:
    """Linear interpolation between the closest ranks (PostgreSQL's percentile_cont, numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * fraction
    low = math.floor(position)
    high = math.ceil(position)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class _SqlitePercentile:
    def __init__(self) -> None:
        self.values: list[float] = []
        self.fraction = 0.5

    def step(self, value: Any, fraction: float) -> None:
        if value is not None:
            self.values.append(float(value))
            self.fraction = fraction

    def finalize(self) -> float | None:
        return percentile(self.values, self.fraction)


def register_sqlite_functions(sender: Any, connection: Any, **kwargs: Any) -> None:
    """connection_created receiver: gives each SQLite connection `od_percentile(value, fraction)`."""
    if connection.vendor == "sqlite":
        connection.connection.create_aggregate("od_percentile", 2, _SqlitePercentile)
