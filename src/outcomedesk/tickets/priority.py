"""Priority from impact x urgency through the configurable matrix."""

from __future__ import annotations

from outcomedesk.core.config_cache import ConfigCache
from outcomedesk.tickets.models import PriorityMatrixEntry

# The ITIL default, used when the matrix has no cell for a pair.
DEFAULT_MATRIX = {
    (1, 1): 1, (1, 2): 2, (1, 3): 3,
    (2, 1): 2, (2, 2): 3, (2, 3): 4,
    (3, 1): 3, (3, 2): 4, (3, 3): 5,
}


def _configured() -> dict[tuple[int, int], int]:
    rows = PriorityMatrixEntry.objects.values_list("impact", "urgency", "priority")
    return {(impact, urgency): priority for impact, urgency, priority in rows}


# Nine cells, read on every ticket opened: kept per process until the matrix changes (core.config_cache).
MATRIX = ConfigCache("priority_matrix", _configured, [PriorityMatrixEntry])


def priority_for(impact: int, urgency: int) -> int:
    configured = MATRIX.get().get((impact, urgency))
    return configured if configured is not None else DEFAULT_MATRIX[(impact, urgency)]
