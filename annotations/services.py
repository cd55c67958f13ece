"""Writes on tasks and revisions, one function per use case."""

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction

from accounts.models import Role, User
from annotations import labelmaps
from annotations.errors import GridMismatch, RevisionConflict, TransitionRefused
from annotations.findings import validate_findings
from annotations.models import Revision, Task, TaskState
from annotations.states import EDITABLE, Actor, check_transition
from config.errors import Forbidden
from imaging.models import Series
from projects.models import Membership

logger = logging.getLogger(__name__)


@transaction.atomic
def create_task(
    *, series: Series, assignee: User | None = None, reader_slot: int = 1, priority: int = 0
) -> Task:
    """A task for one reader slot of a series; the assignee must annotate in the project."""
    if (
        assignee is not None
        and not Membership.objects.filter(
            project_id=series.project_id, user=assignee, role=Role.ANNOTATOR
        ).exists()
    ):
        raise Forbidden(f"{assignee.username} is not an annotator in this project")
    return Task.objects.create(
        project_id=series.project_id,
        series=series,
        assignee=assignee,
        reader_slot=reader_slot,
        priority=priority,
    )


def actors_of(user: User, task: Task) -> set[Actor]:
    roles = set(
        Membership.objects.filter(project_id=task.project_id, user=user).values_list(
            "role", flat=True
        )
    )
    actors = set()
    if task.assignee_id == user.pk and Role.ANNOTATOR in roles:
        actors.add(Actor.ASSIGNEE)
    if Role.REVIEWER in roles and task.assignee_id != user.pk:
        actors.add(Actor.REVIEWER)
    if Role.LEAD in roles or user.is_site_admin:
        actors.add(Actor.LEAD)
    return actors


@transaction.atomic
def save_revision(
    *, task: Task, author: User, parent_id: int | None, payload: bytes, findings: Any
) -> Revision:
    """Append a revision to the task, refusing it if someone saved since `parent_id`."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    if Actor.ASSIGNEE not in actors_of(author, task):
        raise Forbidden("only the annotator assigned to this task may save to it")
    if task.state not in EDITABLE:
        raise TransitionRefused(
            f"the task is {TaskState(task.state).label.lower()}; it cannot be edited now"
        )
    if task.latest_revision_id != parent_id:
        raise RevisionConflict(latest_id=task.latest_revision_id)
    revision = _append(
        task=task, parent_id=parent_id, payload=payload, findings=findings, author=author
    )
    if task.state != TaskState.IN_PROGRESS:
        check_transition(task.state, TaskState.IN_PROGRESS, {Actor.ASSIGNEE})
        task.state = TaskState.IN_PROGRESS
    task.latest_revision = revision
    task.save(update_fields=["latest_revision", "state", "updated_at"])
    logger.info("annotations: revision %s saved on task %s", revision.pk, task.pk)
    return revision


@transaction.atomic
def save_model_revision(
    *, task: Task, model_version_id: int, payload: bytes, findings: Any
) -> Revision:
    """Append a model-authored revision: a pre-annotation, never over a person's work."""
    task = Task.objects.select_for_update().get(pk=task.pk)
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
    return revision


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
    labelmap = labelmaps.decode(payload, max_voxels=_voxels(series))
    findings = validate_findings(findings, task.project.label_schema, labelmap)
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
    """The assignee hands the task in for review."""
    task = Task.objects.select_for_update().get(pk=task.pk)
    check_transition(task.state, TaskState.SUBMITTED, actors_of(user, task))
    if task.latest_revision_id is None:
        raise TransitionRefused("save a revision before submitting the task")
    task.state = TaskState.SUBMITTED
    task.save(update_fields=["state", "updated_at"])
    return task
