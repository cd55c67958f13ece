"""Accept, Accept-Encoding and multipart framing, as pure functions."""

import io

import pytest

from imaging.dicomweb import multipart
from imaging.dicomweb.errors import NotAcceptable
from imaging.dicomweb.negotiation import (
    accepts_gzip,
    frame_encoding,
    instance_syntax,
    parse_accept,
    rendered_type,
)

EXPLICIT = "1.2.840.10008.1.2.1"
IMPLICIT = "1.2.840.10008.1.2"
JLS = "1.2.840.10008.1.2.4.80"
J2K = "1.2.840.10008.1.2.4.90"


def test_accept_ranges_are_ordered_by_quality_then_by_the_clients_order():
    ranges = parse_accept('a/b; q=0.2, multipart/related; type="c/d"; q=0.9, e/f, g/h; q=0')
    assert [r.media_type for r in ranges] == ["e/f", "multipart/related", "a/b"]
    assert ranges[1].part_type == "c/d"


@pytest.mark.parametrize(
    ("header", "stored", "expected"),
    [
        # Cornerstone: whatever is stored, labelled with its syntax.
        ("multipart/related; type=application/octet-stream; transfer-syntax=*", JLS,
         (JLS, "image/jls", False)),
        ("multipart/related; type=application/octet-stream; transfer-syntax=*", IMPLICIT,
         (IMPLICIT, "application/octet-stream", False)),
        # Octet-stream without a syntax means explicit VR little endian: decode if compressed.
        ('multipart/related; type="application/octet-stream"', JLS,
         (EXPLICIT, "application/octet-stream", True)),
        ('multipart/related; type="application/octet-stream"', IMPLICIT,
         (EXPLICIT, "application/octet-stream", False)),
        # dicomweb-client's default and no header at all: as stored.
        ('multipart/related; type="*/*"', J2K, (J2K, "image/jp2", False)),
        (None, EXPLICIT, (EXPLICIT, "application/octet-stream", False)),
        # A compressed type is served only when it is what is stored.
        ('multipart/related; type="image/jls"', JLS, (JLS, "image/jls", False)),
        ('multipart/related; type="image/x-jls"; transfer-syntax=*', JLS,
         (JLS, "image/x-jls", False)),
        ('multipart/related; type="image/*"', J2K, (J2K, "image/jp2", False)),
    ],
)  # fmt: skip
def test_frame_encoding_follows_the_request_and_what_is_stored(header, stored, expected):
    encoding = frame_encoding(header, stored)
    assert (encoding.transfer_syntax_uid, encoding.media_type, encoding.decode) == expected


@pytest.mark.parametrize(
    ("header", "stored"),
    [
        ('multipart/related; type="image/jpeg"', EXPLICIT),
        ('multipart/related; type="image/jls"; transfer-syntax=1.2.840.10008.1.2.4.81', JLS),
        ('multipart/related; type="image/jp2"', JLS),
        ("application/octet-stream", EXPLICIT),  # single part: not offered
        ("application/json", EXPLICIT),
    ],
)
def test_frame_representations_we_cannot_give_are_not_acceptable(header, stored):
    with pytest.raises(NotAcceptable):
        frame_encoding(header, stored)


def test_instances_go_as_stored_unless_explicit_little_endian_is_named():
    dicom = 'multipart/related; type="application/dicom"'
    assert instance_syntax(dicom, JLS) == JLS
    assert instance_syntax(f"{dicom}; transfer-syntax=*", JLS) == JLS
    assert instance_syntax(f"{dicom}; transfer-syntax={EXPLICIT}", JLS) == EXPLICIT
    with pytest.raises(NotAcceptable):
        instance_syntax(f"{dicom}; transfer-syntax={J2K}", JLS)


def test_gzip_is_used_only_when_accepted():
    assert accepts_gzip("gzip, deflate, br")
    assert accepts_gzip("*")
    assert not accepts_gzip("gzip;q=0, *")
    assert not accepts_gzip("br")
    assert not accepts_gzip(None)


def test_rendered_images_are_jpeg_unless_png_is_preferred():
    assert rendered_type(None) == "image/jpeg"
    assert rendered_type("image/png, image/jpeg;q=0.5") == "image/png"
    assert rendered_type("text/html, image/*;q=0.8") == "image/jpeg"
    with pytest.raises(NotAcceptable):
        rendered_type("image/gif")


def test_a_written_body_is_read_back_part_by_part():
    parts = [b"first", b"", b"\r\n--not-quite-the-boundary\r\n", b"last"]
    body = b"".join(multipart.encode([("a/b", [p[:3], p[3:]]) for p in parts], "bnd"))
    assert len(body) == multipart.encoded_length([("a/b", len(p)) for p in parts], "bnd")
    found = multipart.find_parts(io.BytesIO(body), "bnd")
    assert [p.read(io.BytesIO(body)) for p in found] == parts
    assert {p.content_type for p in found} == {"a/b"}


@pytest.mark.parametrize("chunk", [1, 5, 64, 1 << 20])
def test_parts_are_noticed_as_the_body_arrives_whatever_its_chunks(chunk):
    parts = [b"first", b"", b"\r\n--not-quite-the-boundary\r\n", b"last" * 100]
    body = b"preamble\r\n" + b"".join(multipart.encode([("a/b", [p]) for p in parts], "bnd"))
    spool, noticed = io.BytesIO(), []
    arriving = multipart.ArrivingParts(
        spool, "bnd", lambda number, part: noticed.append((number, part.read(spool)))
    )
    for start in range(0, len(body), chunk):
        spool.write(body[start : start + chunk])
        arriving.arrived(body[start : start + chunk])
    assert noticed == list(enumerate(parts, start=1))
    assert spool.getvalue() == body  # reading the parts never moved where the next chunk goes
    assert arriving.candidates == multipart._candidates(io.BytesIO(body), "bnd")
    found = multipart.find_parts(io.BytesIO(body), "bnd", arriving.candidates)
    assert [p.read(io.BytesIO(body)) for p in found] == parts


def test_a_boundary_split_across_read_chunks_is_found(monkeypatch):
    monkeypatch.setattr(multipart, "SCAN_CHUNK", 3)
    body = b"preamble\r\n--bnd\r\nContent-Type: x/y\r\n\r\nabcdef\r\n--bnd--\r\nepilogue"
    (part,) = multipart.find_parts(io.BytesIO(body), "bnd")
    assert part.read(io.BytesIO(body)) == b"abcdef"


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"--bnd\r\nContent-Type: x/y\r\n\r\nabc", "does not end with its closing boundary"),
        (b"--bnd\r\nContent-Type: x/y\r\nabc\r\n--bnd--", "no blank line after its headers"),
        (b"no boundary at all", "does not end with its closing boundary"),
    ],
)
def test_broken_bodies_are_refused(body, detail):
    with pytest.raises(multipart.MalformedMultipart) as refused:
        multipart.find_parts(io.BytesIO(body), "bnd")
    assert detail in refused.value.detail
