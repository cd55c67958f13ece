"""Expanding uploads and folders into ingest items: hostile archives are refused, per member."""

import io
import stat
import struct
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from imaging.archives import (
    MAX_ZIP_MEMBERS,
    Budget,
    Item,
    Skipped,
    count_paths,
    expand_paths,
    expand_upload,
)
from imaging.outcomes import IngestReport, Outcome

LIDC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lidc"
SERIES_0001 = next((LIDC / "LIDC-IDRI-0001").glob("*/*"))
GIB = 1024**3


def lidc_slices(count: int) -> list[Path]:
    return sorted(SERIES_0001.glob("*.dcm"))[:count]


def zip_of(members: dict[str, bytes]) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    out.seek(0)
    return out


def expand(name: str, stream: io.BytesIO, budget: Budget | None = None) -> list:
    return list(expand_upload(name, stream, len(stream.getbuffer()), budget))


def zeros_deflated(mebibytes: int) -> tuple[bytes, int]:
    """A raw deflate stream of `mebibytes` MiB of zeros, built without compressing them all.

    A full flush ends a block on a byte boundary with an empty history, so one compressed
    mebibyte can be repeated: a 1 GiB bomb costs about 1 MB of memory and a quarter second.
    """
    deflater = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = deflater.compress(bytes(1 << 20)) + deflater.flush(zlib.Z_FULL_FLUSH)
    crc, mebibyte = 0, bytes(1 << 20)
    for _ in range(mebibytes):
        crc = zlib.crc32(mebibyte, crc)
    return block * mebibytes + deflater.flush(zlib.Z_FINISH), crc


def raw_zip(name: str, deflated: bytes, crc: int, declared_size: int, mode: int = 0) -> io.BytesIO:
    """A one-member zip written by hand, so its header may say whatever the test wants."""
    encoded = name.encode()
    local = struct.pack(
        "<IHHHHHIIIHH", 0x04034B50, 20, 0, 8, 0, 0, crc, len(deflated), declared_size,
        len(encoded), 0,
    )  # fmt: skip
    central = struct.pack(
        "<IHHHHHHIIIHHHHHII", 0x02014B50, (3 << 8) | 20, 20, 0, 8, 0, 0, crc, len(deflated),
        declared_size, len(encoded), 0, 0, 0, 0, mode << 16, 0,
    )  # fmt: skip
    body = local + encoded + deflated
    directory = central + encoded
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 1, 1, len(directory), len(body), 0)
    return io.BytesIO(body + directory + end)


def test_a_zip_of_lidc_slices_expands_to_their_exact_bytes():
    slices = lidc_slices(3)
    members = {f"case/{path.name}": path.read_bytes() for path in slices}
    entries = expand("case.zip", zip_of(members))
    assert entries == [Item(f"case.zip/{name}", data) for name, data in members.items()]


def test_a_plain_file_is_one_item():
    path = lidc_slices(1)[0]
    with path.open("rb") as stream:
        entries = list(expand_upload(path.name, stream, path.stat().st_size))
    assert entries == [Item(path.name, path.read_bytes())]


def test_parent_directory_components_are_refused_per_member():
    archive = zip_of({"../../etc/evil.dcm": b"x", "ok/..\\..\\evil.dcm": b"y", "good.dcm": b"z"})
    entries = expand("upload.zip", archive)
    assert [(type(e), getattr(e, "reason", "")) for e in entries] == [
        (IngestReport, "'..' in archive path: refused"),
        (IngestReport, "'..' in archive path: refused"),
        (Item, ""),
    ]
    assert all(e.outcome == Outcome.REJECTED for e in entries[:2])


def test_absolute_paths_are_refused():
    archive = zip_of({"/etc/passwd": b"x", "C:/Windows/evil.dcm": b"y"})
    entries = expand("upload.zip", archive)
    assert [e.reason for e in entries] == ["absolute path in archive: refused"] * 2


def test_a_symlink_member_is_refused():
    deflated, crc = zeros_deflated(0)
    archive = raw_zip("link.dcm", deflated, crc, 0, mode=stat.S_IFLNK | 0o777)
    (entry,) = expand("upload.zip", archive)
    assert entry.outcome == Outcome.REJECTED
    assert entry.reason == "symbolic link in archive: refused"


def test_a_one_gib_zip_bomb_is_refused_by_its_declared_size_without_inflating(settings):
    deflated, crc = zeros_deflated(1024)
    assert len(deflated) < 1_100_000
    started = time.monotonic()
    (entry,) = expand("bomb.zip", raw_zip("zeros.dcm", deflated, crc, GIB))
    assert time.monotonic() - started < 1
    assert entry.outcome == Outcome.REJECTED
    assert "over DICOM_MAX_INSTANCE_BYTES" in entry.reason


def test_a_bomb_that_understates_its_size_is_refused_after_a_bounded_read(settings):
    deflated, crc = zeros_deflated(1024)
    started = time.monotonic()
    (entry,) = expand("bomb.zip", raw_zip("zeros.dcm", deflated, crc, 1000))
    assert time.monotonic() - started < 1
    assert entry.outcome == Outcome.REJECTED
    assert entry.reason.startswith("damaged zip member")


