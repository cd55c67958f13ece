"""Findings saved with a revision: one per nodule, validated against the project's schema."""

import math
from typing import Any

from annotations.errors import GridMismatch
from annotations.labelmaps import LabelmapHeader
from config.errors import PlatformError
from projects.schema import parse_schema

MAX_FINDINGS = 500
MAX_COMMENT = 4000


class InvalidFindings(PlatformError):
    code = "invalid_findings"


def validate_findings(
    findings: Any, schema_json: dict[str, Any], grid: LabelmapHeader
) -> list[dict[str, Any]]:
    """Check shape and values; returns the findings as stored. Raises InvalidFindings."""
    if not isinstance(findings, list):
        raise InvalidFindings("findings must be a list")
    if len(findings) > MAX_FINDINGS:
        raise InvalidFindings(f"at most {MAX_FINDINGS} findings per revision")
    schema = parse_schema(schema_json)
    segments = {segment.index for segment in schema.segments}
    choices = {attribute.name: attribute.choices for attribute in schema.attributes}
    return [_finding(i, item, segments, choices, grid) for i, item in enumerate(findings)]


def _finding(
    position: int,
    item: Any,
    segments: set[int],
    choices: dict[str, dict[int, str]],
    header: LabelmapHeader,
) -> dict[str, Any]:
    where = f"finding {position + 1}"
    if not isinstance(item, dict):
        raise InvalidFindings(f"{where} must be an object")
    segment = item.get("segment")
    if segment not in segments:
        raise InvalidFindings(f"{where}: segment {segment!r} is not in the project schema")
    attributes = item.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise InvalidFindings(f"{where}: attributes must be an object")
    for name, value in attributes.items():
        if name not in choices:
            raise InvalidFindings(f"{where}: {name!r} is not an attribute of the project schema")
        if value is not None and value not in choices[name]:
            raise InvalidFindings(f"{where}: {value!r} is not a choice of {name}")
    centroid_voxel = item.get("centroid_voxel")
    if centroid_voxel is not None and (
        not _numbers(centroid_voxel, 3)
        or not all(0 <= c < n for c, n in zip(centroid_voxel, header.shape, strict=True))
    ):
        raise GridMismatch(f"{where}: centroid_voxel lies outside the labelmap")
    for key in ("volume_mm3", "long_axis_mm", "confidence"):
        value = item.get(key)
        if value is not None and not _numbers([value], 1):
            raise InvalidFindings(f"{where}: {key} must be a finite number")
    comments = item.get("comments") or []
    if not isinstance(comments, list) or any(
        not isinstance(c, dict) or len(str(c.get("text", ""))) > MAX_COMMENT for c in comments
    ):
        raise InvalidFindings(f"{where}: comments must be objects with text")
    return {
        "id": str(item.get("id") or f"finding-{position + 1}")[:64],
        "segment": segment,
        "voxel_count": int(item.get("voxel_count") or 0),
        "volume_mm3": item.get("volume_mm3"),
        "long_axis_mm": item.get("long_axis_mm"),
        "centroid_mm": item.get("centroid_mm"),
        "centroid_voxel": centroid_voxel,
        "attributes": attributes,
        "confidence": item.get("confidence"),
        "comments": comments,
    }


def _numbers(values: Any, count: int) -> bool:
    return (
        isinstance(values, list)
        and len(values) == count
        and all(isinstance(v, int | float) and math.isfinite(v) for v in values)
    )
