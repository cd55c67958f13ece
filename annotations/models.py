"""Labeling work: one task per (series, reader slot), and its append-only revisions."""

from django.conf import settings
from django.db import models

from imaging.models import Series
from projects.models import Project


class TaskState(models.TextChoices):
    NEW = "new", "New"
    IN_PROGRESS = "in_progress", "In progress"
    SUBMITTED = "submitted", "Submitted"
    IN_REVIEW = "in_review", "In review"
    ACCEPTED = "accepted", "Accepted"
    REWORK = "rework", "Rework"


class Task(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="tasks")
    reader_slot = models.PositiveSmallIntegerField(default=1)
    state = models.CharField(max_length=16, choices=TaskState.choices, default=TaskState.NEW)
    priority = models.IntegerField(default=0)
    due_date = models.DateField(null=True, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="reviewed_tasks",
    )
    latest_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Milestones kept on the row so the lead's dashboard aggregates one table, not the audit log.
    started_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    review_started_at = models.DateTimeField(null=True, blank=True)
    accepted_at = models.DateTimeField(null=True, blank=True)
    rework_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("series", "reader_slot"), name="task_unique_slot"),
            # Independent reads: one person never holds two reader slots of the same series.
            models.UniqueConstraint(
                fields=("series", "assignee"),
                condition=models.Q(assignee__isnull=False),
                name="task_one_slot_per_reader",
            ),
            models.CheckConstraint(
                condition=models.Q(reader_slot__gte=1, reader_slot__lte=4),
                name="task_reader_slot_1_to_4",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=TaskState.values), name="task_state_valid"
            ),
        ]
        indexes = [
            models.Index(fields=("project", "state")),
            models.Index(fields=("assignee", "state", "priority")),
            models.Index(fields=("project", "accepted_at")),
            models.Index(fields=("project", "created_at")),
        ]

    def __str__(self) -> str:
        return f"task #{self.pk}"


class Revision(models.Model):
    """One saved state of a task's labelmap and findings. Never updated, never deleted.

    The author is a person or a model version (a pre-annotation), never both.
    """

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="revisions")
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # Lazy: annotations may not import inference (see DESIGN.md, which app may import which).
    model_version = models.ForeignKey(
        "inference.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="revisions",
    )
    labelmap = models.FileField(upload_to="labelmaps/", max_length=255)
    labelmap_sha256 = models.CharField(max_length=64)
    labelmap_size = models.PositiveBigIntegerField()
    findings = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("task_id", "id")
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(author__isnull=False, model_version__isnull=True)
                    | models.Q(author__isnull=True, model_version__isnull=False)
                ),
                name="revision_author_is_a_person_or_a_model",
            )
        ]

    def __str__(self) -> str:
        return f"revision #{self.pk}"

    @property
    def author_kind(self) -> str:
        return "model" if self.model_version_id else "user"


class ReviewDecision(models.TextChoices):
    ACCEPTED = "accepted", "Accepted"
    REWORK = "rework", "Sent to rework"


class Review(models.Model):
    """A reviewer's decision on one revision of a task, with comments per finding. Never changed."""

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="reviews")
    # The task's project, copied so the dashboard aggregates reviews without joining tasks.
    project = models.ForeignKey(
        Project, null=True, on_delete=models.CASCADE, related_name="reviews"
    )
    revision = models.ForeignKey(Revision, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    decision = models.CharField(max_length=16, choices=ReviewDecision.choices)
    comment = models.TextField(blank=True)
    # [{"finding_id": "...", "text": "..."}]: what the annotator sees beside each finding.
    finding_comments = models.JSONField(default=list, blank=True)
    # How much the people changed the model's pre-annotation (Dice of the model's revision with
    # the accepted one); filled on acceptance when the task started from a pre-annotation.
    model_version = models.ForeignKey(
        "inference.ModelVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    model_dice = models.FloatField(null=True, blank=True)
    # When the reviewer took the task (None for a lead's reopen): review time = created_at - this.
    started_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("task_id", "id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(decision__in=ReviewDecision.values),
                name="review_decision_valid",
            )
        ]
        indexes = [
            models.Index(fields=("decision", "created_at")),
            models.Index(fields=("project", "reviewer")),
        ]

    def __str__(self) -> str:
        return f"review #{self.pk}"


class ConsensusState(models.TextChoices):
    PROPOSED = "proposed", "Proposed"
    RESOLVED = "resolved", "Resolved"


class Consensus(models.Model):
    """The readers' labels of one multi-reader series merged: matches, agreement, a proposal.

    Made when every reader has submitted; the reviewer resolves it into the series' final label.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="consensuses")
    series = models.OneToOneField(Series, on_delete=models.CASCADE, related_name="consensus")
    state = models.CharField(
        max_length=16, choices=ConsensusState.choices, default=ConsensusState.PROPOSED
    )
    reader_revisions = models.ManyToManyField(Revision, related_name="+")
    # Matched nodules across readers and the agreement figures (Dice, F1, Fleiss' kappa).
    matches = models.JSONField(default=list)
    agreement = models.JSONField(default=dict)
    proposed_labelmap = models.FileField(upload_to="consensus/", max_length=255)
    proposed_findings = models.JSONField(default=list)
    # Filled when resolved: the reviewer's decision per matched nodule, and the final label.
    decisions = models.JSONField(default=dict, blank=True)
    labelmap = models.FileField(upload_to="consensus/", max_length=255, blank=True)
    findings = models.JSONField(default=list, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(state__in=ConsensusState.values),
                name="consensus_state_valid",
            )
        ]

    def __str__(self) -> str:
        return f"consensus #{self.pk}"
