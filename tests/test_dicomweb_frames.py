"""WADO-RS frames and bulk data: stored bytes by byte range, negotiated by Accept."""

import numpy as np
import pydicom
import pytest
from django.core.files.storage import default_storage
from pydicom.encaps import generate_frames
from pydicom.uid import JPEG2000Lossless, RLELossless

from imaging.dicomweb import lookups
from imaging.dicomweb.frame_reads import decoded_pixels
from imaging.models import Instance
from tests.dicom_factory import ct_dataset, to_bytes
from tests.dicomweb_fixtures import (  # noqa: F401 - *_fixture imports register fixtures
    SERIES,
    STUDY,
    body_of,
    fresh_access_cache_fixture,
    parts_of,
    phantom_fixture,
    pixel_data,
    store,
    token_client_fixture,
)

CORNERSTONE = 'multipart/related; type="application/octet-stream"; transfer-syntax=*'
OCTET = 'multipart/related; type="application/octet-stream"'
EXPLICIT = "1.2.840.10008.1.2.1"


def multiframe(sop: str, syntax: str | None = None, frames: int = 3) -> pydicom.Dataset:
    ds = ct_dataset(0, sop=sop)
    ds.NumberOfFrames = frames
    ds.PixelData = b"".join(ct_dataset(i).PixelData for i in range(frames))
    if syntax is not None:
        ds.compress(syntax, generate_instance_uid=False)
    return ds


@pytest.fixture
def frames_of(phantom, token_client, team):
    """GET the frames of an instance stored from `ds` (or of a phantom slice by index)."""
    client = token_client(team.annotator)

    def get(target, numbers: str, accept: str | None = None, **headers):
        if isinstance(target, pydicom.Dataset):
            url = (
                f"{phantom.base}/studies/{STUDY}/series/{SERIES}/instances/{target.SOPInstanceUID}"
            )
        else:
            url = phantom.instance_url(target)
        if accept is not None:
            headers["HTTP_ACCEPT"] = accept
        return client.get(f"{url}/frames/{numbers}", **headers)

    return get


@pytest.mark.parametrize(
    "accept", [CORNERSTONE, OCTET, None, "*/*", 'multipart/related; type="*/*"']
)
def test_a_native_frame_is_the_stored_pixel_bytes(phantom, frames_of, accept):
    response = frames_of(2, "1", accept)
    assert response.status_code == 200
    assert response["Content-Type"].startswith(OCTET)
    ((part_type, content),) = parts_of(response)
    assert part_type == f"application/octet-stream; transfer-syntax={EXPLICIT}"
    assert content == pixel_data(phantom.files[2])
    assert int(response["Content-Length"]) == len(body_of(response))


def test_several_frames_come_in_the_order_asked(phantom, frames_of):
    ds = multiframe("1.2.826.0.1.3680043.8.498.50")
    store(phantom.project, [to_bytes(ds)])
    frame = len(ds.PixelData) // 3
    expected = [ds.PixelData[i * frame : (i + 1) * frame] for i in (2, 0, 2)]
    response = frames_of(ds, "3,1,3", CORNERSTONE)
    assert [content for _, content in parts_of(response)] == expected


@pytest.mark.parametrize(
    ("syntax", "media_type"),
    [(RLELossless, "image/x-dicom-rle"), (JPEG2000Lossless, "image/jp2")],
)
def test_compressed_frames_are_sent_as_stored_for_any_transfer_syntax(
    phantom, frames_of, syntax, media_type
):
    ds = multiframe("1.2.826.0.1.3680043.8.498.51", syntax)
    store(phantom.project, [to_bytes(ds)])
    expected = list(generate_frames(ds.PixelData, number_of_frames=3))
    for accept in (CORNERSTONE, None, f'multipart/related; type="{media_type}"'):
        response = frames_of(ds, "2,3", accept)
        assert response.status_code == 200, accept
        parts = parts_of(response)
        assert [content for _, content in parts] == expected[1:]
        assert parts[0][0] == f"{media_type}; transfer-syntax={syntax}"


