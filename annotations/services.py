"""Writes on tasks, revisions and reviews, one function per use case; each one audited."""

import datetime
import hashlib
import logging
from collections.abc import Iterable
from typing import Any

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, User
from annotations import labelmaps
from annotations.assignment import Named, rule_for
from annotations.errors import GridMismatch, RevisionConflict, TransitionRefused
from annotations.findings import MAX_COMMENT, validate_findings
from annotations.models import Review, ReviewDecision, Revision, Task, TaskState
from annotations.signals import labels_accepted, task_submitted
from annotations.states import EDITABLE, Actor, check_transition
from config.errors import Conflict, Forbidden, NotFound, PlatformError
from imaging.models import Series
from projects import audit
from projects.models import Membership, Project

logger = logging.getLogger(__name__)

MAX_READERS = 4


class InvalidReview(PlatformError):
    code = "invalid_review"


@transaction.atomic
def create_task(
    *,
    series: Series,
    assignee: User | None = None,
    reader_slot: int = 1,
    priority: int = 0,
    due_date: datetime.date | None = None,
    by: User | None = None,
) -> Task:
    """A task for one reader slot of a series; the assignee must annotate in the project and
    may hold no other slot of the series."""
    if assignee is not None:
        _check_annotator(series.project_id, assignee)
    try:
        with transaction.atomic():
            task = Task.objects.create(
                project_id=series.project_id,
                series=series,
                assignee=assignee,
                reader_slot=reader_slot,
                priority=priority,
                due_date=due_date,
                created_by=by,
            )
    except IntegrityError:
        raise Conflict(
            f"reader slot {reader_slot} of this series is taken, or "
            f"{assignee.username if assignee else 'the reader'} already reads it"
        ) from None
    audit.record(
        actor=by,
        action="task.created",
        target=task,
        project_id=task.project_id,
        after=_snapshot(task),
    )
    return task


def _check_annotator(project_id: int, user: User) -> None:
    if not Membership.objects.filter(
        project_id=project_id, user=user, role=Role.ANNOTATOR
    ).exists():
        raise Forbidden(f"{user.username} is not an annotator in this project")


def _snapshot(task: Task) -> dict[str, Any]:
    return {
        "state": task.state,
        "assignee_id": task.assignee_id,
        "reviewer_id": task.reviewer_id,
        "reader_slot": task.reader_slot,
        "priority": task.priority,
        "latest_revision_id": task.latest_revision_id,
    }


@transaction.atomic
def create_tasks(
    *,
    project: Project,
    series_ids: Iterable[int],
    by: User | None,
    readers: int | None = None,
    priority: int = 0,
    due_date: datetime.date | None = None,
    assignment: str | None = None,
    assignees: list[User] | None = None,
) -> list[Task]:
    """Give each series `readers` reader slots (filling unassigned ones first), assigned by the
    project's rule, or to `assignees` in order when the lead names them. All or nothing."""
    readers = readers or project.readers_per_series
    if not 1 <= readers <= MAX_READERS:
        raise Conflict(f"a series has 1 to {MAX_READERS} readers, not {readers}")
    if assignees:
        if len({a.pk for a in assignees}) != len(assignees) or len(assignees) != readers:
            raise Conflict(f"name {readers} different annotator(s), one per reader slot")
        for annotator in assignees:
            _check_annotator(project.pk, annotator)
    wanted = list(dict.fromkeys(series_ids))
    found = {
        s.pk: s
        for s in Series.objects.filter(project=project, pk__in=wanted).prefetch_related("tasks")
    }
    if missing := [pk for pk in wanted if pk not in found]:
        raise NotFound(f"no series {missing[:5]} in this project")
    rule = (
        Named(assignees)
        if assignees
        else rule_for(project, assignment or project.assignment, readers=readers)
    )
    made: list[Task] = []
    for series_id in wanted:
        series = found[series_id]
        existing = sorted(series.tasks.all(), key=lambda t: t.reader_slot)
        held = {t.assignee_id for t in existing if t.assignee_id is not None}
        for task in existing:  # a pre-annotation may have made an unassigned slot already
            if task.assignee_id is None and task.reader_slot <= readers:
                reader = rule.pick(excluded=held)
                if reader is not None:
                    _assign(task, reader, by)
                    held.add(reader.pk)
        free = [n for n in range(1, readers + 1) if n not in {t.reader_slot for t in existing}]
        for slot in free:
            reader = rule.pick(excluded=held)
            made.append(
                create_task(
                    series=series,
                    assignee=reader,
                    reader_slot=slot,
                    priority=priority,
                    due_date=due_date,
                    by=by,
                )
            )
            if reader is not None:
                held.add(reader.pk)
    logger.info("annotations: %s task(s) created in project %s", len(made), project.pk)
    return made


