"""The real LIDC series through a real HTTP server, stored and read back with dicomweb-client,
the Python client OHIF's and Cornerstone's DICOMweb conventions are checked against."""

import io
import time
from dataclasses import dataclass

import pydicom
import pytest
import requests
from dicomweb_client.api import DICOMwebClient
from PIL import Image

from imaging.models import Instance
from tests.dicom_factory import ct_dataset, to_bytes
from tests.dicomweb_fixtures import (  # noqa: F401 - *_fixture imports register fixtures
    LIDC,
    LiveProject,
    fresh_access_cache_fixture,
    live_dicomweb_fixture,
    parse_multipart,
)
from tests.factories import ProjectFactory

# django_db: each test reads the committed rows in a transaction rolled back after it.
pytestmark = [pytest.mark.slow, pytest.mark.django_db]
CASES = ("LIDC-IDRI-0001", "LIDC-IDRI-0003")


@pytest.fixture(autouse=True)
def media_in_tmp() -> None:
    """Replaces conftest's per-test storage: this module's server keeps one for all its tests."""


@dataclass
class Lidc:
    live: LiveProject
    client: DICOMwebClient
    sources: dict[str, pydicom.Dataset]  # SOP Instance UID -> the file as read from disk
    study_of: dict[str, str]  # case -> StudyInstanceUID
    series_of: dict[str, str]  # case -> SeriesInstanceUID
    stow_results: list[pydicom.Dataset]
    stow_seconds: float


def client_for(live: LiveProject, who: str, url: str | None = None) -> DICOMwebClient:
    return DICOMwebClient(
        url=url or live.url,
        headers={"Authorization": f"Token {live.tokens[who]}"},
        # Django's development server cannot read chunked uploads: send one sized body.
        chunk_size=10**10,
        timeout=300,
    )


@pytest.fixture(scope="module")
def lidc(live_dicomweb: LiveProject) -> Lidc:
    """Both LIDC series stored once for the module, through STOW-RS, one request per series."""
    client = client_for(live_dicomweb, "member")
    sources: dict[str, pydicom.Dataset] = {}
    study_of, series_of, results = {}, {}, []
    started = time.perf_counter()
    for case in CASES:
        datasets = [pydicom.dcmread(path) for path in sorted((LIDC / case).rglob("*.dcm"))]
        sources.update({str(ds.SOPInstanceUID): ds for ds in datasets})
        study_of[case] = str(datasets[0].StudyInstanceUID)
        series_of[case] = str(datasets[0].SeriesInstanceUID)
        results.append(client.store_instances(datasets))
    seconds = time.perf_counter() - started
    return Lidc(live_dicomweb, client, sources, study_of, series_of, results, seconds)


def test_stow_stores_every_slice_of_both_series(lidc):
    assert [len(r.ReferencedSOPSequence) for r in lidc.stow_results] == [133, 140]
    assert all("FailedSOPSequence" not in r for r in lidc.stow_results)
    assert Instance.objects.filter(project=lidc.live.project).count() == 273
    print(f"STOW of 273 LIDC slices: {lidc.stow_seconds:.1f} s")


def test_studies_are_found_by_patient_date_and_modality(lidc):
    client = lidc.client
    assert len(client.search_for_studies()) == 2
    (found,) = client.search_for_studies(search_filters={"PatientID": "LIDC-IDRI-0003"})
    assert found["0020000D"]["Value"] == [lidc.study_of["LIDC-IDRI-0003"]]
    assert found["00201208"]["Value"] == [140]
    assert len(client.search_for_studies(search_filters={"StudyDate": "20000101"})) == 2
    assert len(client.search_for_studies(search_filters={"StudyDate": "20010101-"})) == 0
    assert len(client.search_for_studies(search_filters={"ModalitiesInStudy": "CT"})) == 2
    assert client.search_for_studies(search_filters={"PatientName": "nobody*"}) == []
    assert len(client.search_for_studies(limit=1)) == 1


def test_series_and_instances_are_found_and_paged(lidc):
    client = lidc.client
    study, series = lidc.study_of["LIDC-IDRI-0001"], lidc.series_of["LIDC-IDRI-0001"]
    (found,) = client.search_for_series(study)
    assert found["0020000E"]["Value"] == [series]
    assert found["00201209"]["Value"] == [133]
    assert len(client.search_for_series(search_filters={"Modality": "CT"})) == 2
    instances = client.search_for_instances(study, series, limit=50, get_remaining=True)
    assert sorted(i["00080018"]["Value"][0] for i in instances) == sorted(
        uid for uid, ds in lidc.sources.items() if ds.SeriesInstanceUID == series
    )
    one = next(iter(lidc.sources))
    (hit,) = client.search_for_instances(search_filters={"SOPInstanceUID": one})
    assert hit["00080018"]["Value"] == [one]