def test_compressed_frames_are_decoded_when_explicit_little_endian_is_asked(phantom, frames_of):
    ds = multiframe("1.2.826.0.1.3680043.8.498.52", RLELossless)
    store(phantom.project, [to_bytes(ds)])
    for accept in (OCTET, f"{OCTET}; transfer-syntax={EXPLICIT}"):
        ((part_type, content),) = parts_of(frames_of(ds, "2", accept))
        assert part_type == f"application/octet-stream; transfer-syntax={EXPLICIT}"
        assert content == ct_dataset(1).PixelData
        assert np.array_equal(np.frombuffer(content, "<i2"), ct_dataset(1).pixel_array.ravel())


def test_rle_frames_may_be_asked_for_under_either_media_type_name(phantom, frames_of):
    ds = multiframe("1.2.826.0.1.3680043.8.498.53", RLELossless)
    store(phantom.project, [to_bytes(ds)])
    response = frames_of(ds, "1", 'multipart/related; type="image/dicom-rle"')
    ((part_type, _),) = parts_of(response)
    assert part_type == f"image/dicom-rle; transfer-syntax={RLELossless}"


def test_a_transfer_syntax_we_cannot_produce_is_406(phantom, frames_of):
    response = frames_of(0, "1", 'multipart/related; type="image/jpeg"')
    assert response.status_code == 406
    assert "application/octet-stream" in response.json()["detail"]
    jls = (
        'multipart/related; type="application/octet-stream"; transfer-syntax=1.2.840.10008.1.2.4.80'
    )
    assert frames_of(0, "1", jls).status_code == 406


def test_the_accept_header_order_and_quality_pick_the_representation(phantom, frames_of):
    ds = multiframe("1.2.826.0.1.3680043.8.498.54", RLELossless)
    store(phantom.project, [to_bytes(ds)])
    accept = f'{OCTET}; q=0.5, multipart/related; type="image/x-dicom-rle"; q=0.9'
    ((part_type, _),) = parts_of(frames_of(ds, "1", accept))
    assert part_type.startswith("image/x-dicom-rle")


@pytest.mark.parametrize(
    ("numbers", "status", "detail"),
    [
        ("0", 400, "frame numbers start at 1"),
        ("1,a", 400, "frame numbers must be integers separated by commas, not '1,a'"),
        ("2", 404, "this instance has 1 frame(s); there is no frame 2"),
    ],
)
def test_frame_numbers_out_of_range_are_refused_with_a_message(
    phantom, frames_of, numbers, status, detail
):
    response = frames_of(0, numbers, CORNERSTONE)
    assert response.status_code == status
    assert response.json()["detail"] == detail


