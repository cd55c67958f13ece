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
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="tasks",
    )
    latest_revision = models.ForeignKey(
        "Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("series", "reader_slot"), name="task_unique_slot"),
            models.CheckConstraint(
                condition=models.Q(reader_slot__gte=1, reader_slot__lte=4),
                name="task_reader_slot_1_to_4",
            ),
            models.CheckConstraint(
                condition=models.Q(state__in=TaskState.values), name="task_state_valid"
            ),
        ]
        indexes = [models.Index(fields=("project", "state"))]

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
