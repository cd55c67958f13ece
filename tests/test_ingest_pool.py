"""The ingest pool: a batch's files are parsed and checked in worker processes, with the
caller's limits, and nothing is lost when a worker dies."""

import io
import os
import signal
import time
from pathlib import Path

import pydicom
import pytest
from pydicom.uid import DeflatedExplicitVRLittleEndian

from imaging import ingest_pool, staging
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
    assert staged_files() == []  # each one moved into storage


def staged_files() -> list[Path]:
    directory = staging.staging_dir()
    assert directory is not None
    return list(Path(directory).iterdir())


def media_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()]


def test_staged_files_of_instances_not_stored_are_removed(project, settings):
    first = series_bytes(3)
    ingest_batch(project=project, items=first)
    sop = str(pydicom.dcmread(io.BytesIO(first[1][1])).SOPInstanceUID)
    changed = ("changed.dcm", to_bytes(ct_dataset(1, sop=sop, patient_name="Changed^Bytes")))
    batch = [first[0], changed, ("junk.dcm", b"not dicom"), *series_bytes(5)[3:]]
    reports = ingest_batch(project=project, items=batch)
    assert [r.outcome for r in reports] == [
        Outcome.DUPLICATE, Outcome.CONFLICT, Outcome.REJECTED, Outcome.STORED, Outcome.STORED,
    ]  # fmt: skip
    assert staged_files() == []
    assert len(media_files(settings)) == Instance.objects.count() == 5


def test_files_prepared_early_but_never_taken_leave_nothing_staged(project):
    early = early_preparation(project)
    assert early is not None
    for name, data in series_bytes(6):
        early.offer(name, data)
    early.close()  # e.g. the STOW body turned out broken
    deadline = time.monotonic() + 10
    while staged_files() and time.monotonic() < deadline:
        time.sleep(0.05)  # a preparation already running removes its file when it ends
    assert staged_files() == []
    assert Instance.objects.count() == 0


def test_staged_files_a_dead_process_left_are_swept_after_an_hour(project, tmp_path):
    stale, fresh = tmp_path / "stale.dcm", tmp_path / "fresh.dcm"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    hours_ago = time.time() - 2 * staging.STALE_SECONDS
    os.utime(stale, (hours_ago, hours_ago))
    staging.sweep(str(tmp_path))
    assert [p.name for p in tmp_path.iterdir()] == ["fresh.dcm"]


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