def tasks_for_new_series(*, series_id: int) -> list[Task]:
    """Receiver of imaging's series_ready: when the project asks for it, give a new series its
    reader slots. A failure is logged, never raised: it must not fail ingest post-processing."""
    series = Series.objects.select_related("project").filter(pk=series_id).first()
    if series is None or not series.project.tasks_on_ingest or series.fit_for_3d is False:
        return []
    try:
        return create_tasks(project=series.project, series_ids=[series.pk], by=None)
    except PlatformError as error:
        logger.warning("annotations: no tasks for series %s: %s", series_id, error.detail)
        return []


@transaction.atomic
def assign_task(*, task: Task, assignee: User | None, by: User) -> Task:
    """A lead (re)assigns a task that nobody has handed in yet."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if Actor.LEAD not in actors_of(by, task):
        raise Forbidden("only a lead may assign tasks")
    if task.state not in EDITABLE:
        raise TransitionRefused(
            f"the task is {TaskState(task.state).label.lower()}; only open tasks are reassigned"
        )
    if assignee is not None:
        _check_annotator(task.project_id, assignee)
    return _assign(task, assignee, by)


@transaction.atomic
def change_task(
    *, task: Task, by: User, priority: int | None = None, due_date: Any = "unchanged"
) -> Task:
    """A lead changes a task's priority or due date."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if Actor.LEAD not in actors_of(by, task):
        raise Forbidden("only a lead may change a task's priority or due date")
    before = _snapshot(task) | {"due_date": str(task.due_date)}
    if priority is not None:
        task.priority = priority
    if due_date != "unchanged":
        task.due_date = due_date
    task.save(update_fields=["priority", "due_date", "updated_at"])
    audit.record(
        actor=by, action="task.changed", target=task, project_id=task.project_id,
        before=before, after=_snapshot(task) | {"due_date": str(task.due_date)},
    )  # fmt: skip
    return task


def _assign(task: Task, assignee: User | None, by: User | None) -> Task:
    before = _snapshot(task)
    task.assignee = assignee
    try:
        with transaction.atomic():
            task.save(update_fields=["assignee", "updated_at"])
    except IntegrityError:
        raise Conflict(
            f"{assignee.username if assignee else 'this reader'} already reads this series"
        ) from None
    audit.record(
        actor=by,
        action="task.assigned",
        target=task,
        project_id=task.project_id,
        before=before,
        after=_snapshot(task),
    )
    return task


def _move(task: Task, target: TaskState, *, by: User, fields: Iterable[str] = ()) -> Task:
    """Make one state-machine move on a locked task and audit it."""
    before = _snapshot(task)
    check_transition(task.state, target, actors_of(by, task))
    task.state = target
    task.save(update_fields=["state", "updated_at", *fields])
    audit.record(
        actor=by,
        action=f"task.{target.value}",
        target=task,
        project_id=task.project_id,
        before=before,
        after=_snapshot(task),
    )
    return task


def actors_of(user: User, task: Task) -> set[Actor]:
    roles = set(
        Membership.objects.filter(project_id=task.project_id, user=user).values_list(
            "role", flat=True
        )
    )
    actors = set()
    if task.assignee_id == user.pk and Role.ANNOTATOR in roles:
        actors.add(Actor.ASSIGNEE)
    # Nobody reviews their own reading, and a task in review belongs to the reviewer holding it.
    if (
        Role.REVIEWER in roles
        and task.assignee_id != user.pk
        and task.reviewer_id in (None, user.pk)
    ):
        actors.add(Actor.REVIEWER)
    if Role.LEAD in roles or user.is_site_admin:
        actors.add(Actor.LEAD)
    return actors


@transaction.atomic
def save_revision(
    *, task: Task, author: User, parent_id: int | None, payload: bytes, findings: Any
) -> Revision:
    """Append a revision to the task, refusing it if someone saved since `parent_id`."""
    task = _locked_for_saving(task)
    actors = actors_of(author, task)
    reviewing = task.state == TaskState.IN_REVIEW and task.reviewer_id == author.pk
    if Actor.ASSIGNEE not in actors and not (reviewing and Actor.REVIEWER in actors):
        raise Forbidden("only the annotator assigned to this task may save to it")
    if task.state not in EDITABLE and not reviewing:
        raise TransitionRefused(
            f"the task is {TaskState(task.state).label.lower()}; it cannot be edited now"
        )
    if task.latest_revision_id != parent_id:
        raise RevisionConflict(latest_id=task.latest_revision_id)
    revision = _append(
        task=task, parent_id=parent_id, payload=payload, findings=findings, author=author
    )
    task.latest_revision = revision
    if task.state in (TaskState.NEW, TaskState.REWORK):
        task.started_at = task.started_at or timezone.now()
        _move(task, TaskState.IN_PROGRESS, by=author, fields=["latest_revision", "started_at"])
    else:
        task.save(update_fields=["latest_revision", "updated_at"])
    audit.record(
        actor=author,
        action="revision.created",
        target=revision,
        project_id=task.project_id,
        after={"task_id": task.pk, "parent_id": parent_id, "sha256": revision.labelmap_sha256},
    )
    logger.info("annotations: revision %s saved on task %s", revision.pk, task.pk)
    return revision


