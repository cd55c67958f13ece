"""WADO-RS rendered frames: JPEG or PNG, windowed in modality units."""

import io

import numpy as np
import pytest
from PIL import Image

from imaging.dicomweb.rendering import Window, voi_lut
from tests.dicom_factory import ct_dataset, phantom_slice, to_bytes
from tests.dicomweb_fixtures import (  # noqa: F401 - *_fixture imports register fixtures
    SERIES,
    STUDY,
    fresh_access_cache_fixture,
    phantom_fixture,
    store,
    token_client_fixture,
)


def image_of(response) -> Image.Image:
    assert response.status_code == 200, response.content
    return Image.open(io.BytesIO(response.content))


def test_an_instance_renders_as_jpeg_by_default(phantom, token_client, team):
    response = token_client(team.annotator).get(f"{phantom.instance_url(0)}/rendered")
    assert response["Content-Type"] == "image/jpeg"
    image = image_of(response)
    assert (image.format, image.size, image.mode) == ("JPEG", (32, 32), "L")
    assert response["Cache-Control"] == "private, max-age=31536000, immutable"


def test_a_frame_renders_as_png_when_asked_with_the_window_given(phantom, token_client, team):
    url = f"{phantom.instance_url(0)}/frames/1/rendered"
    # A window from -800 to +100 HU: lung is black, the sphere white, exactly (PNG is lossless).
    response = token_client(team.annotator).get(
        url, {"window": "-350,900,linear-exact"}, HTTP_ACCEPT="image/png"
    )
    assert response["Content-Type"] == "image/png"
    pixels = np.asarray(image_of(response))
    values = phantom_slice(0).astype(float)
    expected = np.clip(((values + 350) / 900 + 0.5) * 255, 0, 255).astype(np.uint8)
    assert np.array_equal(pixels, expected)


def test_without_a_window_the_instance_window_is_used_else_the_frame_range(
    phantom, token_client, team
):
    ds = ct_dataset(1, sop="1.2.826.0.1.3680043.8.498.70")
    ds.WindowCenter, ds.WindowWidth = 100, 2
    ds.RescaleIntercept = -1000
    store(phantom.project, [to_bytes(ds)])
    url = f"{phantom.base}/studies/{STUDY}/series/{SERIES}/instances/{ds.SOPInstanceUID}/rendered"
    pixels = np.asarray(image_of(token_client(team.annotator).get(url, HTTP_ACCEPT="image/png")))
    # Stored values are around -800 and +100; minus 1000 HU they are all below the window.
    assert pixels.max() == 0
    auto = token_client(team.annotator).get(
        f"{phantom.instance_url(1)}/rendered", HTTP_ACCEPT="image/png"
    )
    pixels = np.asarray(image_of(auto))
    assert (pixels.min(), pixels.max()) == (0, 255)


def test_viewport_scales_the_image_to_fit(phantom, token_client, team):
    response = token_client(team.annotator).get(
        f"{phantom.instance_url(0)}/rendered", {"viewport": "16,64", "quality": "50"}
    )
    assert image_of(response).size == (16, 16)


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"window": "40"}, "window must be center,width or center,width,function"),
        ({"window": "40,abc"}, "window width must be a number, not 'abc'"),
        ({"window": "40,0"}, "window width must be at least 1"),
        ({"window": "40,400,cubic"}, "window function must be one of linear"),
        ({"quality": "0"}, "quality must be an integer from 1 to 100"),
        ({"viewport": "0,10"}, "viewport width and height must be 1-4096"),
    ],
)
def test_bad_rendering_parameters_are_400(phantom, token_client, team, params, detail):
    response = token_client(team.annotator).get(f"{phantom.instance_url(0)}/rendered", params)
    assert response.status_code == 400
    assert response.json()["detail"].startswith(detail)


def test_rendered_asks_for_one_frame_and_an_image_type(phantom, token_client, team):
    client = token_client(team.annotator)
    assert client.get(f"{phantom.instance_url(0)}/frames/1,1/rendered").status_code == 400
    assert client.get(f"{phantom.instance_url(0)}/frames/2/rendered").status_code == 404
    response = client.get(f"{phantom.instance_url(0)}/rendered", HTTP_ACCEPT="image/gif")
    assert response.status_code == 406


def test_rendered_images_answer_304_to_their_etag(phantom, token_client, team):
    client = token_client(team.annotator)
    url = f"{phantom.instance_url(0)}/rendered"
    etag = client.get(url)["ETag"]
    assert client.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304
    assert client.get(url, {"window": "0,100"}, HTTP_IF_NONE_MATCH=etag).status_code == 200


def test_the_voi_functions_follow_the_standard():
    values = np.array([-1000.0, 39.5, 40.0, 1000.0])
    linear = voi_lut(values, Window(40, 400))
    assert (linear[0], linear[-1]) == (0, 255)
    assert linear[1] == 127  # the centre - 0.5 maps to the middle of the range
    sigmoid = voi_lut(values, Window(40, 400, "SIGMOID"))
    assert sigmoid[2] == 127
