"""Maturity assessments: how far a practice has come, scored 1 to 5 from the questionnaire's answers.

(The continual improvement register will live here too, next to the assessments that motivate it.)
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from outcomedesk.improvement.questionnaire import BY_KEY, PRACTICE_CHOICES


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
