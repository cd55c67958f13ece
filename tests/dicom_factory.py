"""Small synthetic CT instances (phantoms) for fast ingest tests: a sphere in a noisy volume."""

import io

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import UID, CTImageStorage, ExplicitVRLittleEndian, generate_uid

STUDY = "1.2.826.0.1.3680043.8.498.1"
SERIES = "1.2.826.0.1.3680043.8.498.2"


def ct_dataset(
    index: int = 0,
    *,
    size: int = 32,
    study: str = STUDY,
    series: str = SERIES,
    sop: str | None = None,
    spacing: float = 2.5,
    orientation: tuple[float, ...] = (1, 0, 0, 0, 1, 0),
    patient_name: str = "Doe^Jane",
) -> Dataset:
    """Slice `index` of a phantom: a sphere of +100 HU in -800 HU lung, with some noise."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = CTImageStorage
    meta.MediaStorageSOPInstanceUID = UID(sop) if sop else generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = CTImageStorage
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID = study, series
    ds.FrameOfReferenceUID = "1.2.826.0.1.3680043.8.498.3"
    ds.PatientName, ds.PatientID = patient_name, "PHANTOM-1"
    ds.PatientBirthDate, ds.PatientSex = "19600101", "F"
    ds.StudyDate, ds.StudyTime, ds.AccessionNumber = "20240102", "101500", "ACC123"
    ds.InstitutionName, ds.ReferringPhysicianName = "General Hospital", "House^Greg"
    ds.StudyDescription, ds.SeriesDescription = "Chest CT", "Lung 2.5mm"
    ds.Modality, ds.SeriesNumber, ds.InstanceNumber = "CT", 1, index + 1
    ds.ImagePositionPatient = [0.0, 0.0, index * spacing]
    ds.ImageOrientationPatient = list(orientation)
    ds.PixelSpacing, ds.SliceThickness = [1.0, 1.0], spacing
    ds.Rows = ds.Columns = size
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.add_new(0x00091010, "LO", "private vendor data")
    ds.add_new(0x00090010, "LO", "ACME")
    ds.PixelData = phantom_slice(index, size).tobytes()
    return ds


def phantom_slice(index: int, size: int = 32, slices: int = 16) -> np.ndarray:
    """Air around a soft-tissue body holding two lungs; a 12 mm nodule in the right lung."""
    rng = np.random.default_rng(index)
    y, x = np.mgrid[:size, :size] / size  # 0..1 across the image
    body = ((x - 0.5) / 0.46) ** 2 + ((y - 0.5) / 0.40) ** 2 < 1
    right = ((x - 0.3) / 0.15) ** 2 + ((y - 0.5) / 0.28) ** 2 < 1
    left = ((x - 0.7) / 0.15) ** 2 + ((y - 0.5) / 0.28) ** 2 < 1
    values = np.full((size, size), -1000.0)
    values[body] = 40
    values[right | left] = -850
    z_mm = (index - slices / 2) * 2.5
    pixel_mm = 1.0
    radius_mm = 6.0
    nodule = ((x - 0.3) * size * pixel_mm) ** 2 + ((y - 0.5) * size * pixel_mm) ** 2 + z_mm**2
    values[nodule < radius_mm**2] = 30
    values += rng.integers(-15, 15, (size, size))
    return values.astype("<i2")


def to_bytes(ds: Dataset, *, file_format: bool = True) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=file_format, implicit_vr=False, little_endian=True)
    return out.getvalue()


def series_bytes(count: int = 16, **kwargs: object) -> list[tuple[str, bytes]]:
    return [
        (f"slice-{i:03}.dcm", to_bytes(ct_dataset(i, **kwargs)))  # type: ignore[arg-type]
        for i in range(count)
    ]
