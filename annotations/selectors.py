"""Reads on labeling tasks, scoped to what the asking user may see."""

from django.db.models import Count, Q, QuerySet

from accounts.models import Role, User
from annotations.models import Revision, Task, TaskState
from config.errors import NotFound
from projects.models import Membership, Project


def task_counts(project: Project) -> dict[str, int]:
    """Number of tasks in each state (every state present, zero when none)."""
    counts = dict.fromkeys(TaskState.values, 0)
    rows = Task.objects.filter(project=project).values("state").annotate(n=Count("id"))
    for row in rows:
        counts[row["state"]] = row["n"]
    return counts


def tasks_visible_to(user: User) -> QuerySet[Task]:
    """Leads and reviewers see their projects' tasks; annotators see the tasks assigned to them."""
    tasks = Task.objects.select_related("series__study", "project", "latest_revision")
    if user.is_site_admin:
        return tasks
    overseen = Membership.objects.filter(user=user, role__in=(Role.LEAD, Role.REVIEWER))
    return tasks.filter(
        Q(project__in=overseen.values("project"))
        | Q(assignee=user, project__memberships__user=user)
    ).distinct()


def task_for(user: User, task_id: int) -> Task:
    """The task if `user` may see it; NotFound for unknown and foreign ids alike."""
    task = tasks_visible_to(user).filter(pk=task_id).first()
    if task is None:
        raise NotFound("no such task")
    return task


def revision_for(user: User, revision_id: int) -> Revision:
    revision = Revision.objects.select_related("task").filter(pk=revision_id).first()
    if revision is None or not tasks_visible_to(user).filter(pk=revision.task_id).exists():
        raise NotFound("no such revision")
    return revision


def history(task: Task) -> QuerySet[Revision]:
    return task.revisions.select_related("author", "model_version").order_by("-id")


def next_task_for(user: User) -> Task | None:
    """The user's highest-priority open task (oldest first among equals)."""
    return (
        Task.objects.filter(
            assignee=user,
            state__in=(TaskState.NEW, TaskState.IN_PROGRESS, TaskState.REWORK),
            project__memberships__user=user,
            project__memberships__role=Role.ANNOTATOR,
        )
        .order_by("-priority", "created_at", "id")
        .first()
    )
