"""WADO-RS series pixel data: every frame of a series (or of listed instances) in one response."""

import email.message
import email.parser

import pytest
from pydicom.encaps import generate_frames
from pydicom.uid import RLELossless

from tests.dicom_factory import ct_dataset, to_bytes
from tests.dicomweb_fixtures import (  # noqa: F401 - *_fixture imports register fixtures
    SERIES,
    STUDY,
    body_of,
    fresh_access_cache_fixture,
    phantom_fixture,
    pixel_data,
    store,
    token_client_fixture,
)
from tests.test_dicomweb_frames import CORNERSTONE, EXPLICIT, OCTET, multiframe


@pytest.fixture
def pixeldata_of(phantom, token_client, team):
    client = token_client(team.annotator)
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/pixeldata"

    def get(query: str = "", accept: str | None = CORNERSTONE, **headers):
        if accept is not None:
            headers["HTTP_ACCEPT"] = accept
        return client.get(url + query, **headers)

    return get


def parts(response) -> list[dict]:
    """Each part's headers and content, by the standard library's MIME parser."""
    head = f"Content-Type: {response['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser().parsebytes(head + body_of(response))
    payload = message.get_payload()
    assert isinstance(payload, list)
    out = []
    for part in payload:
        assert isinstance(part, email.message.Message)
        content = part.get_payload(decode=True)
        out.append({**{k.lower(): v for k, v in part.items()}, "content": content})
    return out


def test_every_frame_of_the_series_comes_in_order_with_its_own_location(phantom, pixeldata_of):
    response = pixeldata_of()
    assert response.status_code == 200
    assert response["Content-Type"].startswith(OCTET)
    got = parts(response)
    assert [p["content"] for p in got] == [pixel_data(f) for f in phantom.files]
    frame_urls = [f"{phantom.instance_url(i)}/frames/1" for i in range(len(phantom.sops))]
    assert [p["content-location"] for p in got] == frame_urls
    assert all(
        p["content-type"] == f"application/octet-stream; transfer-syntax={EXPLICIT}" for p in got
    )
    assert [int(p["content-length"]) for p in got] == [len(p["content"]) for p in got]
    assert int(response["Content-Length"]) == len(body_of(response))
    # The whole series grows as instances arrive: revalidated, not kept.
    assert "no-cache" in response["Cache-Control"]


def test_listed_instances_come_in_the_order_listed_and_may_be_kept(phantom, pixeldata_of):
    chosen = [phantom.sops[3], phantom.sops[1]]
    response = pixeldata_of(f"?SOPInstanceUID={','.join(chosen)}")
    assert response.status_code == 200
    got = parts(response)
    assert [p["content"] for p in got] == [pixel_data(phantom.files[i]) for i in (3, 1)]
    assert "immutable" in response["Cache-Control"]
    repeated = pixeldata_of(f"?SOPInstanceUID={chosen[0]}&SOPInstanceUID={chosen[1]}")
    assert body_of(repeated) == body_of(response)


def test_every_frame_of_a_multiframe_instance_is_a_part(phantom, pixeldata_of):
    ds = multiframe("1.2.826.0.1.3680043.8.498.60")
    store(phantom.project, [to_bytes(ds)])
    got = parts(pixeldata_of(f"?SOPInstanceUID={ds.SOPInstanceUID}"))
    frame = len(ds.PixelData) // 3
    assert [p["content"] for p in got] == [
        ds.PixelData[i * frame : (i + 1) * frame] for i in range(3)
    ]
    assert [p["content-location"].rsplit("/", 2)[1:] for p in got] == [
        ["frames", "1"],
        ["frames", "2"],
        ["frames", "3"],
    ]


def test_compressed_frames_are_sent_as_stored_or_decoded_as_asked(phantom, pixeldata_of):
    ds = multiframe("1.2.826.0.1.3680043.8.498.61", RLELossless)
    store(phantom.project, [to_bytes(ds)])
    query = f"?SOPInstanceUID={ds.SOPInstanceUID}"
    stored = parts(pixeldata_of(query))
    assert [p["content"] for p in stored] == list(generate_frames(ds.PixelData, number_of_frames=3))
    assert stored[0]["content-type"] == f"image/x-dicom-rle; transfer-syntax={RLELossless}"
    decoded_response = pixeldata_of(query, accept=OCTET)
    decoded = parts(decoded_response)
    assert [p["content"] for p in decoded] == [ct_dataset(i).PixelData for i in range(3)]
    assert [int(p["content-length"]) for p in decoded] == [len(p["content"]) for p in decoded]
    assert not decoded_response.has_header("Content-Length")  # not known before decoding


def test_an_etag_answers_304(phantom, pixeldata_of):
    first = pixeldata_of()
    again = pixeldata_of(HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304


@pytest.mark.parametrize(
    ("query", "status", "says"),
    [
        ("?SOPInstanceUID=1.2.3.999", 404, "no instance 1.2.3.999"),
        ("?SOPInstanceUID=", 400, "empty value"),
        ("?SOPInstanceUID=a,,b", 400, "empty value"),
    ],
)
def test_bad_selections_are_refused_with_a_message(phantom, pixeldata_of, query, status, says):
    response = pixeldata_of(query)
    assert response.status_code == status
    assert says in response.json()["detail"]


def test_an_instance_listed_twice_is_400(phantom, pixeldata_of):
    response = pixeldata_of(f"?SOPInstanceUID={phantom.sops[0]},{phantom.sops[0]}")
    assert response.status_code == 400
    assert "twice" in response.json()["detail"]


def test_an_unknown_series_is_404_and_an_outsider_sees_the_same(phantom, token_client, team):
    member = token_client(team.annotator)
    missing = member.get(f"{phantom.base}/studies/{STUDY}/series/1.2.3.4/pixeldata")
    assert missing.status_code == 404
    assert "no such series" in missing.json()["detail"]
    outsider = token_client(team.outsider)
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/pixeldata"
    assert outsider.get(url).status_code == 404


def test_a_transfer_syntax_we_cannot_produce_is_406(phantom, pixeldata_of):
    response = pixeldata_of(accept='multipart/related; type="image/jp2"')
    assert response.status_code == 406