def test_frames_carry_an_etag_per_representation_and_answer_304(phantom, frames_of):
    first = frames_of(0, "1", CORNERSTONE)
    assert first["Cache-Control"] == "private, max-age=31536000, immutable"
    assert "Accept" in first["Vary"]
    again = frames_of(0, "1", CORNERSTONE, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    other = frames_of(1, "1", CORNERSTONE)
    assert other["ETag"] != first["ETag"]
    assert frames_of(1, "1", CORNERSTONE, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_every_frame_of_a_series_costs_one_query_in_all_once_access_is_cached(
    phantom, frames_of, django_assert_num_queries
):
    frames_of(0, "1", CORNERSTONE)
    lookups.clear_cache()  # the caller's access stays cached, the instances go
    with django_assert_num_queries(1):  # the first frame loads the series' instances
        responses = [frames_of(i, "1", CORNERSTONE) for i in range(len(phantom.files))]
        bodies = [body_of(response) for response in responses]
    assert [r.status_code for r in responses] == [200] * len(phantom.files)
    assert [parts_of(r)[0][1] for r in responses] == [pixel_data(f) for f in phantom.files]
    assert len(bodies) == len(phantom.files)


def test_a_missing_instance_is_looked_up_alone_not_by_reloading_its_series(
    phantom, frames_of, django_assert_num_queries
):
    frames_of(0, "1", CORNERSTONE)
    missing = ct_dataset(0, sop="1.2.826.0.1.3680043.8.498.77")
    for _ in range(3):
        with django_assert_num_queries(1):
            assert frames_of(missing, "1", CORNERSTONE).status_code == 404


def test_an_instance_stored_after_its_series_was_loaded_is_found(phantom, frames_of):
    assert frames_of(0, "1", CORNERSTONE).status_code == 200
    late = ct_dataset(7, sop="1.2.826.0.1.3680043.8.498.78")
    store(phantom.project, [to_bytes(late)])
    response = frames_of(late, "1", CORNERSTONE)
    assert response.status_code == 200
    assert parts_of(response)[0][1] == late.PixelData


def test_native_pixel_bulk_data_is_one_part(phantom, token_client, team):
    ds = multiframe("1.2.826.0.1.3680043.8.498.55")
    store(phantom.project, [to_bytes(ds)])
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/instances/{ds.SOPInstanceUID}"
    response = token_client(team.annotator).get(f"{url}/bulkdata/7FE00010")
    ((part_type, content),) = parts_of(response)
    assert part_type == f"application/octet-stream; transfer-syntax={EXPLICIT}"
    assert content == ds.PixelData


def test_encapsulated_pixel_bulk_data_is_one_part_per_frame(phantom, token_client, team):
    ds = multiframe("1.2.826.0.1.3680043.8.498.56", RLELossless)
    store(phantom.project, [to_bytes(ds)])
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/instances/{ds.SOPInstanceUID}"
    response = token_client(team.annotator).get(f"{url}/bulkdata/7FE00010")
    contents = [content for _, content in parts_of(response)]
    assert contents == list(generate_frames(ds.PixelData, number_of_frames=3))


def test_bulk_data_other_than_pixel_data_is_404(phantom, token_client, team):
    response = token_client(team.annotator).get(f"{phantom.instance_url(0)}/bulkdata/00100010")
    assert response.status_code == 404
    assert "PixelData" in response.json()["detail"]


def test_a_frame_asked_for_again_costs_no_query(phantom, frames_of, django_assert_num_queries):
    frames_of(1, "1", CORNERSTONE)
    with django_assert_num_queries(0):  # the instance's columns are kept: instances never change
        response = frames_of(1, "1", CORNERSTONE)
    assert response.status_code == 200
    assert parts_of(response)[0][1] == pixel_data(phantom.files[1])


def test_a_frame_whose_file_has_gone_since_it_was_cached_is_404(phantom, frames_of):
    assert frames_of(1, "1", CORNERSTONE).status_code == 200
    instance = Instance.objects.get(sop_instance_uid=phantom.sops[1])
    default_storage.delete(instance.file.name)
    response = frames_of(1, "1", CORNERSTONE)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("signed", [True, False])
def test_native_pixels_read_by_byte_range_match_pydicom(phantom, signed):
    ds = ct_dataset(0, sop="1.2.826.0.1.3680043.8.498.77")
    ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 12, 11, int(signed)
    values = np.frombuffer(ds.PixelData, dtype="<u2") | 0xA000  # junk in the unused bits
    ds.PixelData = values.astype("<u2").tobytes()
    store(phantom.project, [to_bytes(ds)])
    instance = Instance.objects.get(sop_instance_uid=ds.SOPInstanceUID)
    fast = decoded_pixels(instance, 1, bits_stored=12, signed=signed)
    by_pydicom = decoded_pixels(instance, 1)
    assert fast.dtype == by_pydicom.dtype
    assert np.array_equal(fast, by_pydicom)