@transaction.atomic
def save_model_revision(
    *, task: Task, model_version_id: int, payload: bytes, findings: Any
) -> Revision:
    """Append a model-authored revision: a pre-annotation, never over a person's work."""
    task = _locked_for_saving(task)
    latest = task.latest_revision
    if latest is not None and latest.author_id is not None:
        raise RevisionConflict(latest_id=latest.pk)
    revision = _append(
        task=task,
        parent_id=task.latest_revision_id,
        payload=payload,
        findings=findings,
        model_version_id=model_version_id,
    )
    task.latest_revision = revision
    task.save(update_fields=["latest_revision", "updated_at"])
    audit.record(
        actor=None,
        action="revision.created",
        target=revision,
        project_id=task.project_id,
        after={"task_id": task.pk, "model_version_id": model_version_id},
    )
    return revision


def _locked_for_saving(task: Task) -> Task:
    """The task, locked, with the series and project a save is checked against (in the same
    query, and without the series' gzipped metadata, hundreds of KB a save never reads)."""
    return (
        Task.objects.select_for_update(of=("self",))
        .select_related("series", "project")
        .defer("series__metadata_gz")
        .get(pk=task.pk)
    )


def _append(
    *, task: Task, parent_id: int | None, payload: bytes, findings: Any, **author: Any
) -> Revision:
    """Check the payload against the series and store it; nothing is written if it is bad."""
    if len(payload) > settings.LABELMAP_MAX_BYTES:
        raise labelmaps.InvalidLabelmap(
            f"labelmap is {len(payload)} bytes, over the {settings.LABELMAP_MAX_BYTES}-byte limit"
        )
    series = task.series
    check_grid(labelmaps.read_header(payload), series)
    header = labelmaps.verify(payload, max_voxels=_voxels(series))
    findings = validate_findings(findings, task.project.label_schema, header)
    digest = hashlib.sha256(payload).hexdigest()
    name = default_storage.save(
        f"labelmaps/{task.project_id}/{task.pk}/{digest}.nflm", ContentFile(payload)
    )
    try:
        return Revision.objects.create(
            task=task,
            parent_id=parent_id,
            labelmap=name,
            labelmap_sha256=digest,
            labelmap_size=len(payload),
            findings=findings,
            **author,
        )
    except BaseException:
        default_storage.delete(name)
        raise


def _voxels(series: Series) -> int:
    geometry = series.geometry or {}
    return (
        int(geometry.get("slice_count", 0))
        * int(geometry.get("rows", 0))
        * int(geometry.get("columns", 0))
    )


def check_grid(header: labelmaps.LabelmapHeader, series: Series) -> None:
    """The labelmap must be on the series' grid: same series, same shape."""
    if header.series != series.series_instance_uid:
        raise GridMismatch("labelmap belongs to another series")
    geometry = series.geometry
    if not geometry:
        raise GridMismatch("the series is still being processed; try again in a moment")
    expected = (geometry["slice_count"], geometry["rows"], geometry["columns"])
    if tuple(header.shape) != tuple(expected):
        raise GridMismatch(
            f"labelmap shape {list(header.shape)} does not match the series {list(expected)}"
        )


@transaction.atomic
def submit_task(*, task: Task, user: User) -> Task:
    """The assignee hands the task in for review (and, with several readers, for consensus)."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if task.latest_revision_id is None and task.state == TaskState.IN_PROGRESS:
        raise TransitionRefused("save a revision before submitting the task")
    task.submitted_at = timezone.now()
    _move(task, TaskState.SUBMITTED, by=user, fields=["submitted_at"])
    series_id = task.series_id
    transaction.on_commit(lambda: task_submitted.send(Task, task_id=task.pk, series_id=series_id))
    return task


@transaction.atomic
def start_review(*, task: Task, reviewer: User) -> Task:
    """A reviewer takes a submitted task; nobody else may decide on it while they hold it."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    task.reviewer = reviewer
    task.review_started_at = timezone.now()
    return _move(task, TaskState.IN_REVIEW, by=reviewer, fields=["reviewer", "review_started_at"])


