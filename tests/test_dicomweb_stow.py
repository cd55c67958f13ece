"""STOW-RS: a multipart body of instances goes through ingest; the answer says, per instance,
what was stored and why the rest was not, and a half-stored batch is never a 4xx."""

import io

import pydicom
import pytest
from django.test import Client, RequestFactory
from rest_framework.authtoken.models import Token

from imaging.dicomweb import stow
from imaging.models import DeidMapping, Instance
from tests.dicom_factory import ct_dataset, to_bytes
from tests.dicomweb_fixtures import (  # noqa: F401 - *_fixture imports register fixtures
    STUDY,
    fresh_access_cache_fixture,
    phantom_files,
    token_client_fixture,
)

BOUNDARY = "a9c1-stow-test"
CONTENT_TYPE = f'multipart/related; type="application/dicom"; boundary={BOUNDARY}'
NOT_DICOM = b"%PDF-1.7 a report, not an image" * 10


def multipart_body(parts: list[bytes], part_type: str = "application/dicom") -> bytes:
    out = io.BytesIO()
    for part in parts:
        out.write(f"--{BOUNDARY}\r\nContent-Type: {part_type}\r\n\r\n".encode())
        out.write(part + b"\r\n")
    out.write(f"--{BOUNDARY}--\r\n".encode())
    return out.getvalue()


@pytest.fixture
def project(team):
    team.project.deidentify = False
    team.project.save(update_fields=["deidentify"])
    return team.project


@pytest.fixture
def post(token_client, team):
    def send(parts: list[bytes], *, user=None, study: str | None = None, **kwargs):
        url = f"/dicomweb/projects/{team.project.pk}/studies" + (f"/{study}" if study else "")
        body = kwargs.pop("body", None) or multipart_body(parts)
        client = token_client(user or team.annotator)
        kwargs.setdefault("content_type", CONTENT_TYPE)
        return client.generic("POST", url, body, HTTP_ACCEPT="application/dicom+json", **kwargs)

    return send


def sequence(response, tag: str) -> list[dict]:
    return response.json().get(tag, {}).get("Value", [])


def uid(item: dict, tag: str) -> str | None:
    return item[tag].get("Value", [None])[0]


def test_a_batch_of_valid_instances_is_stored_and_each_one_referenced(project, post):
    files = phantom_files(3)
    response = post(files)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/dicom+json"
    referenced = sequence(response, "00081199")
    sops = [pydicom.dcmread(io.BytesIO(f)).SOPInstanceUID for f in files]
    assert [uid(item, "00081155") for item in referenced] == sops
    assert uid(referenced[0], "00081150") == "1.2.840.10008.5.1.4.1.1.2"
    assert uid(referenced[0], "00081190").endswith(f"/instances/{sops[0]}")
    assert response.json()["00081190"]["Value"] == [
        f"http://testserver/dicomweb/projects/{project.pk}/studies/{STUDY}"
    ]
    assert "00081198" not in response.json()
    assert Instance.objects.filter(project=project).count() == 3


def test_a_mixed_batch_stores_the_valid_ones_and_lists_the_bad_one_with_its_reason(project, post):
    files = phantom_files(2)
    response = post([files[0], NOT_DICOM, files[1]])
    assert response.status_code == 202
    assert len(sequence(response, "00081199")) == 2
    (failed,) = sequence(response, "00081198")
    assert failed["00081197"] == {"vr": "US", "Value": [0xC000]}
    assert failed["00000902"]["Value"] == [
        "part 2: not a DICOM Part 10 file: no 'DICM' file header"
    ]
    assert Instance.objects.filter(project=project).count() == 2


def test_a_batch_that_stores_nothing_is_400_and_writes_nothing(project, post):
    response = post([NOT_DICOM, to_bytes(ct_dataset(0))[:400]])
    assert response.status_code == 400
    reasons = [item["00000902"]["Value"][0] for item in sequence(response, "00081198")]
    assert reasons[0].startswith("part 1: not a DICOM Part 10 file")
    assert reasons[1].startswith("part 2: file is truncated")
    assert not Instance.objects.exists()


def test_a_resent_instance_is_a_success_and_a_changed_one_a_conflict(project, post):
    original = ct_dataset(0, sop="1.2.826.0.1.3680043.8.498.77")
    assert post([to_bytes(original)]).status_code == 200
    assert post([to_bytes(original)]).status_code == 200  # idempotent resend
    changed = ct_dataset(0, sop="1.2.826.0.1.3680043.8.498.77")
    changed.PatientName = "Someone^Else"
    response = post([to_bytes(changed)])
    assert response.status_code == 409
    (failed,) = sequence(response, "00081198")
    assert uid(failed, "00081155") == "1.2.826.0.1.3680043.8.498.77"
    assert failed["00081197"]["Value"] == [0x0111]
    assert "nothing was overwritten" in failed["00000902"]["Value"][0]


def test_posting_to_a_study_refuses_instances_of_another_study(project, post):
    mine = to_bytes(ct_dataset(0))
    other = ct_dataset(1, study="1.2.826.0.1.3680043.8.498.500")
    response = post([mine, to_bytes(other)], study=STUDY)
    assert response.status_code == 202
    (failed,) = sequence(response, "00081198")
    assert failed["00081197"]["Value"] == [0xA900]
    assert uid(failed, "00081155") == other.SOPInstanceUID
    assert "another study" in failed["00000902"]["Value"][0]
    only_other = post([to_bytes(other)], study=STUDY)
    assert only_other.status_code == 409
    assert Instance.objects.filter(project=project).count() == 1


