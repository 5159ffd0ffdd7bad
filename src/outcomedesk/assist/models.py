"""What the AI keeps: trained models with their figures, the service manager's policies, every suggestion it
made with its provenance (model, version, confidence, input hash) and what people did with it, and the kill
switch of each feature.

The triage model of a desk and field is a pickled `assist.triage.TriageModel` in `TrainedModel.blob`: in the
database, so that every app server and worker of a scaled-out deployment reads the same one.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models


class Feature(models.TextChoices):
    TRIAGE = "triage", "Triage (category, group, service, impact, urgency)"
    SIMILAR = "similar", "Similar tickets and duplicates"
    SUMMARY = "summary", "Ticket summaries"
    DRAFTING = "drafting", "Knowledge drafts"
    PATTERNS = "patterns", "Pattern detection"
    GENERATION = "generation", "Generated text from an external model"


class TriageField(models.TextChoices):
    """The ticket fields the triage model predicts; priority follows impact and urgency by the matrix."""

    GROUP = "group", "Assignment group"
    CATEGORY = "category", "Category"
    SERVICE = "service", "Business service"
    IMPACT = "impact", "Impact"
    URGENCY = "urgency", "Urgency"


class PolicyMode(models.TextChoices):
    OFF = "off", "Off"
    SUGGEST = "suggest", "Suggest only"
    AUTO = "auto", "Apply above the threshold, suggest below"


class Switch(models.Model):
    """The kill switch of one AI feature; a missing row means on. OUTCOMEDESK_ASSIST_DISABLED overrides it."""

    feature = models.CharField(max_length=20, choices=Feature.choices, primary_key=True)
    enabled = models.BooleanField(default=True)
    reason = models.CharField(max_length=300, blank=True)
    changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.feature}: {'on' if self.enabled else 'off'}"


class TrainedModel(models.Model):
    """One training run of the triage model of a desk and field, with the figures it scored on held-out tickets."""

    desk = models.ForeignKey("accounts.Desk", on_delete=models.CASCADE, related_name="+")
    field = models.CharField(max_length=20, choices=TriageField.choices)
    version = models.CharField(max_length=80, help_text="Recipe and fingerprint of the training data")
    trained_at = models.DateTimeField()
    trained_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    rows = models.PositiveIntegerField()
    classes = models.PositiveIntegerField()
    corrections = models.PositiveIntegerField(default=0, help_text="Training tickets an agent corrected the AI on")
    figures = models.JSONField(default=dict, help_text="Held-out accuracy, F1, precision-coverage, timings")
    blob = models.BinaryField(editable=False)
    size_bytes = models.PositiveBigIntegerField(default=0)
    is_active = models.BooleanField(default=False, help_text="The model that triages new tickets")

    class Meta:
        ordering = ["-trained_at", "-id"]
        indexes = [models.Index(fields=["desk", "field", "is_active"], name="assist_model_active")]
        constraints = [
            models.UniqueConstraint(fields=["desk", "field"], condition=models.Q(is_active=True),
                                    name="assist_one_active_model"),
        ]

    def __str__(self) -> str:
        return f"{self.desk} {self.field} {self.version}"


class Policy(models.Model):
    """What the service manager lets the AI do with one field on one desk."""

    desk = models.ForeignKey("accounts.Desk", on_delete=models.CASCADE, related_name="+")
    field = models.CharField(max_length=20, choices=TriageField.choices)
    mode = models.CharField(max_length=10, choices=PolicyMode.choices, default=PolicyMode.SUGGEST)
    threshold = models.FloatField(
        default=0.9, validators=[MinValueValidator(0.5), MaxValueValidator(1.0)],
        help_text="Calibrated confidence at or above which the value is applied (auto mode)",
    )
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField()

    class Meta:
        ordering = ["desk", "field"]
        constraints = [models.UniqueConstraint(fields=["desk", "field"], name="assist_one_policy_per_field")]

    def __str__(self) -> str:
        return f"{self.desk} {self.field}: {self.mode} at {self.threshold}"


class SuggestionKind(models.TextChoices):
    FIELD = "field", "Field value"
    DUPLICATE = "duplicate", "Likely duplicate"


class Outcome(models.TextChoices):
    OPEN = "open", "Suggested, not decided"
    APPLIED = "applied", "Applied by the AI"
    ACCEPTED = "accepted", "Accepted by an agent"
    REJECTED = "rejected", "Rejected by an agent"
    CORRECTED = "corrected", "Applied, then corrected by an agent"
    SUPERSEDED = "superseded", "Replaced by a newer suggestion"


class Suggestion(models.Model):
    """One thing the AI proposed for a ticket, why, and what became of it."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="suggestions")
    kind = models.CharField(max_length=12, choices=SuggestionKind.choices, default=SuggestionKind.FIELD)
    field = models.CharField(max_length=20, help_text="The ticket field, or 'duplicate_of'")
    value = models.CharField(max_length=64, help_text="Primary key, level or ticket number")
    display = models.CharField(max_length=200, help_text="The value as people read it")
    confidence = models.FloatField()
    threshold = models.FloatField(null=True, blank=True, help_text="The policy's threshold when it was made")
    model = models.ForeignKey(TrainedModel, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model_name = models.CharField(max_length=40)
    version = models.CharField(max_length=80)
    input_hash = models.CharField(max_length=64, help_text="SHA-256 of the text and fields the model read")
    explanation = models.JSONField(default=dict, help_text="Words that weighed most, alternatives, the policy")
    outcome = models.CharField(max_length=12, choices=Outcome.choices, default=Outcome.OPEN)
    final_value = models.CharField(max_length=64, blank=True, help_text="The value an agent chose instead")
    created_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["ticket", "outcome"], name="assist_suggestion_ticket"),
            models.Index(fields=["field", "outcome", "created_at"], name="assist_suggestion_quality"),
        ]

    def __str__(self) -> str:
        return f"{self.field}={self.display} ({self.confidence:.2f}, {self.outcome})"


