"""The DICOM JSON model (PS3.18 F) of one instance, as WADO-RS metadata serves it.

Most of a CT header's elements are plain values (codes, UIDs, dates, decimal strings, unsigned
shorts) that pydicom would convert to Python objects only for `to_json_dict` to convert them
back: half of ingesting a slice. Such a value, still raw as read from the file, is written
here straight from its bytes, but only where the result is certain to be pydicom's own (ASCII,
no padding inside, no empty value among several, well-formed numbers); any other element (a
sequence, a person's name in another character set, an unknown VR, a value converted already)
goes through pydicom. tests/test_dicomjson.py holds the two to the same output.
"""

import base64
import json
import re
import struct
from typing import Any

from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset

from imaging.parsing import PIXEL_DATA_TAG

# Several values split by backslashes; ASCII by definition (UI, DA, ...) or when it is ASCII.
STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DT", "LO", "SH", "TM", "UC", "UI"})
NUMBER_FORMATS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
BINARY_VRS = frozenset({"OB", "OD", "OF", "OL", "OV", "OW"})  # not UN: pydicom may re-read it
DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
INTEGER = re.compile(r"[+-]?\d+")
NAME_PART = re.compile(r"[^=]*")  # one component group only: no ideographic or phonetic form
FAST_VRS = STRING_VRS | NUMBER_FORMATS.keys() | BINARY_VRS | {"DS", "IS", "PN"}


def instance_path(project_id: int, study: str, series: str, sop: str) -> str:
    """The instance's WADO-RS path below the server root (BulkDataURIs are absolute paths)."""
    return f"/dicomweb/projects/{project_id}/studies/{study}/series/{series}/instances/{sop}"


def instance_metadata_json(dataset: Dataset, transfer_syntax: str, project_id: int) -> str:
    """Serialise once at ingest: metadata requests concatenate these strings, never re-encode.

    Reads every value but the pixel data (call it under parsing.reading_values()).
    """
    body: dict[str, Any] = {}
    for tag in dataset.keys():  # noqa: SIM118 - iterating a Dataset converts every element
        if tag == PIXEL_DATA_TAG:
            continue
        raw = dataset.get_item(tag)
        value = _from_raw(raw) if isinstance(raw, RawDataElement) else None
        if value is None:
            value = dataset[tag].to_json_dict(None, 1 << 30)
        body[f"{tag:08X}"] = value
    body["00020010"] = {"vr": "UI", "Value": [str(transfer_syntax)]}
    pixels = dataset.get(PIXEL_DATA_TAG)
    if pixels is not None:
        path = instance_path(
            project_id, dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID
        )
        body[f"{PIXEL_DATA_TAG:08X}"] = {
            "vr": "OB" if pixels.VR == "OB" else "OW",
            "BulkDataURI": f"{path}/bulkdata/7FE00010",
        }
    return json.dumps(dict(sorted(body.items())), separators=(",", ":"))


def _from_raw(element: RawDataElement) -> dict[str, Any] | None:
    """The element's DICOM JSON from its raw bytes; None where pydicom must say it."""
    vr, raw = element.VR, element.value
    if vr not in FAST_VRS or not element.is_little_endian:
        return None
    if not raw:
        return {"vr": vr}
    if vr in BINARY_VRS:
        return {"vr": vr, "InlineBinary": base64.b64encode(raw).decode("ascii")}
    if vr in NUMBER_FORMATS:
        size = struct.calcsize(NUMBER_FORMATS[vr])
        if len(raw) % size:
            return None  # malformed: pydicom refuses it with its own error
        values = list(struct.unpack(f"<{len(raw) // size}{NUMBER_FORMATS[vr]}", raw))
        return {"vr": vr, "Value": values}
    parts = _plain_parts(raw)
    if parts is None:
        return None
    if vr in STRING_VRS:
        return {"vr": vr, "Value": parts}
    if vr == "DS" and all(DECIMAL.fullmatch(p) for p in parts):
        return {"vr": vr, "Value": [float(p) for p in parts]}
    if vr == "IS" and all(INTEGER.fullmatch(p) for p in parts):
        return {"vr": vr, "Value": [int(p) for p in parts]}
    if vr == "PN" and all(NAME_PART.fullmatch(p) for p in parts):
        return {"vr": vr, "Value": [{"Alphabetic": p} for p in parts]}
    return None


def _plain_parts(raw: bytes) -> list[str] | None:
    """The backslash-separated values of a printable ASCII string (the same in every character
    set but ISO 2022's, whose escapes are not printable) with nothing to trim or to keep empty
    but its trailing padding; None for anything else."""
    if not raw.isascii():
        return None
    text = raw.decode("ascii").rstrip(" \0")
    if not text.isprintable():
        return None
    parts = text.split("\\")
    if any(not part or part != part.strip(" ") for part in parts):
        return None
    return parts
