"""WADO-RS instances and metadata: stored bytes out, as stored, with caching headers."""

import gzip
import io
import json

import pydicom
from pydicom.uid import RLELossless

from imaging.models import Series
from tests.dicom_factory import ct_dataset, to_bytes
from tests.dicomweb_fixtures import (  # noqa: F401 - *_fixture imports register fixtures
    SERIES,
    STUDY,
    body_of,
    fresh_access_cache_fixture,
    parts_of,
    phantom_fixture,
    store,
    stored_bytes,
    token_client_fixture,
)

DICOM = 'multipart/related; type="application/dicom"'


def test_an_instance_is_its_stored_file_in_a_multipart_body(phantom, token_client, team):
    response = token_client(team.reviewer).get(phantom.instance_url(1), HTTP_ACCEPT=DICOM)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(DICOM)
    ((part_type, content),) = parts_of(response)
    assert part_type == "application/dicom; transfer-syntax=1.2.840.10008.1.2.1"
    assert content == phantom.files[1] == stored_bytes(phantom.project, phantom.sops[1])
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"
    assert int(response["Content-Length"]) == len(body_of(response))


def test_a_series_streams_every_instance_in_instance_number_order(phantom, token_client, team):
    response = token_client(team.annotator).get(
        f"{phantom.base}/studies/{STUDY}/series/{SERIES}", HTTP_ACCEPT=DICOM
    )
    assert response.status_code == 200
    assert response.streaming
    assert [content for _, content in parts_of(response)] == phantom.files
    # A series grows as instances arrive: revalidate, never keep blindly.
    assert response["Cache-Control"] == "private, no-cache"


def test_a_study_streams_every_instance(phantom, token_client, team):
    response = token_client(team.annotator).get(f"{phantom.base}/studies/{STUDY}")
    assert response.status_code == 200
    assert len(parts_of(response)) == 4


def test_a_compressed_instance_is_sent_as_stored_or_decompressed_on_request(
    phantom, token_client, team
):
    ds = ct_dataset(7, sop="1.2.826.0.1.3680043.8.498.99")
    ds.compress(RLELossless, generate_instance_uid=False)
    data = to_bytes(ds)
    store(phantom.project, [data])
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/instances/1.2.826.0.1.3680043.8.498.99"
    client = token_client(team.annotator)
    ((part_type, as_stored),) = parts_of(client.get(url, HTTP_ACCEPT=DICOM))
    assert part_type.endswith("transfer-syntax=1.2.840.10008.1.2.5")
    assert as_stored == data
    explicit = f"{DICOM}; transfer-syntax=1.2.840.10008.1.2.1"
    ((part_type, decoded),) = parts_of(client.get(url, HTTP_ACCEPT=explicit))
    assert part_type.endswith("transfer-syntax=1.2.840.10008.1.2.1")
    decompressed = pydicom.dcmread(io.BytesIO(decoded))
    assert decompressed.file_meta.TransferSyntaxUID == "1.2.840.10008.1.2.1"
    assert decompressed.PixelData == ct_dataset(7).PixelData
    jpeg = f"{DICOM}; transfer-syntax=1.2.840.10008.1.2.4.50"
    assert client.get(url, HTTP_ACCEPT=jpeg).status_code == 406


def test_unknown_study_series_and_instance_are_404_with_a_message(phantom, token_client, team):
    client = token_client(team.annotator)
    cases = {
        f"{phantom.base}/studies/1.2.3": "no such study",
        f"{phantom.base}/studies/{STUDY}/series/1.2.3": "no such series in this study",
        f"{phantom.base}/studies/{STUDY}/series/{SERIES}/instances/1.2.3": (
            "no such instance in this series"
        ),
        f"{phantom.base}/studies/1.2.3/series/{SERIES}/instances/{phantom.sops[0]}": (
            "no such instance in this series"
        ),
        f"{phantom.base}/studies/{STUDY}/series/1.2.3/metadata": "no such series in this study",
        f"{phantom.base}/studies/1.2.3/metadata": "no such study",
    }
    for url, detail in cases.items():
        response = client.get(url)
        assert response.status_code == 404, url
        assert response.json() == {"code": "not_found", "detail": detail}


def test_series_metadata_is_the_instances_json_served_gzipped_as_built(phantom, token_client, team):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/metadata"
    assert Series.objects.get().metadata_gz is None  # no worker ran: built on first request
    response = client.get(url, HTTP_ACCEPT_ENCODING="gzip")
    assert response.status_code == 200
    assert response["Content-Encoding"] == "gzip"
    assert response["Cache-Control"] == "private, no-cache"
    series = Series.objects.get()
    assert response.content == bytes(series.metadata_gz)
    metadata = json.loads(gzip.decompress(response.content))
    assert [m["00080018"]["Value"][0] for m in metadata] == phantom.sops
    pixel_data = metadata[0]["7FE00010"]
    assert pixel_data["BulkDataURI"] == f"{phantom.instance_url(0)}/bulkdata/7FE00010"
    plain = client.get(url)
    assert "Content-Encoding" not in plain
    assert json.loads(plain.content) == metadata
    assert plain["ETag"] == f'"{series.metadata_etag}"'


def test_series_metadata_answers_304_to_a_matching_if_none_match(phantom, token_client, team):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/metadata"
    etag = client.get(url, HTTP_ACCEPT_ENCODING="gzip")["ETag"]
    again = client.get(url, HTTP_ACCEPT_ENCODING="gzip", HTTP_IF_NONE_MATCH=etag)
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag


def test_series_metadata_changes_its_etag_when_an_instance_arrives(phantom, token_client, team):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/metadata"
    before = client.get(url)
    store(phantom.project, [to_bytes(ct_dataset(9))])
    after = client.get(url, HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != before["ETag"]
    assert len(json.loads(after.content)) == 5


def test_study_and_instance_metadata(phantom, token_client, team):
    client = token_client(team.annotator)
    study = client.get(f"{phantom.base}/studies/{STUDY}/metadata")
    assert study.status_code == 200
    assert len(study.json()) == 4
    instance = client.get(f"{phantom.instance_url(2)}/metadata")
    (metadata,) = instance.json()
    assert metadata["00080018"]["Value"] == [phantom.sops[2]]
    assert metadata["00100010"]["Value"] == [{"Alphabetic": "Doe^Jane"}]
    assert (
        client.get(
            f"{phantom.instance_url(2)}/metadata", HTTP_IF_NONE_MATCH=instance["ETag"]
        ).status_code
        == 304
    )


def test_an_instance_answers_304_to_its_etag(phantom, token_client, team):
    client = token_client(team.annotator)
    first = client.get(phantom.instance_url(0))
    again = client.get(phantom.instance_url(0), HTTP_IF_NONE_MATCH=f'W/{first["ETag"]}, "x"')
    assert again.status_code == 304
    assert again["Cache-Control"] == "private, max-age=31536000, immutable"
