"""Decoding the wire format: every way a payload can lie about its voxels is refused."""

import gzip
import hashlib
import json
import struct

import numpy as np
import pytest

from annotations.labelmaps import InvalidLabelmap, LabelmapHeader, decode, encode, verify

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


# --- compression 2: only the box around the non-zero voxels is in the body -------------------
def box_payload(
    voxels: np.ndarray, box: object, *, inside: bytes | None = None, sha256: str | None = None
) -> bytes:
    """A box-compressed payload of `voxels` claiming `box`, around any body."""
    if inside is None:
        assert isinstance(box, list)
        z0, y0, x0, z1, y1, x1 = (int(v) for v in box)
        inside = voxels[z0:z1, y0:y1, x0:x1].tobytes()
    fields = {"shape": list(SHAPE), "spacing": [2.5, 0.7, 0.7], "origin": [0, 0, 0],
              "direction": [1, 0, 0, 0, 1, 0, 0, 0, 1], "series": "2.25.1",
              "sha256": sha256 or hashlib.sha256(inside).hexdigest(), "box": box}  # fmt: skip
    head = json.dumps(fields).encode()
    return b"NFLM" + struct.pack("<BBI", 1, 2, len(head)) + head + gzip.compress(inside)


def test_the_encoder_sends_only_the_box_around_the_labels():
    voxels = np.zeros(SHAPE, dtype=np.uint8)
    voxels[1, 10:20, 5:8] = 2
    voxels[2, 12, 30] = 1
    payload = encode(voxels, header())
    assert payload[5] == 2
    head = json.loads(payload[10 : 10 + struct.unpack("<I", payload[6:10])[0]])
    assert head["box"] == [1, 10, 5, 3, 20, 31]
    assert np.array_equal(decode(payload, max_voxels=10**6).voxels, voxels)


def test_an_empty_labelmap_is_an_empty_box():
    voxels = np.zeros(SHAPE, dtype=np.uint8)
    payload = encode(voxels, header())
    assert b'"box":[0,0,0,0,0,0]' in payload
    assert not decode(payload, max_voxels=10**6).voxels.any()


def test_a_box_payload_from_another_encoder_decodes_to_the_same_voxels():
    voxels = np.zeros(SHAPE, dtype=np.uint8)
    voxels[0:2, 3:5, 7:9] = 4
    # A box larger than needed is fine: what is outside it is 0, what is inside is sent.
    decoded = decode(box_payload(voxels, [0, 0, 0, 3, 40, 50]), max_voxels=10**6)
    assert np.array_equal(decoded.voxels, voxels)


@pytest.mark.parametrize(
    ("box", "message"),
    [([0, 0, 0, 4, 40, 50], "does not fit the shape"),
     ([2, 0, 0, 1, 40, 50], "does not fit the shape"),
     ([-1, 0, 0, 3, 40, 50], "does not fit the shape"),
     ([0, 0, 0, 3, 40], "box must be 6 integers"),
     ([0, 0, 0, 3, 40, 50.5], "box must be 6 integers"),
     ("0,0,0,3,40,50", "box must be 6 integers"),
     (None, "box must be 6 integers")],
)  # fmt: skip
def test_a_box_that_is_not_inside_the_grid_is_refused(box, message):
    with pytest.raises(InvalidLabelmap, match=message):
        decode(box_payload(np.zeros(SHAPE, np.uint8), box, inside=b""), max_voxels=10**6)


def test_a_box_payload_without_its_box_is_refused():
    payload = bytearray(payload_of(bytes(6000)))
    payload[5] = 2  # says "box", has none
    with pytest.raises(InvalidLabelmap, match="header is malformed"):
        decode(bytes(payload), max_voxels=10**6)


@pytest.mark.parametrize(("size", "got"), [(5, 5), (7, 7), (10**6, 7)])
def test_a_body_that_does_not_fill_its_box_exactly_is_refused(size, got):
    with pytest.raises(InvalidLabelmap, match=f"inflate to {got} bytes, not the 6 of its box"):
        decode(
            box_payload(np.zeros(SHAPE, np.uint8), [0, 0, 0, 1, 2, 3], inside=bytes(size)),
            max_voxels=10**6,
        )


def test_a_box_whose_voxels_do_not_match_the_checksum_is_refused():
    voxels = np.zeros(SHAPE, dtype=np.uint8)
    voxels[0, 0, 0] = 1
    forged = box_payload(voxels, [0, 0, 0, 1, 1, 1], sha256=hashlib.sha256(b"\0").hexdigest())
    with pytest.raises(InvalidLabelmap, match="checksum does not match"):
        decode(forged, max_voxels=10**6)


def test_the_checksum_of_a_box_payload_covers_the_voxels_in_the_box():
    voxels = np.zeros(SHAPE, dtype=np.uint8)
    voxels[1, 2:4, 3:6] = 5
    payload = encode(voxels, header())
    head = json.loads(payload[10 : 10 + struct.unpack("<I", payload[6:10])[0]])
    assert head["sha256"] == hashlib.sha256(voxels[1:2, 2:4, 3:6].tobytes()).hexdigest()


def test_verify_refuses_what_decode_refuses_and_gives_the_header_of_what_it_accepts():
    """A save checks the payload with verify() (no 36 MB grid built): the same checks."""
    voxels = np.zeros(SHAPE, dtype=np.uint8)
    voxels[0, 0, 0] = 1
    bad = [
        payload_of(bytes(6000), sha256="0" * 64),
        payload_of(bytes(6000), body=b"not gzip at all" * 10),
        payload_of(bytes(5999)),
        box_payload(voxels, [0, 0, 0, 1, 1, 1], sha256=hashlib.sha256(b"\0").hexdigest()),
        box_payload(np.zeros(SHAPE, np.uint8), [0, 0, 0, 1, 2, 3], inside=bytes(7)),
    ]
    for payload in bad:
        with pytest.raises(InvalidLabelmap) as by_decode:
            decode(payload, max_voxels=10**6)
        with pytest.raises(InvalidLabelmap, match=str(by_decode.value)):
            verify(payload, max_voxels=10**6)
    with pytest.raises(InvalidLabelmap, match="over 5999"):
        verify(payload_of(bytes(6000)), max_voxels=5999)
    payload = encode(voxels, header())
    assert verify(payload, max_voxels=10**6) == decode(payload, max_voxels=10**6).header