def test_a_de_identifying_project_reports_the_new_uids_as_coerced(team, post):
    assert team.project.deidentify
    response = post([to_bytes(ct_dataset(0))])
    assert response.status_code == 200
    (item,) = sequence(response, "00081199")
    stored = Instance.objects.get(project=team.project)
    assert uid(item, "00081155") == stored.sop_instance_uid != ct_dataset(0).SOPInstanceUID
    assert item["00081196"]["Value"] == [0xB000]
    # More of the same study may be posted to its original UID or to the one it was given.
    new_study = DeidMapping.objects.get(project=team.project, original=STUDY).replacement
    assert post([to_bytes(ct_dataset(1))], study=STUDY).status_code == 200
    assert post([to_bytes(ct_dataset(2))], study=new_study).status_code == 200


@pytest.mark.parametrize(("who", "status"), [("reviewer", 403), ("outsider", 404)])
def test_only_leads_annotators_and_site_admins_may_store(project, post, team, who, status):
    response = post(phantom_files(1), user=getattr(team, who))
    assert response.status_code == status
    assert not Instance.objects.exists()
    assert post(phantom_files(1), user=team.admin).status_code == 200
    assert post(phantom_files(1), user=team.lead).status_code == 200


def test_a_session_post_needs_the_csrf_token_and_a_token_post_does_not(project, team):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(team.lead)
    url = f"/dicomweb/projects/{project.pk}/studies"
    body = multipart_body(phantom_files(1))
    refused = browser.generic("POST", url, body, content_type=CONTENT_TYPE)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("CSRF failed")
    secret = "k" * 32  # what the csrftoken cookie of a page holds
    browser.cookies["csrftoken"] = secret
    accepted = browser.generic(
        "POST", url, body, content_type=CONTENT_TYPE, HTTP_X_CSRFTOKEN=secret
    )
    assert accepted.status_code == 200
    key = Token.objects.create(user=team.annotator).key
    with_token = Client(enforce_csrf_checks=True).generic(
        "POST", url, body, content_type=CONTENT_TYPE, HTTP_AUTHORIZATION=f"Token {key}"
    )
    assert with_token.status_code == 200


def test_a_body_over_the_upload_limit_is_413_and_stores_nothing(project, post, settings):
    settings.DICOM_MAX_UPLOAD_BYTES = 1000
    response = post(phantom_files(2))
    assert response.status_code == 413
    assert response.json()["detail"] == "the request is over the 1000-byte upload limit"
    assert not Instance.objects.exists()


@pytest.mark.parametrize(
    "content_type",
    ["application/dicom", f'multipart/related; type="application/dicom+json"; boundary={BOUNDARY}'],
)
def test_other_media_types_are_415(project, post, content_type):
    response = post(phantom_files(1), content_type=content_type)
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"


def test_a_body_cut_before_its_closing_boundary_is_400_and_stores_nothing(project, post):
    body = multipart_body(phantom_files(2))
    response = post([], body=body[: -len(f"--{BOUNDARY}--\r\n") - 10])
    assert response.status_code == 400
    assert response.json()["detail"] == "multipart body does not end with its closing boundary"
    assert not Instance.objects.exists()


def test_a_part_whose_content_holds_the_boundary_string_is_stored_whole(project, post, monkeypatch):
    # Parts are handed to the ingest pool while the body arrives (in small reads here); the
    # boundary string inside a part's content splits it there, never in what is stored.
    monkeypatch.setattr(stow, "READ_CHUNK", 4096)
    dataset = ct_dataset(1)
    dataset.StudyDescription = f"\r\n--{BOUNDARY}X"
    tricky = to_bytes(dataset)
    assert f"\r\n--{BOUNDARY}X".encode() in tricky
    files = [to_bytes(ct_dataset(0)), tricky, to_bytes(ct_dataset(2))]
    response = post(files)
    assert response.status_code == 200, response.content
    for data in files:
        sop = pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID
        with Instance.objects.get(sop_instance_uid=sop).file.open("rb") as stored:
            assert stored.read() == data


def test_an_empty_multipart_body_is_400(project, post):
    response = post([], body=f"--{BOUNDARY}--\r\n".encode())
    assert response.status_code == 400
    assert response.json()["detail"] == "the request holds no instances"


def test_a_part_that_is_not_application_dicom_is_refused(project, post):
    body = multipart_body([b'{"00100010": {}}'], part_type="application/json")
    response = post([], body=body + b"")
    assert response.status_code == 400
    (failed,) = sequence(response, "00081198")
    assert failed["00000902"]["Value"] == ["part 1 is application/json, not application/dicom"]


def test_a_chunked_upload_the_server_could_not_decode_is_411(project, team):
    key = Token.objects.create(user=team.lead).key
    request = RequestFactory().generic(
        "POST",
        f"/dicomweb/projects/{project.pk}/studies",
        b"",
        HTTP_AUTHORIZATION=f"Token {key}",
        HTTP_TRANSFER_ENCODING="chunked",
    )
    request.META.pop("CONTENT_LENGTH", None)  # as a chunked request arrives
    request.META["CONTENT_TYPE"] = CONTENT_TYPE
    response = stow.store_instances(request, project.pk)
    assert response.status_code == 411