@transaction.atomic
def release_review(*, task: Task, by: User) -> Task:
    """The reviewer (or a lead) puts a task in review back in the review queue."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    check_transition(task.state, TaskState.SUBMITTED, actors_of(by, task))
    task.reviewer = None
    return _move(task, TaskState.SUBMITTED, by=by, fields=["reviewer"])


@transaction.atomic
def accept_task(
    *, task: Task, reviewer: User, comment: str = "", finding_comments: Any = None
) -> Review:
    """The reviewer accepts the latest revision (theirs, when they edited before accepting)."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    check_transition(task.state, TaskState.ACCEPTED, actors_of(reviewer, task))
    review = _review(task, reviewer, ReviewDecision.ACCEPTED, comment, finding_comments)
    task.accepted_at = timezone.now()
    _move(task, TaskState.ACCEPTED, by=reviewer, fields=["accepted_at"])
    task_id = task.pk
    transaction.on_commit(lambda: labels_accepted.send(Task, task_id=task_id))
    return review


@transaction.atomic
def send_to_rework(
    *, task: Task, reviewer: User, comment: str = "", finding_comments: Any = None
) -> Review:
    """Back to the annotator with the reviewer's comments (at least one is required)."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    check_transition(task.state, TaskState.REWORK, actors_of(reviewer, task))
    if not comment.strip() and not finding_comments:
        raise InvalidReview("say what needs rework: a comment or a comment on a finding")
    review = _review(task, reviewer, ReviewDecision.REWORK, comment, finding_comments)
    task.rework_count += 1
    task.reviewer = None
    _move(task, TaskState.REWORK, by=reviewer, fields=["rework_count", "reviewer"])
    return review


@transaction.atomic
def reopen_task(*, task: Task, lead: User, comment: str) -> Review:
    """A lead sends accepted work back to its annotator, with the reason as a rework review."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if not comment.strip():
        raise InvalidReview("say why the task is reopened")
    check_transition(task.state, TaskState.REWORK, actors_of(lead, task))
    review = _review(task, lead, ReviewDecision.REWORK, comment, None)
    task.rework_count += 1
    task.accepted_at = None
    _move(task, TaskState.REWORK, by=lead, fields=["rework_count", "accepted_at"])
    return review


def _review(
    task: Task, reviewer: User, decision: ReviewDecision, comment: str, finding_comments: Any
) -> Review:
    revision = task.latest_revision
    if revision is None:
        raise TransitionRefused("the task has no revision to review")
    if len(comment) > MAX_COMMENT:
        raise InvalidReview(f"the comment is over {MAX_COMMENT} characters")
    comments = _finding_comments(finding_comments, revision)
    model_version_id, dice = (
        _model_agreement(task, revision) if decision == ReviewDecision.ACCEPTED else (None, None)
    )
    review = Review.objects.create(
        task=task,
        project_id=task.project_id,
        started_at=task.review_started_at if task.state == TaskState.IN_REVIEW else None,
        revision=revision,
        reviewer=reviewer,
        decision=decision,
        comment=comment.strip(),
        finding_comments=comments,
        model_version_id=model_version_id,
        model_dice=dice,
    )
    audit.record(
        actor=reviewer,
        action=f"review.{decision.value}",
        target=review,
        project_id=task.project_id,
        after={"task_id": task.pk, "revision_id": revision.pk, "comments": len(comments)},
    )
    return review


def _finding_comments(value: Any, revision: Revision) -> list[dict[str, str]]:
    """[{finding_id, text}], each naming a finding of the reviewed revision."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise InvalidReview("finding_comments must be a list of {finding_id, text}")
    known = {str(f.get("id")) for f in revision.findings}
    comments = []
    for item in value:
        if not isinstance(item, dict) or not str(item.get("text", "")).strip():
            raise InvalidReview("each finding comment needs a finding_id and a text")
        finding_id, text = str(item.get("finding_id")), str(item["text"]).strip()
        if finding_id not in known:
            raise InvalidReview(f"the reviewed revision has no finding {finding_id!r}")
        if len(text) > MAX_COMMENT:
            raise InvalidReview(f"a finding comment is over {MAX_COMMENT} characters")
        comments.append({"finding_id": finding_id, "text": text})
    return comments


def _model_agreement(task: Task, accepted: Revision) -> tuple[int | None, float | None]:
    """Dice of the task's pre-annotation with the accepted labels: the model's correction effort."""
    model_revision = task.revisions.filter(model_version__isnull=False).order_by("id").first()
    if model_revision is None:
        return None, None
    if model_revision.pk == accepted.pk:
        return model_revision.model_version_id, 1.0
    voxels = _voxels(task.series)
    a = labelmap_voxels(model_revision, voxels) > 0
    b = labelmap_voxels(accepted, voxels) > 0
    total = int(a.sum()) + int(b.sum())
    dice = 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total
    return model_revision.model_version_id, round(dice, 4)


def labelmap_voxels(revision: Revision, max_voxels: int) -> np.ndarray:
    with revision.labelmap.open("rb") as stored:
        return labelmaps.decode(stored.read(), max_voxels=max_voxels).voxels
