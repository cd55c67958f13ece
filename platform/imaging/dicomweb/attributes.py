"""The attributes QIDO-RS matches on and returns, each tied to the column that holds it.

Searches are answered from these columns, never by parsing DICOM: one table says which tag
lives where, how it is matched and at which level of the hierarchy it belongs.
"""

import re
from dataclasses import dataclass
from enum import Enum, IntEnum
from typing import Any

from pydicom.datadict import dictionary_VR, keyword_for_tag, tag_for_keyword


class Level(IntEnum):
    STUDY = 0
    SERIES = 1
    INSTANCE = 2


class Match(Enum):
    UID = "uid"  # list of UIDs, comma or backslash separated
    TEXT = "text"  # single value, * and ? wildcards, case-sensitive
    PERSON_NAME = "person_name"  # like TEXT but case-insensitive
    CODE = "code"  # one or more code strings, exact
    DATE = "date"  # YYYYMMDD or a range with either end open
    INTEGER = "integer"
    MODALITIES = "modalities"  # any series of the study has one of the modalities
    NONE = "none"  # returned, never matched (computed values)


@dataclass(frozen=True, slots=True)
class Attribute:
    keyword: str
    tag: str  # eight upper-case hex digits, as DICOM JSON keys them
    vr: str
    level: Level
    field: str  # path from the level's model; "" when computed by the query
    match: Match


def _attribute(keyword: str, level: Level, field: str, match: Match) -> Attribute:
    tag = tag_for_keyword(keyword)
    assert tag is not None, keyword
    vr = dictionary_VR(tag)
    return Attribute(keyword, f"{tag:08X}", vr, level, field, match)


S, SE, IN = Level.STUDY, Level.SERIES, Level.INSTANCE
ATTRIBUTES: tuple[Attribute, ...] = (
    _attribute("StudyInstanceUID", S, "study_instance_uid", Match.UID),
    _attribute("StudyDate", S, "study_date", Match.DATE),
    _attribute("StudyTime", S, "study_time", Match.TEXT),
    _attribute("AccessionNumber", S, "accession_number", Match.TEXT),
    _attribute("ModalitiesInStudy", S, "modalities", Match.MODALITIES),
    _attribute("ReferringPhysicianName", S, "referring_physician_name", Match.PERSON_NAME),
    _attribute("StudyDescription", S, "description", Match.TEXT),
    _attribute("StudyID", S, "study_id", Match.TEXT),
    _attribute("PatientName", S, "patient__patient_name", Match.PERSON_NAME),
    _attribute("PatientID", S, "patient__patient_id", Match.TEXT),
    _attribute("PatientBirthDate", S, "patient__birth_date", Match.DATE),
    _attribute("PatientSex", S, "patient__sex", Match.CODE),
    _attribute("NumberOfStudyRelatedSeries", S, "", Match.NONE),
    _attribute("NumberOfStudyRelatedInstances", S, "", Match.NONE),
    _attribute("SeriesInstanceUID", SE, "series_instance_uid", Match.UID),
    _attribute("Modality", SE, "modality", Match.CODE),
    _attribute("SeriesDescription", SE, "description", Match.TEXT),
    _attribute("SeriesNumber", SE, "series_number", Match.INTEGER),
    _attribute("BodyPartExamined", SE, "body_part", Match.CODE),
    _attribute("NumberOfSeriesRelatedInstances", SE, "", Match.NONE),
    _attribute("SOPInstanceUID", IN, "sop_instance_uid", Match.UID),
    _attribute("SOPClassUID", IN, "sop_class_uid", Match.UID),
    _attribute("InstanceNumber", IN, "instance_number", Match.INTEGER),
    _attribute("Rows", IN, "rows", Match.INTEGER),
    _attribute("Columns", IN, "columns", Match.INTEGER),
    _attribute("BitsAllocated", IN, "bits_allocated", Match.INTEGER),
    _attribute("NumberOfFrames", IN, "number_of_frames", Match.INTEGER),
    _attribute("AvailableTransferSyntaxUID", IN, "transfer_syntax_uid", Match.UID),
)
BY_TAG: dict[str, Attribute] = {a.tag: a for a in ATTRIBUTES}

# Returned with every result of the level (PS3.18 Tables 10.6.3-3 to 10.6.3-5), besides the
# matching keys and include fields.
DEFAULTS: dict[Level, tuple[str, ...]] = {
    Level.STUDY: (
        "StudyDate", "StudyTime", "AccessionNumber", "ModalitiesInStudy",
        "ReferringPhysicianName", "StudyDescription", "PatientName", "PatientID",
        "PatientBirthDate", "PatientSex", "StudyInstanceUID", "StudyID",
        "NumberOfStudyRelatedSeries", "NumberOfStudyRelatedInstances",
    ),
    Level.SERIES: (
        "Modality", "SeriesDescription", "SeriesInstanceUID", "SeriesNumber",
        "NumberOfSeriesRelatedInstances",
    ),
    Level.INSTANCE: (
        "SOPClassUID", "SOPInstanceUID", "InstanceNumber", "Rows", "Columns", "BitsAllocated",
        "NumberOfFrames", "AvailableTransferSyntaxUID",
    ),
}  # fmt: skip

# How to reach a level's columns from the model of a query level.
PREFIX: dict[tuple[Level, Level], str] = {
    (Level.STUDY, Level.STUDY): "",
    (Level.STUDY, Level.SERIES): "study__",
    (Level.STUDY, Level.INSTANCE): "series__study__",
    (Level.SERIES, Level.SERIES): "",
    (Level.SERIES, Level.INSTANCE): "series__",
    (Level.INSTANCE, Level.INSTANCE): "",
}

HEX_TAG = re.compile(r"^[0-9A-Fa-f]{8}$")


class UnknownAttribute(ValueError):
    pass


def tag_of(name: str) -> str:
    """The DICOM JSON key for a keyword or an eight-digit hex tag; UnknownAttribute if neither."""
    if HEX_TAG.match(name):
        return name.upper()
    tag = tag_for_keyword(name)
    if tag is None:
        raise UnknownAttribute(name)
    return f"{tag:08X}"


def keyword_of(tag: str) -> str:
    return keyword_for_tag(int(tag, 16)) or tag


def by_keyword(keyword: str) -> Attribute:
    return BY_TAG[tag_of(keyword)]


def element(vr: str, value: Any) -> dict[str, Any]:
    """One DICOM JSON element; empty values become an element without "Value"."""
    if value is None or value == "":
        return {"vr": vr}
    if vr == "PN":
        return {"vr": vr, "Value": [{"Alphabetic": str(value)}]}
    if vr in ("IS", "US", "UL", "SS", "SL"):
        return {"vr": vr, "Value": [int(value)]}
    if vr == "CS" and isinstance(value, str) and "\\" in value:
        return {"vr": vr, "Value": [v for v in value.split("\\") if v]}
    return {"vr": vr, "Value": [value]}