def test_a_member_inflating_beyond_the_ratio_is_refused(settings):
    settings.DICOM_MAX_ZIP_RATIO = 200
    entries = expand("bomb.zip", zip_of({"zeros.dcm": bytes(20 * 1024**2), "ok.dcm": b"ok"}))
    assert entries[0].outcome == Outcome.REJECTED
    assert "over DICOM_MAX_ZIP_RATIO (200:1)" in entries[0].reason
    assert entries[1] == Item("bomb.zip/ok.dcm", b"ok")


def test_small_members_are_not_held_to_the_ratio(settings):
    settings.DICOM_MAX_ZIP_RATIO = 2
    (entry,) = expand("seg.zip", zip_of({"empty-seg.dcm": bytes(100_000)}))
    assert entry == Item("seg.zip/empty-seg.dcm", bytes(100_000))


def test_the_upload_total_caps_what_all_members_inflate_to(settings):
    slices = lidc_slices(3)
    settings.DICOM_MAX_UPLOAD_BYTES = 2 * slices[0].stat().st_size + 10
    archive = zip_of({path.name: path.read_bytes() for path in slices})
    entries = expand("three.zip", archive)
    assert [type(e) for e in entries] == [Item, Item, IngestReport]
    assert "DICOM_MAX_UPLOAD_BYTES" in entries[2].reason


def test_one_budget_spans_every_file_of_an_upload(settings):
    settings.DICOM_MAX_UPLOAD_BYTES = 15
    budget = Budget()
    first = expand("a.dcm", io.BytesIO(b"0123456789"), budget)
    second = expand("b.dcm", io.BytesIO(b"0123456789"), budget)
    assert first == [Item("a.dcm", b"0123456789")]
    assert second[0].outcome == Outcome.REJECTED


def test_a_plain_file_over_the_instance_limit_is_refused_unread(settings):
    settings.DICOM_MAX_INSTANCE_BYTES = 4
    (entry,) = expand("big.dcm", io.BytesIO(b"0123456789"))
    assert entry.outcome == Outcome.REJECTED
    assert "over DICOM_MAX_INSTANCE_BYTES" in entry.reason


def test_nested_zips_are_reported_not_expanded():
    inner = zip_of({"a.dcm": b"a"}).getvalue()
    entries = expand("outer.zip", zip_of({"inner.zip": inner, "renamed.dcm": inner}))
    assert [e.outcome for e in entries] == [Outcome.REJECTED, Outcome.REJECTED]
    assert all("nested archive" in e.reason for e in entries)


def test_os_litter_and_sidecar_files_are_skipped_not_rejected():
    archive = zip_of(
        {
            "__MACOSX/case/._1.dcm": b"x",
            "case/.DS_Store": b"x",
            "case/DICOMDIR": b"x",
            "case/069.xml": b"<xml/>",
            "case/1.dcm": b"dicom",
        }
    )
    with zipfile.ZipFile(archive, "a") as appended:
        appended.mkdir("case/empty")
    archive.seek(0)
    entries = expand("case.zip", archive)
    assert [type(e) for e in entries] == [Skipped, Skipped, Skipped, Skipped, Item]
    assert entries[3].reason == "not DICOM (.xml file)"


def test_a_damaged_zip_is_one_rejection():
    (entry,) = expand("broken.zip", io.BytesIO(b"PK\x03\x04 not really a zip"))
    assert entry.outcome == Outcome.REJECTED
    assert entry.reason.startswith("not a readable zip archive")


def test_an_archive_listing_too_many_members_is_refused_before_parsing():
    zip64_count = MAX_ZIP_MEMBERS + 1
    record = struct.pack(
        "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, zip64_count, zip64_count, 0, 0
    )
    locator = struct.pack("<IIQI", 0x07064B50, 0, 0, 1)
    end64 = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0, 0, 0)
    (entry,) = expand("many.zip", io.BytesIO(record + locator + end64))
    assert entry.reason == f"archive lists {zip64_count} members; at most {MAX_ZIP_MEMBERS}"


def test_folders_are_walked_in_order_with_zips_expanded(tmp_path):
    slices = lidc_slices(2)
    (tmp_path / "b").mkdir()
    (tmp_path / "a").mkdir()
    (tmp_path / "b" / "2.dcm").write_bytes(slices[1].read_bytes())
    (tmp_path / "a" / "notes.txt").write_text("hello")
    (tmp_path / "a" / "case.zip").write_bytes(zip_of({"1.dcm": slices[0].read_bytes()}).read())
    (tmp_path / "b" / "link.dcm").symlink_to(slices[0])
    entries = list(expand_paths([tmp_path]))
    assert [(type(e), e.name.removeprefix(str(tmp_path))) for e in entries] == [
        (Item, "/a/case.zip/1.dcm"),
        (Skipped, "/a/notes.txt"),
        (Item, "/b/2.dcm"),
    ]
    assert count_paths([tmp_path]) == 3


@pytest.mark.parametrize("name", ["DICOMDIR", "__MACOSX/x.dcm", "._a.dcm", "x/Thumbs.db"])
def test_junk_names_in_folders_are_skipped(tmp_path, name):
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x")
    (entry,) = expand_paths([tmp_path])
    assert isinstance(entry, Skipped)
