"""Satisfaction surveys: one per resolution of a ticket, answered by its requester with a score of 1 to 5.

The insights figures read these fields by name (METRICS.md, "Experience figures"): `csat` and
`csat_satisfied_share` over `score` of rows by `responded_at`, `survey_response_rate` over rows by `sent_at`.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

SCORES = range(1, 6)
SCORE_LABELS = {1: "Very dissatisfied", 2: "Dissatisfied", 3: "Neutral", 4: "Satisfied", 5: "Very satisfied"}
COMMENT_MAX = 2000
# How long after sending a survey accepts a response or a change of it.
RESPONSE_WINDOW = timedelta(days=30)


def new_token() -> str:
    return secrets.token_urlsafe(24)


class SurveyChannel(models.TextChoices):
    EMAIL = "email", "E-mail"
    PORTAL = "portal", "Portal only"


class ResponseVia(models.TextChoices):
    EMAIL = "email", "E-mail link"
    PORTAL = "portal", "Portal"
    API = "api", "API"


class Survey(models.Model):
    """The question "how did we do?" about one resolution of a ticket, and its requester's answer."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="surveys")
    # The requester's credential for answering without logging in: never shown to staff.
    token = models.CharField(max_length=64, unique=True, default=new_token, editable=False)
    sent_at = models.DateTimeField(db_index=True)
    resolution_at = models.DateTimeField(help_text="The ticket's resolved_at that the survey asks about")
    channel = models.CharField(max_length=10, choices=SurveyChannel.choices, default=SurveyChannel.EMAIL)
    score = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="1 (very dissatisfied) to 5 (very satisfied); empty until answered",
    )
    comment = models.TextField(blank=True, max_length=COMMENT_MAX, help_text="Plain text")
    responded_at = models.DateTimeField(null=True, blank=True, db_index=True, help_text="When first answered")
    responded_via = models.CharField(max_length=10, choices=ResponseVia.choices, blank=True)

    class Meta:
        ordering = ["-sent_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["ticket", "resolution_at"], name="one_survey_per_resolution"),
            models.CheckConstraint(
                condition=models.Q(score__isnull=True) | models.Q(score__gte=1, score__lte=5),
                name="survey_score_1_to_5",
            ),
        ]

    def __str__(self) -> str:
        return f"Survey of {self.ticket} sent {self.sent_at:%Y-%m-%d}"

    @property
    def closes_at(self) -> datetime:
        return self.sent_at + RESPONSE_WINDOW

    def is_open(self, now: datetime) -> bool:
        return now <= self.closes_at
