"""Two readers of a small phantom: their submissions start a consensus in the real worker, and
who may see or resolve it."""

import time

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from annotations import labelmaps
from annotations.consensus import build_consensus
from annotations.models import Consensus, Task, TaskState
from annotations.services import create_tasks
from imaging.models import Series
from imaging.processing import process_series
from imaging.services import ingest_batch
from tests.dicom_factory import series_bytes
from tests.factories import MembershipFactory
from tests.processes import wait_until

SLICES = 8


def two_reader_series(team):
    team.project.deidentify = False
    team.project.save()
    ingest_batch(project=team.project, items=series_bytes(SLICES))
    series = Series.objects.get(project=team.project)
    process_series(series_id=series.pk)
    series.refresh_from_db()
    MembershipFactory.create(project=team.project, role=Role.ANNOTATOR)
    create_tasks(project=team.project, series_ids=[series.pk], by=team.lead, readers=2)
    return series


def read_and_submit(api, task, shift: int):
    """The reader draws a 4x4x3 box (shifted by `shift` columns) and hands the task in."""
    header = labelmaps.series_header(task.series)
    voxels = np.zeros(header.shape, dtype=np.uint8)
    voxels[2:5, 10:14, 10 + shift : 14 + shift] = 1
    client = api(task.assignee)
    body = {
        "labelmap": SimpleUploadedFile("l.nflm", labelmaps.encode(voxels, header)),
        "findings": '[{"id": "n1", "segment": 1, "centroid_voxel": [3, 11.5, 11.5],'
        ' "attributes": {"malignancy": 3}}]',
    }
    assert client.post(f"/api/annotations/tasks/{task.pk}/revisions/", body).status_code == 201
    assert client.post(f"/api/annotations/tasks/{task.pk}/submit/").status_code == 200


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_last_reader_s_submission_builds_the_consensus_in_the_worker(team, api, celery_worker):
    series = two_reader_series(team)
    first, second = Task.objects.filter(series=series).order_by("reader_slot")
    read_and_submit(api, first, shift=0)
    time.sleep(1)
    assert not Consensus.objects.exists()  # one reader is still at work
    read_and_submit(api, second, shift=1)
    wait_until(lambda: Consensus.objects.filter(series=series).exists(), 60, "the consensus")
    consensus = Consensus.objects.get(series=series)
    (match,) = consensus.matches
    assert match["reader_count"] == 2
    assert match["mean_dice"] == pytest.approx(0.75)  # 36 shared of 48 voxels each
    response = api(team.reviewer).post(
        f"/api/annotations/consensus/{consensus.pk}/resolve/", {"include": [0]}, format="json"
    )
    assert response.status_code == 200, response.json()
    assert set(Task.objects.filter(series=series).values_list("state", flat=True)) == {
        TaskState.ACCEPTED
    }


@pytest.fixture
def consensus(team, api):
    series = two_reader_series(team)
    for shift, task in enumerate(Task.objects.filter(series=series).order_by("reader_slot")):
        read_and_submit(api, task, shift)
    return build_consensus(series_id=series.pk)


ROLES = ("anonymous", "outsider", "annotator", "reviewer", "lead", "admin")


@pytest.mark.parametrize(
    ("role", "read", "resolve"),
    [("anonymous", 401, 401), ("outsider", 404, 404), ("annotator", 404, 404),
     ("reviewer", 200, 200), ("lead", 200, 403), ("admin", 200, 403)],
)  # fmt: skip
def test_permission_matrix_of_consensus_endpoints(team, api, consensus, role, read, resolve):
    client = api(team.by_name(role))
    base = f"/api/annotations/consensus/{consensus.pk}/"
    assert client.get(base).status_code == read
    assert (
        client.get(f"/api/annotations/series/{consensus.series_id}/consensus/").status_code == read
    )
    labelmap = client.get(f"/api/annotations/consensus/{consensus.pk}/labelmap?which=proposed")
    assert labelmap.status_code == read
    response = client.post(base + "resolve/", {"include": [0]}, format="json")
    assert response.status_code == resolve
    consensus.refresh_from_db()
    assert consensus.state == ("resolved" if resolve == 200 else "proposed")


def test_resolving_a_nodule_that_does_not_exist_is_refused(team, api, consensus):
    response = api(team.reviewer).post(
        f"/api/annotations/consensus/{consensus.pk}/resolve/", {"include": [7]}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "no matched nodule [7]"
    consensus.refresh_from_db()
    assert consensus.state == "proposed"