class Method(models.TextChoices):
    EXTRACTIVE = "extractive", "Extractive (sentences of the ticket)"
    GENERATED = "generated", "Generated by the configured model"


class Summary(models.Model):
    """A hand-over summary of a ticket, each sentence citing the timeline entries it draws on. Kept per input
    hash: the same timeline gives the same summary without recomputing it."""

    ticket = models.ForeignKey("tickets.Ticket", on_delete=models.CASCADE, related_name="summaries")
    method = models.CharField(max_length=12, choices=Method.choices)
    sections = models.JSONField(help_text="happened, tried, state, next: lists of {text, cites}")
    model_name = models.CharField(max_length=80)
    version = models.CharField(max_length=80)
    input_hash = models.CharField(max_length=64)
    note = models.CharField(max_length=300, blank=True, help_text="Why a generated summary fell back, if it did")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["ticket", "input_hash"], name="assist_summary_input")]

    def __str__(self) -> str:
        return f"{self.method} summary of ticket {self.ticket_id}"


class DraftStatus(models.TextChoices):
    IN_REVIEW = "in_review", "Waiting for review"
    APPROVED = "approved", "Approved (published when the knowledge base exists)"
    REJECTED = "rejected", "Rejected"


class KnowledgeDraft(models.Model):
    """A knowledge article drafted from one resolved ticket or a cluster of them; never published unreviewed."""

    desk = models.ForeignKey("accounts.Desk", on_delete=models.CASCADE, related_name="+")
    title = models.CharField(max_length=200)
    symptoms = models.TextField()
    cause = models.TextField(blank=True)
    resolution = models.TextField(help_text="Steps, one per line")
    tickets = models.ManyToManyField("tickets.Ticket", related_name="knowledge_drafts")
    status = models.CharField(max_length=12, choices=DraftStatus.choices, default=DraftStatus.IN_REVIEW)
    method = models.CharField(max_length=12, choices=Method.choices)
    model_name = models.CharField(max_length=80)
    version = models.CharField(max_length=80)
    input_hash = models.CharField(max_length=64)
    sources = models.JSONField(default=dict, help_text="Per section, the ticket entries it came from")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField()
    reviewed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                    related_name="+")
    reviewed_at = models.DateTimeField(null=True, blank=True)
    review_note = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["desk", "status"], name="assist_draft_status")]

    def __str__(self) -> str:
        return self.title


class PatternKind(models.TextChoices):
    PROBLEM_CANDIDATE = "problem_candidate", "Problem candidate"
    SPIKE = "spike", "Volume spike"
    KNOWLEDGE_GAP = "knowledge_gap", "Knowledge gap"


class PatternStatus(models.TextChoices):
    OPEN = "open", "Open"
    DISMISSED = "dismissed", "Dismissed"
    ACTED = "acted", "Acted on"


class Pattern(models.Model):
    """Something recurring the AI found among recent incidents, with the evidence behind it."""

    desk = models.ForeignKey("accounts.Desk", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20, choices=PatternKind.choices)
    signature = models.CharField(max_length=64, help_text="Identifies the same pattern across runs")
    title = models.CharField(max_length=200)
    score = models.FloatField(help_text="Tickets in the cluster, or how far above usual volume")
    evidence = models.JSONField(help_text="Tickets, shared words, service and CI, counts and baseline")
    status = models.CharField(max_length=10, choices=PatternStatus.choices, default=PatternStatus.OPEN)
    version = models.CharField(max_length=80)
    first_seen = models.DateTimeField()
    last_seen = models.DateTimeField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["-last_seen", "-score"]
        constraints = [models.UniqueConstraint(fields=["desk", "kind", "signature"], name="assist_one_pattern")]
        indexes = [models.Index(fields=["desk", "status", "kind"], name="assist_pattern_open")]

    def __str__(self) -> str:
        return self.title
