"""Every way images come in ends in the same ingest: the import command, the C-STORE receiver
and the upload page, each tried with the real LIDC slices."""

import io
import signal
import socket
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pydicom
import pynetdicom
import pytest
from django.core.management import CommandError, call_command
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid
from pynetdicom import AE
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]

from imaging.models import Instance, Series, Study
from imaging.scp import CANNOT_UNDERSTAND, CONFLICT, DOES_NOT_MATCH_SOP_CLASS, StoreSCP
from tests import processes
from tests.conftest import database_url_for_subprocesses
from tests.factories import ProjectFactory

LIDC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lidc"
CASE_0001 = LIDC / "LIDC-IDRI-0001"
CASE_0003 = LIDC / "LIDC-IDRI-0003"


def slices(case: Path, count: int) -> list[Path]:
    return sorted(case.rglob("*.dcm"))[:count]


def zip_bytes(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


# --- import_dicom ------------------------------------------------------------------------------
def run_import(*args: str) -> str:
    out = io.StringIO()
    try:
        call_command("import_dicom", *args, stdout=out)
    except CommandError as error:
        raise AssertionError(f"{error}\n{out.getvalue()}") from None
    return out.getvalue()


def test_import_dicom_imports_a_whole_lidc_case_and_skips_its_xml(db):
    project = ProjectFactory.create()
    dicom_files = list(CASE_0001.rglob("*.dcm"))
    output = run_import(str(CASE_0001), "--project", project.slug)
    assert Instance.objects.filter(project=project).count() == len(dicom_files)
    series = Series.objects.get(project=project)
    assert series.instance_count == len(dicom_files)
    assert f"│ stored    │ {len(dicom_files):>5} │" in output
    assert "│ skipped   │     1 │" in output  # the LIDC reads' XML beside the slices
    assert "Not imported" not in output


def test_importing_again_reports_duplicates_and_succeeds(db):
    project = ProjectFactory.create()
    files = slices(CASE_0003, 3)
    run_import(*map(str, files), "--project", str(project.pk))
    output = run_import(*map(str, files), "--project", str(project.pk))
    assert "│ duplicate │     3 │" in output
    assert Instance.objects.filter(project=project).count() == 3


def test_import_dicom_expands_zips_lists_rejections_and_exits_non_zero(db, tmp_path):
    project = ProjectFactory.create()
    files = slices(CASE_0003, 4)
    archive = tmp_path / "case.zip"
    archive.write_bytes(zip_bytes({f"case/{f.name}": f.read_bytes() for f in files[:2]}))
    (tmp_path / "broken.dcm").write_bytes(b"not dicom at all")
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"1 file\(s\) were not imported"):
        call_command(
            "import_dicom", str(tmp_path), str(files[2]), "--project", project.slug,
            "--batch-size", "1", stdout=out,
        )  # fmt: skip
    output = out.getvalue()
    assert "│ stored    │     3 │" in output
    assert "│ rejected  │     1 │" in output
    assert "broken.dcm" in output
    assert "not a DICOM Part 10 file" in output
    assert Instance.objects.filter(project=project).count() == 3


def test_import_dicom_names_an_unknown_project_or_path(db, tmp_path):
    with pytest.raises(CommandError, match="no project with id or slug 'nope'"):
        call_command("import_dicom", str(tmp_path), "--project", "nope")
    project = ProjectFactory.create()
    with pytest.raises(CommandError, match="no such file or folder"):
        call_command("import_dicom", str(tmp_path / "missing"), "--project", project.slug)


# --- C-STORE -----------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def scp(transactional_db) -> Iterator[tuple[StoreSCP, int]]:
    """A running SCP on a free port; the receiver's threads need committed rows to see."""
    receiver = StoreSCP(project=ProjectFactory.create(), ae_title="NODULEFLOW")
    port = free_port()
    receiver.start("127.0.0.1", port)
    yield receiver, port
    receiver.stop()


def associate(port: int):
    client = AE(ae_title="TESTSCU")
    client.add_requested_context(Verification)
    client.add_requested_context(CTImageStorage, ExplicitVRLittleEndian)
    association = client.associate("127.0.0.1", port, ae_title="NODULEFLOW")
    assert association.is_established
    return association


def test_scp_answers_echo(scp):
    _, port = scp
    association = associate(port)
    try:
        assert association.send_c_echo().Status == 0x0000
    finally:
        association.release()


def test_scp_stores_lidc_slices_and_accepts_a_resend(scp):
    receiver, port = scp
    datasets = [pydicom.dcmread(path) for path in slices(CASE_0001, 3)]
    association = associate(port)
    try:
        statuses = [association.send_c_store(ds).Status for ds in datasets]
        resend = association.send_c_store(datasets[0]).Status
    finally:
        association.release()
    assert statuses == [0x0000] * 3
    assert resend == 0x0000  # a duplicate is a success for the sender
    assert Instance.objects.filter(project=receiver.project).count() == 3
    assert Study.objects.filter(project=receiver.project).count() == 1


