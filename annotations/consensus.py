"""Consensus of several readers on one series: made when the last reader submits, resolved by a
reviewer. Matching and statistics live in `annotations.agreement`; this module stores them."""

import hashlib
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from accounts.models import Role, User
from annotations import agreement, labelmaps
from annotations.labelmaps import LabelmapHeader
from annotations.models import Consensus, ConsensusState, Revision, Task, TaskState
from annotations.services import InvalidReview, accept_task, labelmap_voxels, start_review
from config.errors import Conflict, Forbidden
from imaging.models import Series
from projects import audit
from projects.models import Membership

logger = logging.getLogger(__name__)

# States in which a reader's work is handed in (review may already have started on it).
HANDED_IN = (TaskState.SUBMITTED, TaskState.IN_REVIEW, TaskState.ACCEPTED)


@dataclass(frozen=True, slots=True)
class Readings:
    """The readers' latest revisions of a series and the nodules matched across them."""

    revisions: list[Revision]
    labelmaps: list[np.ndarray]
    matched: list[agreement.MatchedNodule]
    header: LabelmapHeader  # the series' grid, for writing labelmaps on it


def read_series(series: Series, revisions: list[Revision]) -> Readings:
    header = labelmaps.series_header(series)
    voxels = header.voxel_count
    spacing = (header.spacing[0], header.spacing[1], header.spacing[2])
    volumes, nodules = [], []
    for revision in revisions:
        volume = labelmap_voxels(revision, voxels)
        volumes.append(volume)
        split = agreement.split_labelmap(f"task-{revision.task_id}", volume, spacing)
        nodules += agreement.attach_findings(split, revision.findings)
    matched = agreement.match_nodules(nodules, max_members=len(revisions))
    return Readings(revisions, volumes, matched, header)


def build_consensus(*, series_id: int) -> Consensus | None:
    """Merge the readers of a multi-reader series once every one has handed in; safe to run
    again (an unresolved consensus is rebuilt from the latest revisions, a resolved one kept)."""
    series = Series.objects.select_related("project").get(pk=series_id)
    tasks = list(
        Task.objects.filter(series=series).select_related("latest_revision").order_by("reader_slot")
    )
    if len(tasks) < 2 or any(t.state not in HANDED_IN or not t.latest_revision for t in tasks):
        return None
    existing = Consensus.objects.filter(series=series).first()
    if existing is not None and existing.state == ConsensusState.RESOLVED:
        return existing
    revisions = [t.latest_revision for t in tasks if t.latest_revision is not None]
    readings = read_series(series, revisions)
    proposal = agreement.consensus_labelmap(readings.labelmaps)
    payload = labelmaps.encode(proposal, readings.header)
    readers = [f"task-{r.task_id}" for r in revisions]
    figures = agreement.measure_agreement(readers, readings.matched)
    needed = agreement.votes_needed(len(revisions))
    matches = [_match_json(i, m, needed) for i, m in enumerate(readings.matched)]
    findings = [_consensus_finding(i, m) for i, m in enumerate(readings.matched)
                if m.reader_count >= needed]  # fmt: skip
    stats = figures.to_json()
    summary = {
        "mean_pairwise_dice": stats["mean_dice"],
        "mean_f1": stats["mean_f1"],
        "fleiss_kappa": {name: k["kappa"] for name, k in stats["kappa"].items()},
        "votes_needed": needed,
        "readers": len(revisions),
        "detail": stats,
    }
    name = _store(series, payload)
    with transaction.atomic():
        consensus, _ = Consensus.objects.select_for_update().update_or_create(
            series=series,
            defaults={
                "project_id": series.project_id,
                "matches": matches,
                "agreement": summary,
                "proposed_labelmap": name,
                "proposed_findings": findings,
                "state": ConsensusState.PROPOSED,
            },
        )
        consensus.reader_revisions.set(revisions)
        audit.record(
            actor=None, action="consensus.proposed", target=consensus,
            project_id=series.project_id,
            after={"revisions": [r.pk for r in revisions], "nodules": len(matches)},
        )  # fmt: skip
    logger.info("annotations: consensus %s proposed for series %s", consensus.pk, series.pk)
    return consensus


def _store(series: Series, payload: bytes) -> str:
    digest = hashlib.sha256(payload).hexdigest()
    return default_storage.save(
        f"consensus/{series.project_id}/{series.pk}/{digest}.nflm", ContentFile(payload)
    )


