"""Ingest: valid instances are stored and indexed; every bad input is refused with a reason and
leaves no rows and no files behind."""

import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pydicom.dataset import Dataset
from pydicom.filewriter import write_dataset
from pydicom.sequence import Sequence
from pydicom.uid import DeflatedExplicitVRLittleEndian, RLELossless

from imaging.models import Instance, Patient, Series, Study
from imaging.outcomes import Outcome
from imaging.services import ingest_batch, ingest_instance
from tests.dicom_factory import ct_dataset, series_bytes, to_bytes
from tests.factories import ProjectFactory

LIDC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lidc"


@pytest.fixture
def project(db):
    return ProjectFactory.create(deidentify=False)


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_nothing_written(settings) -> None:
    assert Instance.objects.count() == 0
    assert Series.objects.count() == 0
    assert Study.objects.count() == 0
    assert Patient.objects.count() == 0
    assert stored_files(settings) == []


def reject(project, data: bytes):
    report = ingest_instance(project=project, name="bad.dcm", data=data)
    assert report.outcome == Outcome.REJECTED
    return report.reason


def test_a_valid_instance_is_stored_with_its_bytes_and_frame_index(project, settings):
    data = to_bytes(ct_dataset(3))
    report = ingest_instance(project=project, name="ok.dcm", data=data)
    assert report.outcome == Outcome.STORED
    instance = Instance.objects.get(pk=report.instance_id)
    with instance.file.open("rb") as stored:
        assert stored.read() == data
    ((offset, length),) = instance.frame_index[0]
    assert data[offset : offset + length] == pydicom.dcmread(io.BytesIO(data)).PixelData
    metadata = json.loads(instance.metadata_json)
    assert metadata["7FE00010"]["BulkDataURI"].endswith("/bulkdata/7FE00010")
    assert metadata["00100010"] == {"vr": "PN", "Value": [{"Alphabetic": "Doe^Jane"}]}


def test_lidc_series_frames_are_indexed_byte_exact(project):
    files = sorted((LIDC / "LIDC-IDRI-0001").rglob("*.dcm"))[:5]
    reports = ingest_batch(project=project, items=[(f.name, f.read_bytes()) for f in files])
    assert [r.outcome for r in reports] == [Outcome.STORED] * 5
    for source, report in zip(files, reports, strict=True):
        instance = Instance.objects.get(pk=report.instance_id)
        ((offset, length),) = instance.frame_index[0]
        assert source.read_bytes()[offset : offset + length] == pydicom.dcmread(source).PixelData


def test_encapsulated_multiframe_fragments_are_indexed_per_frame(project):
    ds = ct_dataset(0)
    frames = [ct_dataset(i).PixelData for i in range(3)]
    ds.NumberOfFrames = 3
    ds.PixelData = b"".join(frames)
    ds.compress(RLELossless)
    data = to_bytes(ds)
    report = ingest_instance(project=project, name="rle.dcm", data=data)
    assert report.outcome == Outcome.STORED, report.reason
    instance = Instance.objects.get(pk=report.instance_id)
    expected = list(pydicom.encaps.generate_frames(ds.PixelData, number_of_frames=3))
    for frame, ranges in zip(expected, instance.frame_index, strict=True):
        assert b"".join(data[o : o + n] for o, n in ranges) == frame


def test_same_uid_same_bytes_is_an_idempotent_duplicate(project):
    data = to_bytes(ct_dataset(0))
    first = ingest_instance(project=project, name="a.dcm", data=data)
    again = ingest_instance(project=project, name="a.dcm", data=data)
    assert (first.outcome, again.outcome) == (Outcome.STORED, Outcome.DUPLICATE)
    assert again.instance_id == first.instance_id
    assert Instance.objects.count() == 1
    assert Series.objects.get().instance_count == 1


def test_same_uid_different_bytes_is_a_conflict_and_nothing_is_overwritten(project, settings):
    original = ct_dataset(0, sop="1.2.3.4.5")
    data = to_bytes(original)
    ingest_instance(project=project, name="a.dcm", data=data)
    changed = ct_dataset(0, sop="1.2.3.4.5")
    changed.PatientName = "Someone^Else"
    report = ingest_instance(project=project, name="b.dcm", data=to_bytes(changed))
    assert report.outcome == Outcome.CONFLICT
    assert "stored with different content; nothing was overwritten" in report.reason
    instance = Instance.objects.get()
    with instance.file.open("rb") as stored:
        assert stored.read() == data
    assert len(stored_files(settings)) == 1


def test_truncated_file_is_rejected(project, settings):
    data = to_bytes(ct_dataset(0))
    reason = reject(project, data[:400])
    assert reason.startswith("file is truncated")
    assert_nothing_written(settings)