def test_scp_refuses_an_invalid_data_set_with_a_reason(scp):
    receiver, port = scp
    ds = pydicom.dcmread(slices(CASE_0001, 1)[0])
    del ds.StudyInstanceUID
    association = associate(port)
    try:
        status = association.send_c_store(ds)
    finally:
        association.release()
    assert status.Status == CANNOT_UNDERSTAND
    assert status.ErrorComment == "StudyInstanceUID is missing"
    assert not Instance.objects.filter(project=receiver.project).exists()


def test_scp_refuses_a_changed_instance_under_a_stored_uid(scp):
    receiver, port = scp
    ds = pydicom.dcmread(slices(CASE_0001, 1)[0])
    association = associate(port)
    try:
        first = association.send_c_store(ds).Status
        ds.SeriesDescription = "changed"
        second = association.send_c_store(ds)
    finally:
        association.release()
    assert first == 0x0000
    assert second.Status == CONFLICT
    assert "different content" in second.ErrorComment
    assert Instance.objects.filter(project=receiver.project).count() == 1


def test_scp_refuses_a_data_set_that_contradicts_its_request(scp, tmp_path, monkeypatch):
    receiver, port = scp
    # Sent from a file in chunks, pynetdicom builds the request from the file meta alone.
    monkeypatch.setattr(pynetdicom._config, "STORE_SEND_CHUNKED_DATASET", True)
    ds = pydicom.dcmread(slices(CASE_0001, 1)[0])
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()  # the request is built from this
    path = tmp_path / "mismatch.dcm"
    ds.save_as(path)
    association = associate(port)
    try:
        status = association.send_c_store(path)
    finally:
        association.release()
    assert status.Status == DOES_NOT_MATCH_SOP_CLASS
    assert not Instance.objects.filter(project=receiver.project).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_dicom_scp_command_stores_until_sigterm_then_stops_cleanly(tmp_path):
    project = ProjectFactory.create()
    env = processes.platform_env(
        PLATFORM_MODE="test",
        DATABASE_URL=database_url_for_subprocesses(),
        MEDIA_ROOT=str(tmp_path / "media"),
    )
    port = free_port()
    command = [sys.executable, str(processes.ROOT / "manage.py"), "dicom_scp",
               "--port", str(port), "--project", project.slug]  # fmt: skip
    log = tmp_path / "scp.log"
    with processes.running(command, env, log) as process:
        processes.wait_until(lambda: "Listening on" in log.read_text(), 60, "the SCP")
        association = associate(port)
        try:
            assert association.send_c_echo().Status == 0x0000
            assert association.send_c_store(pydicom.dcmread(slices(CASE_0003, 1)[0])).Status == 0
        finally:
            association.release()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    assert "Stopped." in log.read_text()
    assert Instance.objects.filter(project=project).count() == 1


# --- The upload endpoint -----------------------------------------------------------------------
def upload_url(project) -> str:
    return f"/projects/{project.pk}/upload/files/"


def open_files(paths: list[Path]) -> list[io.BytesIO]:
    files = []
    for path in paths:
        handle = io.BytesIO(path.read_bytes())
        handle.name = path.name
        files.append(handle)
    return files


def test_upload_endpoint_stores_files_and_reports_each(client, team):
    files = slices(CASE_0003, 3)
    client.force_login(team.annotator)
    response = client.post(
        upload_url(team.project),
        {"files": open_files(files), "paths": [f"case/{f.name}" for f in files]},
    )
    assert response.status_code == 200
    reports = response.json()["reports"]
    assert [(r["name"], r["outcome"]) for r in reports] == [
        (f"case/{f.name}", "stored") for f in files
    ]
    study = Study.objects.get(project=team.project)
    assert reports[0]["study_url"] == f"/projects/{team.project.pk}/studies/{study.pk}/"
    assert Instance.objects.filter(project=team.project).count() == 3


def test_upload_endpoint_expands_a_zip_with_one_report_per_member(client, team):
    files = slices(CASE_0001, 2)
    members = {f"case/{f.name}": f.read_bytes() for f in files}
    members["../escape.dcm"] = files[0].read_bytes()
    members["__MACOSX/._x"] = b"junk"
    members["notes.dcm"] = b"not dicom"
    archive = io.BytesIO(zip_bytes(members))
    archive.name = "case.zip"
    client.force_login(team.lead)
    response = client.post(upload_url(team.project), {"files": [archive]})
    assert response.status_code == 200
    outcomes = [(r["name"], r["outcome"]) for r in response.json()["reports"]]
    assert outcomes == [
        (f"case.zip/case/{files[0].name}", "stored"),
        (f"case.zip/case/{files[1].name}", "stored"),
        ("case.zip/../escape.dcm", "rejected"),
        ("case.zip/__MACOSX/._x", "skipped"),
        ("case.zip/notes.dcm", "rejected"),
    ]
    assert Instance.objects.filter(project=team.project).count() == 2


def test_upload_endpoint_reports_duplicates_on_a_second_upload(client, team):
    files = slices(CASE_0001, 1)
    client.force_login(team.annotator)
    client.post(upload_url(team.project), {"files": open_files(files)})
    response = client.post(upload_url(team.project), {"files": open_files(files)})
    (report,) = response.json()["reports"]
    assert report["outcome"] == "duplicate"
    assert Instance.objects.filter(project=team.project).count() == 1
