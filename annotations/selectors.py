"""Reads on labeling tasks, scoped to what the asking user may see."""

from django.db.models import Count, Q, QuerySet

from accounts.models import Role, User
from annotations.models import Consensus, Review, Revision, Task, TaskState
from annotations.states import OPEN
from config.errors import NotFound
from projects.models import AuditEvent, Membership, Project


def task_counts(project: Project) -> dict[str, int]:
    """Number of tasks in each state (every state present, zero when none)."""
    counts = dict.fromkeys(TaskState.values, 0)
    rows = Task.objects.filter(project=project).values("state").annotate(n=Count("id"))
    for row in rows:
        counts[row["state"]] = row["n"]
    return counts


def tasks_visible_to(user: User) -> QuerySet[Task]:
    """Leads and reviewers see their projects' tasks; annotators see the tasks assigned to them."""
    # The series' gzipped metadata (hundreds of KB) is served by DICOMweb, never from a task.
    tasks = Task.objects.select_related("series__study", "project", "latest_revision").defer(
        "series__metadata_gz"
    )
    if user.is_site_admin:
        return tasks
    # Subqueries, not joins: no duplicate rows, so no DISTINCT over the wide joined rows (a
    # task page, every save and every labelmap fetch ask this).
    overseen = Membership.objects.filter(user=user, role__in=(Role.LEAD, Role.REVIEWER))
    member_of = Membership.objects.filter(user=user)
    return tasks.filter(
        Q(project__in=overseen.values("project"))
        | Q(assignee=user, project__in=member_of.values("project"))
    )


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
    """The user's highest-priority open work (oldest first among equals): tasks assigned to them
    to annotate, tasks they hold in review, and submitted tasks in projects they review, where
    nobody reviews their own reading."""
    order = ("-priority", "created_at", "id")
    own = Task.objects.filter(
        assignee=user,
        state__in=OPEN,
        project__memberships__user=user,
        project__memberships__role=Role.ANNOTATOR,
    )
    held = Task.objects.filter(reviewer=user, state=TaskState.IN_REVIEW)
    reviewing = Membership.objects.filter(user=user, role=Role.REVIEWER).values("project")
    waiting = Task.objects.filter(
        project__in=reviewing, state=TaskState.SUBMITTED, series__consensus__isnull=True
    ).exclude(assignee=user)
    candidates = [qs.order_by(*order).first() for qs in (held, own, waiting)]
    found = [task for task in candidates if task is not None]
    return min(found, key=lambda t: (-t.priority, t.created_at, t.pk)) if found else None


def task_list(user: User, project: Project, filters: dict[str, str]) -> QuerySet[Task]:
    """The project's tasks the user may see, filtered by state, assignee or series; newest first."""
    tasks = tasks_visible_to(user).filter(project=project).select_related("assignee", "reviewer")
    if state := filters.get("state"):
        tasks = tasks.filter(state=state)
    if assignee := filters.get("assignee"):
        tasks = tasks.filter(assignee__username=assignee)
    if series := filters.get("series"):
        tasks = tasks.filter(series_id=series)
    return tasks.order_by("-priority", "-id")


def reviews_of(task: Task) -> QuerySet[Review]:
    return task.reviews.select_related("reviewer").order_by("-id")


def timeline(task: Task) -> QuerySet[AuditEvent]:
    """Everything that happened to the task and its revisions and reviews, newest first."""
    revision_ids = task.revisions.values("id")
    review_ids = task.reviews.values("id")
    return (
        AuditEvent.objects.filter(
            Q(target_type="task", target_id=task.pk)
            | Q(target_type="revision", target_id__in=revision_ids)
            | Q(target_type="review", target_id__in=review_ids)
        )
        .select_related("actor")
        .order_by("-id")
    )


def consensus_for(user: User, consensus_id: int) -> Consensus:
    """A consensus for the project's reviewers and leads; annotators read blind, so to them (and
    to outsiders) it does not exist."""
    consensus = Consensus.objects.select_related("series__study__patient", "project").filter(
        pk=consensus_id
    )
    if not user.is_site_admin:
        staff = Membership.objects.filter(user=user, role__in=(Role.LEAD, Role.REVIEWER))
        consensus = consensus.filter(project__in=staff.values("project"))
    found = consensus.first()
    if found is None:
        raise NotFound("no such consensus")
    return found


def consensuses_of(project: Project) -> QuerySet[Consensus]:
    return (
        Consensus.objects.filter(project=project)
        .select_related("series__study__patient", "resolved_by")
        .order_by("state", "-id")
    )


def next_consensus_for(user: User) -> Consensus | None:
    """The oldest proposed consensus a reviewer may resolve (not one of a series they read)."""
    reviewing = Membership.objects.filter(user=user, role=Role.REVIEWER).values("project")
    return (
        Consensus.objects.filter(project__in=reviewing, state="proposed")
        .exclude(series__tasks__assignee=user)
        .order_by("created_at", "id")
        .first()
    )
