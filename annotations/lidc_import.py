"""Bring a LIDC read XML in as the independent readers of a stored series: one reader user, task,
revision and submission per reading session, so consensus and agreement run on real reads."""

import logging
from pathlib import Path

from django.db import transaction

from accounts.models import Role, User
from annotations import labelmaps
from annotations.consensus import HANDED_IN, build_consensus
from annotations.lidc_xml import SliceGrid, parse_read_message, rasterise_reading
from annotations.models import Consensus, Task
from annotations.services import MAX_READERS, create_tasks, save_revision, submit_task
from config.errors import Conflict, NotFound, PlatformError
from imaging.models import Instance, Series
from projects.models import Membership, Project

logger = logging.getLogger(__name__)


class InvalidReadMessage(PlatformError):
    code = "invalid_read_message"


def series_grid(series: Series) -> SliceGrid:
    """The stored series' grid in the labelmap's slice order, for placing LIDC outlines."""
    header = labelmaps.series_header(series)
    order = series.geometry["order"] if series.geometry else []
    rows = Instance.objects.filter(pk__in=order).values_list(
        "pk", "sop_instance_uid", "image_position"
    )
    by_id = {pk: (uid, position) for pk, uid, position in rows}
    return SliceGrid(
        shape=header.shape,
        spacing=(header.spacing[0], header.spacing[1], header.spacing[2]),
        slice_by_sop={by_id[pk][0]: i for i, pk in enumerate(order)},
        slice_z_mm=tuple(float((by_id[pk][1] or (0, 0, 0))[2]) for pk in order),
    )


def reader_user(project: Project, number: int) -> User:
    """LIDC reader N of the project: an annotator account that cannot sign in."""
    user, created = User.objects.get_or_create(
        username=f"lidc-reader-{number}", defaults={"display_name": f"LIDC reader {number}"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    Membership.objects.get_or_create(project=project, user=user, role=Role.ANNOTATOR)
    return user


def import_lidc_reads(
    *, project: Project, xml: Path | bytes, by: User | None = None
) -> Consensus | None:
    """Import every reading of the XML as a reader of its series and build the consensus.

    Safe to run twice: readers who already handed in are left as they are.
    """
    try:
        message = parse_read_message(xml)
    except (ValueError, SyntaxError) as error:
        raise InvalidReadMessage(f"not a LIDC read message: {error}") from None
    series = Series.objects.filter(
        project=project, series_instance_uid=message.series_instance_uid
    ).first()
    if series is None:
        raise NotFound("the read message's series is not in this project")
    if not series.geometry:
        raise Conflict("the series is still being processed; try again in a moment")
    readings = message.readings[:MAX_READERS]
    if not readings:
        raise InvalidReadMessage("the read message holds no reading session")
    grid = series_grid(series)
    readers = [reader_user(project, n) for n in range(1, len(readings) + 1)]
    with transaction.atomic():
        create_tasks(project=project, series_ids=[series.pk], by=by,
                     readers=len(readers), assignees=readers)  # fmt: skip
        for reader, reading in zip(readers, readings, strict=True):
            task = Task.objects.filter(series=series, assignee=reader).first()
            if task is None:
                raise Conflict(f"the series' reader slots are taken; {reader.username} has none")
            if task.state in HANDED_IN:
                continue
            read = rasterise_reading(reading, grid)
            save_revision(
                task=task, author=reader, parent_id=task.latest_revision_id,
                payload=labelmaps.encode(read.labelmap, labelmaps.series_header(series)),
                findings=read.findings,
            )  # fmt: skip
            submit_task(task=task, user=reader)
    logger.info("annotations: %s LIDC reading(s) imported on series %s", len(readers), series.pk)
    return build_consensus(series_id=series.pk)
