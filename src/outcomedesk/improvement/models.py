"""Maturity assessments (how far a practice has come, scored 1 to 5) and the continual improvement register
(initiatives that set out to move one figure of METRICS.md, measured against a baseline).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from outcomedesk.improvement.questionnaire import BY_KEY, PRACTICE_CHOICES
from outcomedesk.improvement.register.tracked import FIGURE_CHOICES, TRACKED_FIGURES, TrackedFigure


class Assessment(models.Model):
    """One self-assessment of a practice at a moment, of the whole organisation or of one desk."""

    practice = models.CharField(max_length=30, choices=PRACTICE_CHOICES)
    assessed_at = models.DateTimeField()
    assessed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # PROTECT, not SET_NULL: a desk's assessment must never turn into one of the whole organisation.
    desk = models.ForeignKey(
        "accounts.Desk", null=True, blank=True, on_delete=models.PROTECT, related_name="+",
        help_text="The desk whose practice was assessed; empty: the whole organisation",
    )
    answers = models.JSONField(default=dict, help_text='{"incident.logging": 3, ...}: a level 1 to 5 per question')
    score = models.DecimalField(max_digits=3, decimal_places=2, help_text="The mean of the answers' levels")
    notes = models.TextField(blank=True)

    class Meta:
        ordering = ["-assessed_at", "-id"]
        indexes = [models.Index(fields=["practice", "assessed_at"], name="assessment_practice_time")]
        constraints = [
            models.CheckConstraint(condition=models.Q(score__gte=1, score__lte=5), name="assessment_score_1_to_5"),
        ]

    def __str__(self) -> str:
        scope = self.desk.name if self.desk_id and self.desk else "organisation"
        return f"{self.practice_label} ({scope}) {self.assessed_at:%Y-%m-%d}: {self.score}"

    @property
    def practice_label(self) -> str:
        found = BY_KEY.get(self.practice)
        return found.label if found else self.practice


class InitiativeStatus(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    APPROVED = "approved", "Approved"
    IN_PROGRESS = "in_progress", "In progress"
    DONE = "done", "Done"
    ABANDONED = "abandoned", "Abandoned"


# Which status may follow which. Done is final; an abandoned idea may be proposed again.
STATUS_TRANSITIONS: dict[str, tuple[str, ...]] = {
    InitiativeStatus.PROPOSED: (InitiativeStatus.APPROVED, InitiativeStatus.ABANDONED),
    InitiativeStatus.APPROVED: (InitiativeStatus.IN_PROGRESS, InitiativeStatus.ABANDONED),
    InitiativeStatus.IN_PROGRESS: (InitiativeStatus.DONE, InitiativeStatus.ABANDONED),
    InitiativeStatus.DONE: (),
    InitiativeStatus.ABANDONED: (InitiativeStatus.PROPOSED,),
}
CLOSED_STATUSES = (InitiativeStatus.DONE, InitiativeStatus.ABANDONED)


class Initiative(models.Model):
    """An entry of the improvement register: a change meant to move one figure of one desk from its baseline."""

    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    desk = models.ForeignKey("accounts.Desk", on_delete=models.PROTECT, related_name="+",
                             help_text="The figures are the tickets of this desk")
    service = models.ForeignKey("cmdb.BusinessService", null=True, blank=True, on_delete=models.PROTECT,
                                related_name="+", help_text="Narrows the figures to this service's tickets")
    category = models.ForeignKey("tickets.Category", null=True, blank=True, on_delete=models.PROTECT,
                                 related_name="+", help_text="Narrows the figures to this category's tickets")
    figure = models.CharField(max_length=40, choices=FIGURE_CHOICES)
    baseline_from = models.DateField()
    baseline_to = models.DateField(help_text="Included")
    # Measured by the service from the tickets, never typed: the benefit is only as honest as its baseline.
    baseline_value = models.FloatField()
    baseline_measured_at = models.DateTimeField()
    target_value = models.FloatField()
    status = models.CharField(max_length=20, choices=InitiativeStatus.choices, default=InitiativeStatus.PROPOSED)
    started_on = models.DateField(null=True, blank=True, help_text="The benefit is measured from this day")
    due_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["desk", "status"], name="initiative_desk_status")]
        constraints = [
            models.CheckConstraint(condition=models.Q(baseline_to__gte=models.F("baseline_from")),
                                   name="initiative_baseline_in_order"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def tracked(self) -> TrackedFigure:
        return TRACKED_FIGURES[self.figure]

    @property
    def is_closed(self) -> bool:
        return self.status in CLOSED_STATUSES

    @property
    def next_statuses(self) -> list[tuple[str, str]]:
        """(value, label) of the statuses this initiative may move to."""
        return [(s, InitiativeStatus(s).label) for s in STATUS_TRANSITIONS.get(self.status, ())]