def test_a_file_cut_inside_its_pixel_data_is_rejected(project, settings):
    data = to_bytes(ct_dataset(0))
    reason = reject(project, data[:-100])
    assert reason == "file is truncated: element (7FE0,0010) runs past the end of the file"
    assert_nothing_written(settings)


def test_not_dicom_is_rejected(project, settings):
    reason = reject(project, b"%PDF-1.7 this is a report, not an image" * 10)
    assert reason == "not a DICOM Part 10 file: no 'DICM' file header"
    assert_nothing_written(settings)


def test_a_data_set_without_the_file_header_is_rejected(project, settings):
    ds = ct_dataset(0)
    out = pydicom.filebase.DicomBytesIO()
    out.is_little_endian, out.is_implicit_VR = True, False
    write_dataset(out, ds)
    assert reject(project, out.getvalue()) == "not a DICOM Part 10 file: no 'DICM' file header"
    assert_nothing_written(settings)


@pytest.mark.parametrize("keyword", ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"])
def test_a_missing_uid_is_rejected(project, settings, keyword):
    ds = ct_dataset(0)
    delattr(ds, keyword)
    assert reject(project, to_bytes(ds)) == f"{keyword} is missing"
    assert_nothing_written(settings)


@pytest.mark.parametrize("bad", ["../../x", "1.2.03", "1.2.3.", "1.2.a", "9" * 65])
def test_a_syntactically_invalid_uid_is_rejected(project, settings, bad):
    ds = ct_dataset(0)
    ds.SeriesInstanceUID = bad
    assert reject(project, to_bytes(ds)) == "SeriesInstanceUID is not a valid UID"
    assert_nothing_written(settings)


def test_pixel_length_that_does_not_match_the_pixel_module_is_rejected(project, settings):
    ds = ct_dataset(0)
    ds.Rows = 40
    reason = reject(project, to_bytes(ds))
    assert reason == (
        "pixel data is 2048 bytes but Rows, Columns, BitsAllocated, SamplesPerPixel "
        "and NumberOfFrames call for 2560"
    )
    assert_nothing_written(settings)


def test_bits_stored_above_bits_allocated_is_rejected(project, settings):
    ds = ct_dataset(0)
    ds.BitsStored = 17
    assert "BitsStored (17) must be between 1 and BitsAllocated (16)" in reject(
        project, to_bytes(ds)
    )
    assert_nothing_written(settings)


def test_a_claimed_65535_square_image_is_rejected(project, settings):
    ds = ct_dataset(0)
    ds.Rows = ds.Columns = 65535
    assert reject(project, to_bytes(ds)) == (
        "image is 65535x65535; rows and columns must be 1-16384"
    )
    assert_nothing_written(settings)


def test_an_oversize_file_is_rejected(project, settings):
    settings.DICOM_MAX_INSTANCE_BYTES = 1000
    data = to_bytes(ct_dataset(0))
    assert reject(project, data) == f"file is {len(data)} bytes, over the 1000-byte limit"
    assert_nothing_written(settings)


def test_a_deflated_file_is_stored_inflated(project):
    ds = ct_dataset(0)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    report = ingest_instance(project=project, name="deflated.dcm", data=out.getvalue())
    assert report.outcome == Outcome.STORED, report.reason
    instance = Instance.objects.get()
    assert instance.transfer_syntax_uid == "1.2.840.10008.1.2.1"
    with instance.file.open("rb") as stored:
        assert pydicom.dcmread(stored).PixelData == ds.PixelData


def test_a_deflated_data_set_that_inflates_to_gigabytes_is_rejected(project, settings):
    ds = ct_dataset(0)
    ds.file_meta.TransferSyntaxUID = DeflatedExplicitVRLittleEndian
    header = io.BytesIO()
    ds.save_as(header, enforce_file_format=True)
    meta_end = 132 + 12 + int.from_bytes(header.getvalue()[140:144], "little")
    bomb = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    zeros = bytes(16 * 1024**2)
    body = b"".join(bomb.compress(zeros) for _ in range(64)) + bomb.flush()  # 1 GiB inflated
    data = header.getvalue()[:meta_end] + body
    assert len(data) < 2 * 1024**2
    assert "inflates past the" in reject(project, data)
    assert_nothing_written(settings)


def test_sequences_nested_200_deep_are_rejected(project, settings):
    ds = ct_dataset(0)
    item = Dataset()
    item.CodeValue = "1"
    for _ in range(200):
        outer = Dataset()
        outer.ContentSequence = Sequence([item])
        item = outer
    ds.ContentSequence = item.ContentSequence
    reason = reject(project, to_bytes(ds))
    assert "nested" in reason
    assert_nothing_written(settings)


def test_script_in_patient_name_is_stored_as_text(project):
    name = "<script>alert('x')</script>"
    report = ingest_instance(
        project=project, name="x.dcm", data=to_bytes(ct_dataset(0, patient_name=name))
    )
    assert report.outcome == Outcome.STORED
    assert Patient.objects.get().patient_name == name


def test_a_batch_stores_the_valid_and_reports_the_invalid(project):
    items = series_bytes(3)
    items.insert(1, ("junk.txt", b"hello"))
    reports = ingest_batch(project=project, items=items)
    assert [r.outcome for r in reports] == [
        Outcome.STORED, Outcome.REJECTED, Outcome.STORED, Outcome.STORED,
    ]  # fmt: skip
    assert reports[1].name == "junk.txt"
    assert Instance.objects.count() == 3


def test_series_metadata_is_the_array_of_instance_metadata(project):
    from imaging.series_metadata import build_series_metadata

    ingest_batch(project=project, items=series_bytes(4))
    series = Series.objects.get()
    compressed, etag = build_series_metadata(series)
    document = json.loads(gzip.decompress(compressed))
    assert [d["00200013"]["Value"][0] for d in document] == [1, 2, 3, 4]
    assert len(etag) == 32


def test_a_resend_and_a_conflict_in_one_batch_leave_the_stored_instances_alone(project, settings):
    first = to_bytes(ct_dataset(0, sop="1.2.3.4.5"))
    changed = ct_dataset(0, sop="1.2.3.4.5")
    changed.PatientName = "Someone^Else"
    items = [("a", first), ("again", first), ("b", to_bytes(changed)), *series_bytes(2)]
    reports = ingest_batch(project=project, items=items)
    assert [r.outcome for r in reports] == [
        Outcome.STORED, Outcome.DUPLICATE, Outcome.CONFLICT, Outcome.STORED, Outcome.STORED,
    ]  # fmt: skip
    assert Instance.objects.count() == 3
    assert len(stored_files(settings)) == 3  # the conflicting file was written, then deleted
    assert sum(Series.objects.values_list("instance_count", flat=True)) == 3


def test_an_unexpected_error_rolls_back_its_chunk_and_deletes_its_files(
    project, settings, monkeypatch
):
    from imaging import services

    settings.DICOM_INGEST_WORKERS = 0  # prepared in this process, where the fault is injected
    monkeypatch.setattr(services, "COMMIT_EVERY", 2)
    items = series_bytes(3)

    def failing() -> Iterator[tuple[str, bytes]]:
        yield from items
        yield "boom", b""  # never read: the error comes from ingest below

    real = services.prepare_instance

    def prepare(**kwargs: Any) -> Any:
        if kwargs["name"] == "boom":
            raise RuntimeError("disk on fire")
        return real(**kwargs)

    monkeypatch.setattr(services, "prepare_instance", prepare)
    with pytest.raises(RuntimeError):
        ingest_batch(project=project, items=failing())
    # The first chunk (2 instances) committed; the second (1 instance, then the error) did not.
    assert Instance.objects.count() == 2
    assert len(stored_files(settings)) == 2


def test_a_storage_failure_rolls_back_its_chunk_and_deletes_the_files_it_wrote(
    project, settings, monkeypatch
):
    # Files prepared by the ingest pool are written here, by the process holding the chunk.
    from imaging import services

    monkeypatch.setattr(services, "COMMIT_EVERY", 2)
    real, calls = services._write_file, []

    def write(*args: Any) -> str:
        calls.append(args)
        if len(calls) == 4:
            raise OSError("disk full")
        return real(*args)

    monkeypatch.setattr(services, "_write_file", write)
    with pytest.raises(OSError):
        ingest_batch(project=project, items=series_bytes(4))
    # The first chunk committed; the second wrote one file, failed on the next, and rolled back.
    assert Instance.objects.count() == 2
    assert len(stored_files(settings)) == 2


def test_a_chunk_is_written_with_a_fixed_number_of_queries(project):
    # Ten or thirty instances cost the same: one lookup of the stored UIDs, the series found
    # once, one INSERT, one update of the series row.
    ingest_batch(project=project, items=series_bytes(1))
    with CaptureQueriesContext(connection) as ten:
        ingest_batch(project=project, items=series_bytes(11)[1:])
    with CaptureQueriesContext(connection) as thirty:
        reports = ingest_batch(project=project, items=series_bytes(41)[11:])
    assert {r.outcome for r in reports} == {Outcome.STORED}
    assert len(ten) == len(thirty) <= 10
    assert Series.objects.get().instance_count == 41


def test_a_resent_series_is_reported_as_duplicates_with_one_lookup(
    project, django_assert_max_num_queries
):
    items = series_bytes(20)
    ingest_batch(project=project, items=items)
    with django_assert_max_num_queries(4):
        reports = ingest_batch(project=project, items=items)
    assert {r.outcome for r in reports} == {Outcome.DUPLICATE}
    assert {r.instance_id for r in reports} == set(Instance.objects.values_list("pk", flat=True))
    assert Series.objects.get().instance_count == 20


def test_an_instance_stored_by_another_ingest_meanwhile_is_reported_not_lost(
    project, settings, monkeypatch
):
    # Another ingest inserts one of the chunk's instances between the chunk's lookup of the
    # stored UIDs and its INSERT: the chunk is redone one instance at a time.
    from imaging import services

    items = series_bytes(4)
    (elsewhere,) = ingest_batch(project=project, items=items[2:3])
    real = services._stored
    monkeypatch.setattr(services, "_stored", lambda p, uids: {} if len(uids) > 1 else real(p, uids))
    reports = ingest_batch(project=project, items=items)
    assert [r.outcome for r in reports] == [
        Outcome.STORED, Outcome.STORED, Outcome.DUPLICATE, Outcome.STORED,
    ]  # fmt: skip
    assert reports[2].instance_id == elsewhere.instance_id
    assert Instance.objects.count() == 4
    assert Series.objects.get().instance_count == 4
    assert len(stored_files(settings)) == 4


def test_a_series_of_another_study_leaves_no_study_or_patient_behind(project, settings):
    ingest_batch(project=project, items=series_bytes(2))
    moved = ct_dataset(5, study="1.2.826.0.1.3680043.8.498.99", sop="1.2.3.4.99")
    moved.PatientID = "SOMEONE-ELSE"
    reports = ingest_batch(project=project, items=[("moved.dcm", to_bytes(moved))])
    assert reports[0].outcome == Outcome.REJECTED
    assert "another study" in reports[0].reason
    assert Study.objects.count() == 1
    assert Patient.objects.count() == 1
    assert len(stored_files(settings)) == 2  # no file for the refused instance


def test_a_conflict_with_a_stored_instance_keeps_no_file_of_its_own(project, settings):
    first = to_bytes(ct_dataset(0, sop="1.2.3.4.6"))
    ingest_batch(project=project, items=[("a", first), *series_bytes(2)[1:]])
    changed = ct_dataset(0, sop="1.2.3.4.6")
    changed.PatientName = "Someone^Else"
    reports = ingest_batch(project=project, items=[("b", to_bytes(changed)), ("a", first)])
    assert [r.outcome for r in reports] == [Outcome.CONFLICT, Outcome.DUPLICATE]
    assert len(stored_files(settings)) == 2
    with Instance.objects.get(sop_instance_uid="1.2.3.4.6").file.open("rb") as stored:
        assert stored.read() == first


@pytest.mark.parametrize(
    ("syntax", "reason"),
    [
        (None, "file meta has no valid TransferSyntaxUID"),
        ("1.2.x", "file meta has no valid TransferSyntaxUID"),
        ("1.2.840.10008.1.2.2", "Explicit VR Big Endian is retired and not accepted"),
        ("1.2.3.4", "transfer syntax 1.2.3.4 is not one this server knows"),
    ],
)
def test_a_missing_or_unknown_transfer_syntax_is_rejected(project, settings, syntax, reason):
    data = bytearray(to_bytes(ct_dataset(0)))
    at = data.index(b"\x02\x00\x10\x00UI")  # (0002,0010) UI, 2-byte length, value
    length = int.from_bytes(data[at + 6 : at + 8], "little")
    value = b"" if syntax is None else syntax.encode().ljust(length, b"\0")[:length]
    if syntax is None:  # the element renamed to a private one of the same shape
        data[at + 2 : at + 4] = b"\x11\x00"
    else:
        assert len(syntax) <= length
        data[at + 8 : at + 8 + length] = value
    assert reject(project, bytes(data)).startswith(reason)
    assert_nothing_written(settings)


def test_a_malformed_value_is_rejected_alone_and_in_a_pooled_batch(project, settings):
    ds = ct_dataset(0)
    ds.SmallestImagePixelValue = 0
    data = bytearray(to_bytes(ds))
    at = data.index(b"\x28\x00\x06\x01")  # (0028,0106) US or SS, 2 bytes
    assert data[at + 4 : at + 8] in (b"US\x02\x00", b"SS\x02\x00")
    data[at + 6 : at + 8] = b"\x03\x00"  # 3 bytes: not a whole number of unsigned shorts
    data.insert(at + 8, 0)
    assert reject(project, bytes(data)).startswith("file is malformed")
    reports = ingest_batch(project=project, items=[("bad.dcm", bytes(data)), *series_bytes(3)[1:]])
    assert [r.outcome for r in reports] == [Outcome.REJECTED, Outcome.STORED, Outcome.STORED]
    assert reports[0].reason.startswith("file is malformed")
