"""Pixel values of one stored frame, in modality units (HU for CT), for thumbnails and rendering."""

import io
import json

import numpy as np
import pydicom
from pydicom.uid import UID

from imaging.models import Instance


def _tag(metadata: dict[str, dict[str, list[object]]], tag: str, default: float) -> float:
    values = metadata.get(tag, {}).get("Value")
    return float(values[0]) if values else default  # type: ignore[arg-type]


def frame_values(instance: Instance, frame: int = 1) -> np.ndarray:
    """Frame `frame` (1-based) as float32 rows x columns, slope and intercept applied."""
    metadata = json.loads(instance.metadata_json)
    slope = _tag(metadata, "00281053", 1.0)
    intercept = _tag(metadata, "00281052", 0.0)
    signed = _tag(metadata, "00280103", 0.0) == 1.0
    if UID(instance.transfer_syntax_uid).is_compressed:
        with instance.file.open("rb") as stored:
            dataset = pydicom.dcmread(io.BytesIO(stored.read()))
        pixels = dataset.pixel_array
        raw = pixels[frame - 1] if instance.number_of_frames > 1 else pixels
    else:
        raw = _native_frame(instance, frame, signed)
    return raw.astype(np.float32) * np.float32(slope) + np.float32(intercept)


def _native_frame(instance: Instance, frame: int, signed: bool) -> np.ndarray:
    (offset, length), *_ = instance.frame_index[frame - 1]
    with instance.file.open("rb") as stored:
        stored.seek(offset)
        data = stored.read(length)
    kind = "i" if signed else "u"
    dtype = np.dtype(f"<{kind}{max(instance.bits_allocated, 8) // 8}")
    shape: tuple[int, ...] = (instance.rows, instance.columns)
    if instance.samples_per_pixel > 1:
        shape = (*shape, instance.samples_per_pixel)
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def windowed(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """Map values to 0-255 with a linear window (PS3.3 C.11.2.1.2, simplified)."""
    low = center - width / 2
    scaled = (values - low) / max(width, 1e-6) * 255.0
    return np.clip(scaled, 0, 255).astype(np.uint8)
