"""The ingest pool: a batch's files are parsed and checked in worker processes, with the
caller's limits, and nothing is lost when a worker dies."""

import io
import os
import signal
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian

from imaging import ingest_pool
from imaging.models import Instance
from imaging.outcomes import Outcome
from imaging.services import early_preparation, ingest_batch
from tests.dicom_factory import ct_dataset, series_bytes, to_bytes
from tests.factories import ProjectFactory


@pytest.fixture
def project(db, settings):
    settings.DICOM_INGEST_WORKERS = 2
    return ProjectFactory.create(deidentify=False)


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def test_a_batch_is_parsed_by_the_pool_workers_and_stored_byte_exact(project):
    ingest_pool.start()
    ingest_batch(project=project, items=series_bytes(2, size=64))  # the workers are up
    pids = ingest_pool.worker_pids()
    assert len(pids) == 2
    before = sum(cpu_ticks(pid) for pid in pids)
    items = series_bytes(60, size=256)[2:]
    reports = ingest_batch(project=project, items=items)
    assert [r.outcome for r in reports] == [Outcome.STORED] * len(items)
    assert sum(cpu_ticks(pid) for pid in pids) > before
    for (_, data), report in zip(items, reports, strict=True):
        with Instance.objects.get(pk=report.instance_id).file.open("rb") as stored:
            assert stored.read() == data


def test_the_callers_limits_apply_in_the_workers(project, settings):
    settings.DICOM_MAX_ROWS_COLUMNS = 16
    reports = ingest_batch(project=project, items=series_bytes(3))
    assert {r.outcome for r in reports} == {Outcome.REJECTED}
    assert reports[0].reason == "image is 32x32; rows and columns must be 1-16"
    assert Instance.objects.count() == 0


def test_a_deflated_file_in_a_batch_is_stored_inflated(project):
    ds = ct_dataset(5)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    deflated = io.BytesIO()
    ds.save_as(deflated, enforce_file_format=True)
    items = [*series_bytes(2), ("deflated.dcm", deflated.getvalue())]
    reports = ingest_batch(project=project, items=items)
    assert [r.outcome for r in reports] == [Outcome.STORED] * 3
    instance = Instance.objects.get(pk=reports[2].instance_id)
    assert instance.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    with instance.file.open("rb") as stored:
        assert pydicom.dcmread(stored).PixelData == ds.PixelData


def test_a_batch_is_stored_whole_when_the_workers_die(project):
    ingest_pool.start()
    ingest_batch(project=project, items=series_bytes(2))
    for pid in ingest_pool.worker_pids():
        os.kill(pid, signal.SIGKILL)
    items = series_bytes(40)[2:]
    reports = ingest_batch(project=project, items=items)
    assert [r.outcome for r in reports] == [Outcome.STORED] * len(items)
    assert Instance.objects.count() == 40
    # The next batch has a pool again.
    ingest_batch(project=project, items=[("x.dcm", to_bytes(ct_dataset(41))), *series_bytes(2)])
    assert len(ingest_pool.worker_pids()) == 2


def test_files_offered_early_are_taken_by_their_batch(project):
    items = series_bytes(5)
    early = early_preparation(project)
    assert early is not None
    for name, data in items:
        early.offer(name, data)
    assert len(early) == 5
    reports = ingest_batch(project=project, items=items, early=early)
    assert [r.outcome for r in reports] == [Outcome.STORED] * 5
    assert len(early) == 0


def test_a_file_offered_with_other_bytes_is_prepared_from_the_bytes_in_the_batch(project):
    items = series_bytes(3)
    early = early_preparation(project)
    assert early is not None
    early.offer("slice-001.dcm", to_bytes(ct_dataset(1, patient_name="Other^Bytes")))
    reports = ingest_batch(project=project, items=items, early=early)
    assert [r.outcome for r in reports] == [Outcome.STORED] * 3
    with Instance.objects.get(pk=reports[1].instance_id).file.open("rb") as stored:
        assert stored.read() == items[1][1]


def test_a_de_identifying_project_prepares_nothing_early(db):
    assert early_preparation(ProjectFactory.create(deidentify=True)) is None
