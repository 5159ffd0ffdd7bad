"""Business services: what the desks deliver and what an outage of each costs."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Criticality(models.IntegerChoices):
    MISSION_CRITICAL = 1, "1 - Mission critical"
    HIGH = 2, "2 - High"
    MEDIUM = 3, "3 - Medium"
    LOW = 4, "4 - Low"


class BusinessService(models.Model):
    """A service the business consumes (e-mail, payroll, building access), with its owner and value."""

    name = models.CharField(max_length=120, unique=True)
    slug = models.SlugField(max_length=60, unique=True)
    description = models.TextField(blank=True)
    desk = models.ForeignKey("accounts.Desk", on_delete=models.PROTECT, related_name="services")
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="owned_services"
    )
    criticality = models.PositiveSmallIntegerField(choices=Criticality.choices, default=Criticality.MEDIUM)
    users_served = models.PositiveIntegerField(default=0)
    cost_of_downtime_per_hour = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    # The SLA engine (issue 3) replaces this single figure with policies and targets.
    sla_target_percent = models.DecimalField(
        max_digits=5, decimal_places=2, default=Decimal("95.00"),
        validators=[MinValueValidator(0), MaxValueValidator(100)],
        help_text="Share of SLA targets that must be met",
    )
    experience_target = models.DecimalField(
        max_digits=3, decimal_places=2, default=Decimal("4.00"),
        validators=[MinValueValidator(1), MaxValueValidator(5)],
        help_text="Target CSAT (1-5)",
    )
    # Watermelon thresholds (METRICS.md "Watermelon detection"); the defaults are those of METRICS.md.
    watermelon_reopen_rate = models.DecimalField(
        max_digits=4, decimal_places=3, default=Decimal("0.100"),
        validators=[MinValueValidator(0), MaxValueValidator(1)],
        help_text="A reopen rate above this share (0-1) is a watermelon reason",
    )
    watermelon_downtime_rise = models.DecimalField(
        max_digits=6, decimal_places=3, default=Decimal("0.250"), validators=[MinValueValidator(0)],
        help_text="Downtime cost up by more than this share on the previous period is a watermelon reason",
    )
    watermelon_cluster_size = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(2)],
        help_text="This many incidents sharing a probable cause in a period is a watermelon reason",
    )
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
