"""Labeling work: one task per (series, reader slot). Revisions, reviews and audit follow."""

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