def test_series_metadata_describes_every_instance(lidc):
    study, series = lidc.study_of["LIDC-IDRI-0003"], lidc.series_of["LIDC-IDRI-0003"]
    metadata = lidc.client.retrieve_series_metadata(study, series)
    assert len(metadata) == 140
    without_bulk_data = {tag: v for tag, v in metadata[0].items() if "BulkDataURI" not in v}
    first = pydicom.Dataset.from_json(without_bulk_data)
    source = lidc.sources[str(first.SOPInstanceUID)]
    assert (first.Rows, first.Columns, first.PatientID) == (512, 512, source.PatientID)
    assert metadata[0]["7FE00010"]["BulkDataURI"].endswith("/bulkdata/7FE00010")


def test_every_frame_is_byte_identical_to_the_source_pixel_data(lidc):
    client = lidc.client
    for sop, source in lidc.sources.items():
        (frame,) = client.retrieve_instance_frames(
            str(source.StudyInstanceUID), str(source.SeriesInstanceUID), sop, frame_numbers=[1]
        )
        assert frame == source.PixelData, sop


def test_frames_in_cornerstones_way_and_in_explicit_little_endian(lidc):
    sop, source = next(iter(lidc.sources.items()))
    uids = (str(source.StudyInstanceUID), str(source.SeriesInstanceUID), sop)
    for media_types in (
        (("application/octet-stream", "*"),),
        (("application/octet-stream", "1.2.840.10008.1.2.1"),),
    ):
        (frame,) = lidc.client.retrieve_instance_frames(*uids, [1], media_types=media_types)
        assert frame == source.PixelData


def test_a_retrieved_instance_is_the_stored_file(lidc):
    sop, source = list(lidc.sources.items())[7]
    uids = (str(source.StudyInstanceUID), str(source.SeriesInstanceUID), sop)
    dataset = lidc.client.retrieve_instance(*uids)
    assert dataset.SOPInstanceUID == sop
    assert dataset.PixelData == source.PixelData
    url = f"{lidc.live.url}/studies/{uids[0]}/series/{uids[1]}/instances/{sop}"
    response = requests.get(
        url,
        headers={
            "Authorization": f"Token {lidc.live.tokens['member']}",
            "Accept": 'multipart/related; type="application/dicom"',
        },
        timeout=30,
    )
    ((_, content),) = parse_multipart(response.headers["Content-Type"], response.content)
    stored = Instance.objects.get(project=lidc.live.project, sop_instance_uid=sop)
    with stored.file.open("rb") as stored_file:
        assert content == stored_file.read()


def test_a_rendered_instance_decodes_as_a_jpeg(lidc):
    sop, source = list(lidc.sources.items())[40]
    jpeg = lidc.client.retrieve_instance_rendered(
        str(source.StudyInstanceUID),
        str(source.SeriesInstanceUID),
        sop,
        media_types=("image/jpeg",),
        params={"window": "-600,1500"},
    )
    image = Image.open(io.BytesIO(jpeg))
    assert (image.format, image.size) == ("JPEG", (512, 512))


def test_outsiders_and_members_of_other_projects_get_404(lidc):
    outsider = client_for(lidc.live, "outsider")
    with pytest.raises(requests.HTTPError) as refused:
        outsider.search_for_studies()
    assert refused.value.response.status_code == 404
    other = ProjectFactory.create()
    try:
        url = lidc.live.url.rsplit("/", 1)[0] + f"/{other.pk}"
        with pytest.raises(requests.HTTPError) as foreign:
            client_for(lidc.live, "member", url).search_for_studies()
        assert foreign.value.response.status_code == 404
    finally:
        other.delete()


def test_a_frame_answers_304_to_its_etag(lidc):
    sop, source = next(iter(lidc.sources.items()))
    url = (
        f"{lidc.live.url}/studies/{source.StudyInstanceUID}/series/{source.SeriesInstanceUID}"
        f"/instances/{sop}/frames/1"
    )
    headers = {
        "Authorization": f"Token {lidc.live.tokens['member']}",
        "Accept": 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
    }
    first = requests.get(url, headers=headers, timeout=30)
    assert first.status_code == 200
    again = requests.get(
        url, headers={**headers, "If-None-Match": first.headers["ETag"]}, timeout=30
    )
    assert again.status_code == 304


def test_a_mixed_stow_batch_stores_the_valid_instance_and_names_the_bad_one(lidc):
    good = ct_dataset(0, sop="1.2.826.0.1.3680043.8.498.4242")
    bad = ct_dataset(1, sop="1.2.826.0.1.3680043.8.498.4343")
    bad.Rows = 0  # pixel data that cannot be an image
    # As read from files: dicomweb-client writes them back with their preamble and header.
    good, bad = (pydicom.dcmread(io.BytesIO(to_bytes(ds))) for ds in (good, bad))
    result = lidc.client.store_instances([good, bad])
    (stored,) = result.ReferencedSOPSequence
    assert stored.ReferencedSOPInstanceUID == good.SOPInstanceUID
    (failed,) = result.FailedSOPSequence
    assert failed.ReferencedSOPInstanceUID == bad.SOPInstanceUID
    assert failed.FailureReason == 0xC000
    assert failed.ErrorComment == "part 2: image is 0x32; rows and columns must be 1-16384"
    assert not Instance.objects.filter(sop_instance_uid=bad.SOPInstanceUID).exists()
