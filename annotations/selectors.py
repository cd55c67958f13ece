"""Reads on labeling tasks."""

from django.db.models import Count

from annotations.models import Task, TaskState
from projects.models import Project


def task_counts(project: Project) -> dict[str, int]:
    """Number of tasks in each state (every state present, zero when none)."""
    counts = dict.fromkeys(TaskState.values, 0)
    rows = Task.objects.filter(project=project).values("state").annotate(n=Count("id"))
    for row in rows:
        counts[row["state"]] = row["n"]
    return counts
