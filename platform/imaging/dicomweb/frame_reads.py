"""Frame bytes out of stored files: as stored by byte range, or decoded by pydicom.

The stored bytes come from the ranges the ingest indexed (Instance.frame_index): a seek and a
read per range, no DICOM parsing. Only a client that wants a compressed frame decoded, or a
rendered image, pays for pydicom.
"""

import io
from collections.abc import Iterator, Sequence

import numpy as np
from django.core.files.storage import default_storage
from pydicom.pixels import pixel_array
from pydicom.uid import ExplicitVRLittleEndian, ImplicitVRLittleEndian

from imaging.models import Instance

# The columns a frame request needs: never the instance's JSON.
FRAME_FIELDS = (
    "pk",
    "file",
    "transfer_syntax_uid",
    "frame_index",
    "sha256",
    "number_of_frames",
    "rows",
    "columns",
    "samples_per_pixel",
    "bits_allocated",
)
READ_CHUNK = 1 << 20
NATIVE_LITTLE_ENDIAN = frozenset({ImplicitVRLittleEndian, ExplicitVRLittleEndian})


def _name(instance: Instance) -> str:
    name = instance.file.name
    assert name, f"instance {instance.pk} has no file"
    return name


def stored_size(instance: Instance, numbers: Sequence[int]) -> list[int]:
    """Bytes in each requested frame (1-based numbers) as stored."""
    return [sum(length for _, length in instance.frame_index[n - 1]) for n in numbers]


def stored_frames(instance: Instance, numbers: Sequence[int]) -> Iterator[bytes]:
    """Each requested frame as stored: the native bytes, or its fragments concatenated."""
    with default_storage.open(_name(instance), "rb") as stored:
        for number in numbers:
            chunks = []
            for offset, length in instance.frame_index[number - 1]:
                stored.seek(offset)
                chunks.append(stored.read(length))
            yield b"".join(chunks)


def decoded_pixels(
    instance: Instance, number: int, *, bits_stored: int | None = None, signed: bool = False
) -> np.ndarray:
    """Frame `number` (1-based) decoded to stored values, whatever the transfer syntax.

    Given BitsStored and PixelRepresentation, a native little-endian grayscale frame is read
    by its byte range alone, with pydicom's handling of the unused high bits; anything else
    is decoded by pydicom from the whole file.
    """
    if (
        bits_stored is not None
        and instance.transfer_syntax_uid in NATIVE_LITTLE_ENDIAN
        and instance.samples_per_pixel == 1
        and instance.bits_allocated in (8, 16, 32)
        and 0 < bits_stored <= instance.bits_allocated
    ):
        return _native_pixels(instance, number, bits_stored, signed)
    with default_storage.open(_name(instance), "rb") as stored:
        data = stored.read()
    return pixel_array(io.BytesIO(data), index=number - 1)


def _native_pixels(instance: Instance, number: int, bits_stored: int, signed: bool) -> np.ndarray:
    (frame,) = stored_frames(instance, [number])
    dtype = np.dtype(f"<{'i' if signed else 'u'}{instance.bits_allocated // 8}")
    pixels = np.frombuffer(frame, dtype=dtype).reshape(instance.rows, instance.columns).copy()
    shift = instance.bits_allocated - bits_stored
    if shift:  # as pydicom: unused bits cleared, or the sign extended from the stored top bit
        np.left_shift(pixels, shift, out=pixels)
        np.right_shift(pixels, shift, out=pixels)
    return pixels.astype(pixels.dtype.newbyteorder("="), copy=False)


def decoded_frames(instance: Instance, numbers: Sequence[int]) -> Iterator[bytes]:
    """Each requested frame decoded to native little-endian bytes (pixel-interleaved colour)."""
    with default_storage.open(_name(instance), "rb") as stored:
        data = stored.read()
    for number in numbers:
        pixels = pixel_array(io.BytesIO(data), index=number - 1)
        yield pixels.astype(pixels.dtype.newbyteorder("<"), copy=False).tobytes()


def file_chunks(name: str) -> Iterator[bytes]:
    """A stored file in chunks, so a series streams without being held in memory."""
    with default_storage.open(name, "rb") as stored:
        while chunk := stored.read(READ_CHUNK):
            yield chunk
