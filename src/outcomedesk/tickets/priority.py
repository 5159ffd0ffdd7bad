"""Priority from impact x urgency through the configurable matrix."""

from __future__ import annotations

from outcomedesk.tickets.models import PriorityMatrixEntry

# The ITIL default, used when the matrix has no cell for a pair.
DEFAULT_MATRIX = {
    (1, 1): 1, (1, 2): 2, (1, 3): 3,
    (2, 1): 2, (2, 2): 3, (2, 3): 4,
    (3, 1): 3, (3, 2): 4, (3, 3): 5,
}


def priority_for(impact: int, urgency: int) -> int:
    configured = (
        PriorityMatrixEntry.objects.filter(impact=impact, urgency=urgency).values_list("priority", flat=True).first()
    )
    return configured if configured is not None else DEFAULT_MATRIX[(impact, urgency)]
