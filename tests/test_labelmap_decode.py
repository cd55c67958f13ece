"""Decoding the wire format: every way a payload can lie about its voxels is refused."""

import gzip
import hashlib
import json
import struct

import numpy as np
import pytest

from annotations.labelmaps import InvalidLabelmap, LabelmapHeader, decode, encode

SHAPE = (3, 40, 50)


def header(**changes) -> LabelmapHeader:
    fields = dict(shape=SHAPE, spacing=(2.5, 0.7, 0.7), origin=(0.0, 0.0, 0.0),
                  direction=(1, 0, 0, 0, 1, 0, 0, 0, 1), series="2.25.1")  # fmt: skip
    return LabelmapHeader(**(fields | changes))


def payload_of(raw: bytes, *, sha256: str | None = None, body: bytes | None = None) -> bytes:
    """A payload whose header claims SHAPE, around any body."""
    fields = {"shape": list(SHAPE), "spacing": [2.5, 0.7, 0.7], "origin": [0, 0, 0],
              "direction": [1, 0, 0, 0, 1, 0, 0, 0, 1], "series": "2.25.1",
              "sha256": sha256 or hashlib.sha256(raw).hexdigest()}  # fmt: skip
    head = json.dumps(fields).encode()
    return b"NFLM" + struct.pack("<BBI", 1, 1, len(head)) + head + (body or gzip.compress(raw))


def test_a_labelmap_round_trips_exactly():
    voxels = np.zeros(SHAPE, dtype=np.uint8)
    voxels[1, 10:30, 5:45] = 1
    voxels[2, 0, 0] = 7
    decoded = decode(encode(voxels, header()), max_voxels=10**6)
    assert np.array_equal(decoded.voxels, voxels)


@pytest.mark.parametrize(
    ("raw", "message"),
    [(bytes(3 * 40 * 50 - 1), "inflate to 5999 bytes, not the 6000"),
     (bytes(3 * 40 * 50 + 1), "inflate to 6001 bytes, not the 6000"),
     (bytes(10 * 1024 * 1024), "inflate to 6001 bytes, not the 6000")],
)  # fmt: skip
def test_voxels_that_do_not_fill_the_shape_exactly_are_refused(raw, message):
    with pytest.raises(InvalidLabelmap, match=message):
        decode(payload_of(raw), max_voxels=10**6)


def test_a_checksum_that_does_not_match_is_refused():
    with pytest.raises(InvalidLabelmap, match="checksum does not match"):
        decode(payload_of(bytes(6000), sha256="0" * 64), max_voxels=10**6)


def test_a_body_that_is_not_gzip_is_refused():
    with pytest.raises(InvalidLabelmap, match="not valid gzip data"):
        decode(payload_of(bytes(6000), body=b"not gzip at all" * 10), max_voxels=10**6)


def test_a_shape_over_the_series_limit_is_refused_before_inflating():
    with pytest.raises(InvalidLabelmap, match="over 5999"):
        decode(payload_of(bytes(6000)), max_voxels=5999)
