"""De-identification by the basic profile: identifying tags go, UIDs are replaced consistently."""

import pydicom
import pytest

from imaging.models import DeidMapping, Instance, Patient, Study
from imaging.services import ingest_batch
from tests.dicom_factory import STUDY, series_bytes
from tests.factories import ProjectFactory


@pytest.fixture
def deid_project(db):
    return ProjectFactory.create(deidentify=True)


def stored(instance: Instance) -> pydicom.Dataset:
    with instance.file.open("rb") as f:
        return pydicom.dcmread(f)


def test_basic_profile_tags_are_removed_before_storage(deid_project):
    ingest_batch(project=deid_project, items=series_bytes(3))
    for instance in Instance.objects.all():
        ds = stored(instance)
        assert ds.PatientName != "Doe^Jane" and str(ds.PatientName).startswith("NF-")
        assert ds.PatientID == str(ds.PatientName)
        for emptied in (
            "PatientBirthDate",
            "StudyDate",
            "AccessionNumber",
            "ReferringPhysicianName",
        ):
            assert ds[emptied].value in (None, "")
        for removed in ("InstitutionName", "StudyDescription", "SeriesDescription"):
            assert removed not in ds
        assert not any(element.tag.is_private for element in ds)
        assert ds.PatientIdentityRemoved == "YES"
        assert ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
        raw = instance.file.open("rb").read()
        assert b"Doe^Jane" not in raw and b"General Hospital" not in raw
    assert Patient.objects.get().patient_name.startswith("NF-")


def test_uids_are_replaced_and_stay_consistent_within_the_project(deid_project):
    ingest_batch(project=deid_project, items=series_bytes(2))
    ingest_batch(project=deid_project, items=series_bytes(4)[2:])  # a later batch, same study
    study = Study.objects.get()
    assert study.study_instance_uid != STUDY
    assert study.study_instance_uid.startswith("2.25.")
    assert study.series.get().instance_count == 4
    frames_of_reference = {stored(i).FrameOfReferenceUID for i in Instance.objects.all()}
    assert len(frames_of_reference) == 1
    assert stored(Instance.objects.first()).SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"


def test_the_mapping_is_kept_for_site_admins_only(deid_project, client, team):
    ingest_batch(project=deid_project, items=series_bytes(1))
    mapping = DeidMapping.objects.get(project=deid_project, original=STUDY)
    assert mapping.replacement == Study.objects.get().study_instance_uid
    client.force_login(team.lead)
    assert client.get("/admin/imaging/deidmapping/").status_code == 302
    client.force_login(team.admin)
    page = client.get("/admin/imaging/deidmapping/").content.decode()
    assert mapping.replacement in page


def test_another_project_gets_other_uids_for_the_same_study(deid_project):
    other = ProjectFactory.create(deidentify=True)
    ingest_batch(project=deid_project, items=series_bytes(1))
    ingest_batch(project=other, items=series_bytes(1))
    uids = set(Study.objects.values_list("study_instance_uid", flat=True))
    assert len(uids) == 2


def test_a_resend_to_a_deidentified_project_is_a_duplicate(deid_project):
    items = series_bytes(1)
    ingest_batch(project=deid_project, items=items)
    (report,) = ingest_batch(project=deid_project, items=items)
    assert report.outcome == "duplicate"
