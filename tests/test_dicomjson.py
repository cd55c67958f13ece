"""The instance DICOM JSON written at ingest is pydicom's own, element for element, whether a
value is written from its raw bytes or converted by pydicom."""

import io
import json
from pathlib import Path

import pydicom
import pytest
from pydicom.dataset import Dataset

from imaging.dicomjson import instance_metadata_json
from imaging.parsing import PIXEL_DATA_TAG
from tests.dicom_factory import ct_dataset, to_bytes

LIDC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lidc"


def pydicom_json(data: bytes) -> dict:
    dataset = pydicom.dcmread(io.BytesIO(data))
    without_pixels = Dataset({t: e for t, e in dataset.items() if t != PIXEL_DATA_TAG})
    return without_pixels.to_json_dict(bulk_data_threshold=1 << 30)


def ours(data: bytes) -> dict:
    body = json.loads(instance_metadata_json(pydicom.dcmread(io.BytesIO(data)), "1.2.3", 1))
    body.pop("00020010")  # the transfer syntax served, added on top
    body.pop("7FE00010", None)  # a BulkDataURI, not inline
    return body


def test_every_lidc_instance_is_written_as_pydicom_writes_it():
    files = sorted(LIDC.rglob("*.dcm"))
    assert len(files) > 200
    for path in files:
        data = path.read_bytes()
        assert ours(data) == pydicom_json(data), path.name


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("StudyDescription", " leading space"),  # kept by pydicom: not written from raw
        ("ImageType", "ORIGINAL\\\\AXIAL"),  # an empty value among several
        ("PatientName", "Yamada^Tarou=山田^太郎=やまだ^たろう"),  # other forms, other charset
        ("SliceThickness", "1e1"),
        ("SliceThickness", " 2.5"),
        ("InstanceNumber", "+7"),
        ("ImagePositionPatient", "-1.5\\.5\\3."),
        ("StationName", "A\\B\\C"),
        ("AccessionNumber", "\x1b$B"),  # an ISO 2022 escape: not printable
        ("ReferringPhysicianName", "Doe^John\\Roe^Jane"),
        ("PatientAge", ""),
    ],
)
def test_unusual_values_are_written_as_pydicom_writes_them(keyword, value):
    dataset = ct_dataset(0)
    if keyword == "PatientName":
        dataset.SpecificCharacterSet = ["", "ISO 2022 IR 87"]
    setattr(dataset, keyword, value)
    data = to_bytes(dataset)
    assert ours(data) == pydicom_json(data)


def test_the_plain_values_of_a_ct_header_are_written_from_their_bytes():
    from pydicom.dataelem import RawDataElement

    from imaging.dicomjson import _from_raw

    data = next(LIDC.rglob("*.dcm")).read_bytes()
    raw = [pydicom.dcmread(io.BytesIO(data)).get_item(tag) for tag in pydicom_json(data)]
    written = [e for e in raw if isinstance(e, RawDataElement) and _from_raw(e) is not None]
    assert len(written) >= 0.9 * len(raw)