def _match_json(index: int, nodule: agreement.MatchedNodule, needed: int) -> dict[str, Any]:
    figures = agreement.nodule_agreement(nodule)
    return {
        "index": index,
        "reader_count": nodule.reader_count,
        "proposed": nodule.reader_count >= needed,
        "centroid_voxel": [round(float(c), 1) for c in np.mean(
            [m.centroid_voxel for m in nodule.members], axis=0)],
        "mean_dice": None if np.isnan(figures.mean_dice) else round(figures.mean_dice, 4),
        "members": [
            {
                "task_id": int(member.reader.removeprefix("task-")),
                "finding_id": member.finding_id,
                "volume_mm3": round(member.volume_mm3, 1),
                "centroid_voxel": [round(c, 1) for c in member.centroid_voxel],
                "attributes": member.attributes,
            }
            for member in nodule.members
        ],
        "attributes": agreement.consensus_attributes(nodule),
    }  # fmt: skip


def _consensus_finding(index: int, nodule: agreement.MatchedNodule) -> dict[str, Any]:
    centre = np.mean([m.centroid_voxel for m in nodule.members], axis=0)
    return {
        "id": f"consensus-{index + 1}",
        "segment": 1,
        "centroid_voxel": [round(float(c), 3) for c in centre],
        "attributes": agreement.consensus_attributes(nodule),
        "readers": nodule.reader_count,
    }


def resolve_consensus(
    *, consensus: Consensus, reviewer: User, include: set[int], comment: str = ""
) -> Consensus:
    """The reviewer's answer to each matched nodule (kept or not) becomes the series' label:
    kept nodules drawn by enough readers take their majority vote, kept minority nodules the
    union of the readers who drew them. Every reader's task is accepted with it."""
    with transaction.atomic():
        consensus = Consensus.objects.select_for_update().get(pk=consensus.pk)
        if consensus.state == ConsensusState.RESOLVED:
            raise Conflict("this consensus is already resolved")
        _check_reviewer(consensus, reviewer)
        if unknown := include - {m["index"] for m in consensus.matches}:
            raise InvalidReview(f"no matched nodule {sorted(unknown)}")
        revisions = list(consensus.reader_revisions.order_by("task__reader_slot"))
        readings = read_series(consensus.series, revisions)
        if len(readings.matched) != len(consensus.matches):
            raise Conflict("the readers' labels changed; reload the consensus")
        final = _final_labelmap(readings, include)
        consensus.labelmap = _store(consensus.series, labelmaps.encode(final, readings.header))
        consensus.findings = [
            _consensus_finding(i, m) for i, m in enumerate(readings.matched) if i in include
        ]
        consensus.decisions = {
            str(m["index"]): m["index"] in include for m in consensus.matches
        } | {"comment": comment[:4000]}
        consensus.state = ConsensusState.RESOLVED
        consensus.resolved_by = reviewer
        consensus.resolved_at = timezone.now()
        consensus.save()
        _accept_readers(consensus, reviewer, revisions)
        audit.record(
            actor=reviewer, action="consensus.resolved", target=consensus,
            project_id=consensus.project_id,
            after={"kept": sorted(include), "nodules": len(consensus.matches)},
        )  # fmt: skip
    return consensus


def _check_reviewer(consensus: Consensus, reviewer: User) -> None:
    if not Membership.objects.filter(
        project_id=consensus.project_id, user=reviewer, role=Role.REVIEWER
    ).exists():
        raise Forbidden("only a reviewer may resolve a consensus")
    if consensus.reader_revisions.filter(task__assignee=reviewer).exists():
        raise Forbidden("a reader of this series may not resolve its consensus")


def _final_labelmap(readings: Readings, include: set[int]) -> np.ndarray:
    final = np.zeros(readings.labelmaps[0].shape, dtype=np.uint8)
    needed = agreement.votes_needed(len(readings.revisions))
    for index, nodule in enumerate(readings.matched):
        if index not in include:
            continue
        votes = np.zeros(final.shape, dtype=np.uint8)
        for member in nodule.members:
            z, y, x = member.origin
            d, h, w = member.mask.shape
            votes[z : z + d, y : y + h, x : x + w] += member.mask
        required = needed if nodule.reader_count >= needed else 1
        final[votes >= required] = nodule.members[0].segment or 1
    return final


def _accept_readers(consensus: Consensus, reviewer: User, revisions: list[Revision]) -> None:
    """Each reader's task goes through review to accepted, by the state machine like any other,
    with a review that names the consensus."""
    for revision in revisions:
        task = Task.objects.get(pk=revision.task_id)
        if task.state == TaskState.SUBMITTED:
            task = start_review(task=task, reviewer=reviewer)
        if task.state == TaskState.IN_REVIEW:
            accept_task(
                task=task, reviewer=reviewer, comment=f"resolved in consensus #{consensus.pk}"
            )
