"""Revisions: saved from the viewer in the wire format, append-only, conflicts refused."""

import dataclasses
import gzip
import hashlib
import json
import re
import struct

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from accounts.models import Role
from annotations import labelmaps
from annotations.models import Revision, TaskState
from annotations.services import create_task
from imaging.models import Series
from imaging.processing import process_series
from imaging.services import ingest_batch
from tests.dicom_factory import series_bytes
from tests.factories import MembershipFactory, SeriesFactory

SLICES = 8


@pytest.fixture
def task(team):
    team.project.deidentify = False
    team.project.save()
    ingest_batch(project=team.project, items=series_bytes(SLICES))
    series = Series.objects.get()
    process_series(series_id=series.pk)
    series.refresh_from_db()
    return create_task(series=series, assignee=team.annotator)


def payload(task, *, value: int = 1, shape=None) -> bytes:
    header = labelmaps.series_header(task.series)
    if shape is not None:
        header = labelmaps.LabelmapHeader(shape, header.spacing, header.origin, header.direction,
                                          header.series)  # fmt: skip
    voxels = np.zeros(header.shape, dtype=np.uint8)
    voxels[3, 10:14, 10:14] = value
    return labelmaps.encode(voxels, header)


def post(client, task, data: bytes, parent_id=None, findings="[]"):
    body = {"labelmap": SimpleUploadedFile("labelmap.nflm", data), "findings": findings}
    if parent_id is not None:
        body["parent_id"] = parent_id
    return client.post(f"/api/annotations/tasks/{task.pk}/revisions/", body, format="multipart")


def test_wire_format_round_trips():
    header = labelmaps.LabelmapHeader(
        (2, 3, 4), (2.5, 0.7, 0.7), (0, 0, 0), (1, 0, 0, 0, 1, 0, 0, 0, 1), "1.2"
    )
    voxels = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    decoded = labelmaps.decode(labelmaps.encode(voxels, header), max_voxels=100)
    assert np.array_equal(decoded.voxels, voxels)
    assert decoded.header.shape == (2, 3, 4)


def test_annotator_saves_and_reloads_the_voxels(task, team, api):
    client = api(team.annotator)
    response = post(client, task, payload(task))
    assert response.status_code == 201, response.json()
    revision = response.json()
    assert revision["author_kind"] == "user"
    # The viewer asks for bytes, with JSON for errors.
    stored = client.get(
        revision["labelmap_url"], HTTP_ACCEPT="application/octet-stream, application/json;q=0.9"
    )
    assert stored.status_code == 200
    assert stored["Cache-Control"] == "private, max-age=31536000, immutable"
    voxels = labelmaps.decode(stored.content, max_voxels=10**8).voxels
    assert voxels[3, 10:14, 10:14].sum() == 16 and voxels.sum() == 16
    detail = client.get(f"/api/annotations/tasks/{task.pk}/").json()
    assert detail["latest_revision"]["id"] == revision["id"]
    assert detail["state"] == TaskState.IN_PROGRESS
    assert detail["mode"] == "annotate"
    assert detail["permissions"]["can_edit"] and detail["permissions"]["can_submit"]
    assert not detail["permissions"]["can_start_review"]


def test_a_save_from_a_stale_parent_is_a_conflict(task, team, api):
    client = api(team.annotator)
    first = post(client, task, payload(task)).json()
    second = post(client, task, payload(task, value=1), parent_id=first["id"])
    assert second.status_code == 201
    stale = post(client, task, payload(task), parent_id=first["id"])
    assert stale.status_code == 409
    assert stale.json()["latest_id"] == second.json()["id"]
    assert "changed since you opened it" in stale.json()["detail"]
    assert Revision.objects.count() == 2


def test_a_labelmap_of_the_wrong_shape_is_refused_and_nothing_stored(task, team, api, settings):
    response = post(api(team.annotator), task, payload(task, shape=(SLICES, 16, 16)))
    assert response.status_code == 400
    assert (
        response.json()["detail"]
        == f"labelmap shape [{SLICES}, 16, 16] does not match the series [{SLICES}, 32, 32]"
    )
    assert Revision.objects.count() == 0


def test_a_corrupt_payload_is_refused(task, team, api):
    data = payload(task)
    response = post(api(team.annotator), task, data[:-20] + b"x" * 20)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_labelmap"
    response = post(api(team.annotator), task, b"not a labelmap")
    assert response.json()["detail"] == "not a labelmap: the payload does not start with NFLM"
    assert Revision.objects.count() == 0


def test_a_box_outside_the_series_is_refused_and_nothing_stored(task, team, api):
    data = payload(task)
    assert data[5] == labelmaps.GZIP_BOX
    length = struct.unpack("<I", data[6:10])[0]
    fields = json.loads(data[10 : 10 + length])
    fields["box"] = [0, 0, 0, SLICES + 1, 32, 32]
    head = json.dumps(fields).encode()
    forged = data[:6] + struct.pack("<I", len(head)) + head + data[10 + length :]
    response = post(api(team.annotator), task, forged)
    assert response.status_code == 400
    assert "does not fit the shape" in response.json()["detail"]
    assert Revision.objects.count() == 0


def test_a_revision_saved_before_the_box_compression_still_loads(task, team, api):
    header = labelmaps.series_header(task.series)
    voxels = np.zeros(header.shape, dtype=np.uint8)
    voxels[2, 5:9, 5:9] = 1
    raw = voxels.tobytes()
    fields = dataclasses.asdict(header) | {"sha256": hashlib.sha256(raw).hexdigest()}
    head = json.dumps(fields).encode()
    legacy = b"NFLM" + struct.pack("<BBI", 1, labelmaps.GZIP, len(head)) + head + gzip.compress(raw)
    client = api(team.annotator)
    saved = post(client, task, legacy)
    assert saved.status_code == 201, saved.json()
    stored = client.get(saved.json()["labelmap_url"], HTTP_ACCEPT="application/octet-stream")
    assert stored.content == legacy  # stored as sent
    assert labelmaps.decode(stored.content, max_voxels=10**8).voxels.sum() == 16


