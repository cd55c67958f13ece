"""The DICOM JSON model (PS3.18 F) of one instance, as WADO-RS metadata serves it."""

import json

from pydicom.dataset import Dataset

from imaging.parsing import PIXEL_DATA_TAG


def instance_path(project_id: int, study: str, series: str, sop: str) -> str:
    """The instance's WADO-RS path below the server root (BulkDataURIs are absolute paths)."""
    return f"/dicomweb/projects/{project_id}/studies/{study}/series/{series}/instances/{sop}"


def instance_metadata_json(dataset: Dataset, transfer_syntax: str, project_id: int) -> str:
    """Serialise once at ingest: metadata requests concatenate these strings, never re-encode."""
    pixels = dataset.get(PIXEL_DATA_TAG)
    without_pixels = Dataset({tag: el for tag, el in dataset.items() if tag != PIXEL_DATA_TAG})
    body = without_pixels.to_json_dict(bulk_data_threshold=1 << 30)
    body["00020010"] = {"vr": "UI", "Value": [str(transfer_syntax)]}
    if pixels is not None:
        path = instance_path(
            project_id, dataset.StudyInstanceUID, dataset.SeriesInstanceUID, dataset.SOPInstanceUID
        )
        body[f"{PIXEL_DATA_TAG:08X}"] = {
            "vr": "OB" if pixels.VR == "OB" else "OW",
            "BulkDataURI": f"{path}/bulkdata/7FE00010",
        }
    return json.dumps(dict(sorted(body.items())), separators=(",", ":"))
