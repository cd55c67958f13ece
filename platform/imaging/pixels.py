"""Pixel values of one stored frame, in modality units (HU for CT), for thumbnails and rendering."""

import json

import numpy as np

from imaging.dicomweb.frame_reads import decoded_pixels
from imaging.models import Instance


def _tag(metadata: dict[str, dict[str, list[object]]], tag: str, default: float) -> float:
    values = metadata.get(tag, {}).get("Value")
    return float(values[0]) if values else default  # type: ignore[arg-type]


def frame_values(instance: Instance, frame: int = 1) -> np.ndarray:
    """Frame `frame` (1-based) as float32 rows x columns, slope and intercept applied."""
    metadata = json.loads(instance.metadata_json)
    slope = _tag(metadata, "00281053", 1.0)
    intercept = _tag(metadata, "00281052", 0.0)
    # The same reader as WADO-RS rendering: native frames by byte range with the unused high
    # bits handled as pydicom does, anything else decoded by pydicom.
    raw = decoded_pixels(
        instance,
        frame,
        bits_stored=int(_tag(metadata, "00280101", instance.bits_allocated)),
        signed=_tag(metadata, "00280103", 0.0) == 1.0,
    )
    return raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)


def windowed(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map values to 0-255 with a linear window (PS3.3 C.11.2.1.2, simplified)."""
    low = center - width / 2
    scaled = (values - low) / max(width, 1e-6) * 255.0
    return np.clip(scaled, 0, 255).astype(np.uint8)