def test_a_too_large_body_is_refused(task, team, api, settings):
    settings.LABELMAP_MAX_BYTES = 100
    response = post(api(team.annotator), task, payload(task) + b"\0" * (2 * 1024**2))
    assert response.status_code == 413
    assert Revision.objects.count() == 0


def test_findings_must_follow_the_schema(task, team, api):
    findings = '[{"segment": 1, "attributes": {"malignancy": 9}}]'
    response = post(api(team.annotator), task, payload(task), findings=findings)
    assert response.status_code == 400
    assert response.json()["detail"] == "finding 1: 9 is not a choice of malignancy"


def test_a_save_on_a_task_not_assigned_to_you_is_refused(task, team, api):
    response = post(api(team.reviewer), task, payload(task))
    assert response.status_code == 403
    assert response.json()["detail"] == "only the annotator assigned to this task may save to it"
    other = create_task(series=task.series, assignee=None, reader_slot=2)
    response = post(api(team.annotator), other, payload(task))
    assert response.status_code == 404
    assert Revision.objects.count() == 0


def test_submit_needs_a_revision_and_then_hands_the_task_in(task, team, api):
    client = api(team.annotator)
    refused = client.post(f"/api/annotations/tasks/{task.pk}/submit/")
    assert refused.status_code == 409
    post(client, task, payload(task))
    response = client.post(f"/api/annotations/tasks/{task.pk}/submit/")
    assert response.json()["state"] == TaskState.SUBMITTED
    after = post(client, task, payload(task), parent_id=response.json()["latest_revision"]["id"])
    assert after.status_code == 409
    assert after.json()["detail"] == "the task is submitted; it cannot be edited now"


def test_next_task_is_the_highest_priority_open_one(task, team, api, client):
    urgent = create_task(
        series=SeriesFactory.create(project=team.project), assignee=team.annotator, priority=5
    )
    assert api(team.annotator).get("/api/annotations/tasks/next/").json()["id"] == urgent.pk
    assert api(team.reviewer).get("/api/annotations/tasks/next/").status_code == 204
    client.force_login(team.annotator)
    assert client.get("/tasks/next/")["Location"] == f"/tasks/{urgent.pk}/"


def test_task_page_mounts_the_viewer(task, team, client):
    client.force_login(team.annotator)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert f'data-task-id="{task.pk}"' in page
    assert f'data-dicomweb-root="/dicomweb/projects/{team.project.pk}"' in page
    # The pages' styles, not their htmx: its start-up pass over the page would delay the viewer.
    assert re.search(r'<link rel="stylesheet" href="/static/assets/pagesStyle-[^"]+\.css"', page)
    assert "assets/pages-" not in page
    client.force_login(team.outsider)
    assert client.get(f"/tasks/{task.pk}/").status_code == 404


def test_task_history_section_is_served_alone_with_the_latest_revision_marked(
    task, team, client, api
):
    annotator = api(team.annotator)
    first = post(annotator, task, payload(task)).json()["id"]
    second = post(annotator, task, payload(task, value=2), parent_id=first).json()["id"]
    client.force_login(team.annotator)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    assert f'data-refresh-url="/tasks/{task.pk}/history/"' in page

    response = client.get(f"/tasks/{task.pk}/history/")
    assert response.status_code == 200
    section = response.content.decode()
    assert "<html" not in section and "<details" not in section  # the <details> stays the page's
    assert "<summary>History: 2 revisions, 0 reviews, 4 events</summary>" in section
    rows = re.findall(
        r'<tr data-revision="(\d+)"[^>]*>\s*<td>#\d+( <span class="state">latest)?', section
    )
    assert [(int(pk), bool(latest)) for pk, latest in rows] == [(second, True), (first, False)]
    # Opened on a past revision, the section says so as the page does.
    shown = client.get(f"/tasks/{task.pk}/history/?revision={first}").content.decode()
    assert f'<tr data-revision="{first}" class="opened">' in shown


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 302), ("outsider", 404), ("another annotator", 404), ("reviewer", 200),
     ("lead", 200)],
)  # fmt: skip
def test_task_history_answers_whoever_asks_as_the_task_page_does(task, team, client, who, status):
    users = {
        "anonymous": None,
        "outsider": team.outsider,
        "another annotator": MembershipFactory.create(
            project=team.project, role=Role.ANNOTATOR
        ).user,
        "reviewer": team.reviewer,
        "lead": team.lead,
    }
    if users[who] is not None:
        client.force_login(users[who])
    page = client.get(f"/tasks/{task.pk}/")
    section = client.get(f"/tasks/{task.pk}/history/")
    assert page.status_code == section.status_code == status
    if who == "anonymous":
        assert section["Location"] == f"/accounts/login/?next=/tasks/{task.pk}/history/"


def test_task_page_preloads_the_series_metadata_the_viewer_fetches(task, team, client):
    """The metadata the first image waits for is requested while the page's scripts load; the
    entry module's fetch of the same URL (same origin, credentials and mode) takes that response."""
    client.force_login(team.annotator)
    page = client.get(f"/tasks/{task.pk}/").content.decode()
    series = task.series
    url = (
        f"/dicomweb/projects/{team.project.pk}/studies/{series.study.study_instance_uid}"
        f"/series/{series.series_instance_uid}/metadata"
    )
    assert f'<link rel="preload" as="fetch" crossorigin href="{url}">' in page
