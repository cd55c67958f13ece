"""The label schema of a project: segments drawn in the labelmap and attributes of each finding.

Stored as JSON on the project; this module is the one place that validates and reads it.
"""

import re
from dataclasses import asdict, dataclass
from typing import Any

from config.errors import PlatformError

HEX_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,63}$")
MAX_SEGMENTS = 255  # labelmaps are uint8 with 0 for background


class InvalidSchema(PlatformError):
    code = "invalid_schema"


@dataclass(frozen=True, slots=True)
class Code:
    """A coded concept (DICOM style: scheme designator, value, meaning), e.g. SCT 27925004."""

    scheme: str
    value: str
    meaning: str


@dataclass(frozen=True, slots=True)
class Segment:
    index: int
    name: str
    colour: str
    code: Code


@dataclass(frozen=True, slots=True)
class FindingAttribute:
    """An ordinal attribute of a finding; `choices` maps each allowed value to its label."""

    name: str
    label: str
    choices: dict[int, str]


@dataclass(frozen=True, slots=True)
class LabelSchema:
    segments: tuple[Segment, ...]
    attributes: tuple[FindingAttribute, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "segments": [asdict(s) for s in self.segments],
            "attributes": [
                {
                    "name": a.name,
                    "label": a.label,
                    "choices": {str(k): v for k, v in a.choices.items()},
                }
                for a in self.attributes
            ],
        }


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvalidSchema(message)


def parse_schema(data: Any) -> LabelSchema:
    """Validate a schema document; raises InvalidSchema naming the first problem found."""
    _require(isinstance(data, dict), "schema must be an object with segments and attributes")
    segments_in = data.get("segments")
    attributes_in = data.get("attributes", [])
    _require(isinstance(segments_in, list) and len(segments_in) > 0, "schema needs segments")
    _require(len(segments_in) <= MAX_SEGMENTS, f"at most {MAX_SEGMENTS} segments")
    _require(isinstance(attributes_in, list), "attributes must be a list")
    segments = tuple(_parse_segment(position, item) for position, item in enumerate(segments_in))
    attributes = tuple(_parse_attribute(item) for item in attributes_in)
    _require(len({s.index for s in segments}) == len(segments), "segment indexes must be unique")
    _require(len({s.name for s in segments}) == len(segments), "segment names must be unique")
    _require(len({a.name for a in attributes}) == len(attributes), "attribute names must be unique")
    return LabelSchema(segments=segments, attributes=attributes)


def _parse_segment(position: int, item: Any) -> Segment:
    _require(isinstance(item, dict), f"segment {position + 1} must be an object")
    index = item.get("index", position + 1)
    name = item.get("name")
    colour = item.get("colour")
    code = item.get("code")
    _require(
        isinstance(index, int) and 1 <= index <= MAX_SEGMENTS,
        f"segment {position + 1}: index must be 1-{MAX_SEGMENTS}",
    )
    _require(
        isinstance(name, str) and 0 < len(name.strip()) <= 64,
        f"segment {position + 1}: name is required (64 characters at most)",
    )
    _require(
        isinstance(colour, str) and bool(HEX_COLOUR.match(colour)),
        f"segment {name!r}: colour must look like #rrggbb",
    )
    _require(
        isinstance(code, dict)
        and all(
            isinstance(code.get(k), str) and code.get(k) for k in ("scheme", "value", "meaning")
        ),
        f"segment {name!r}: code needs scheme, value and meaning",
    )
    return Segment(
        index=index,
        name=name.strip(),
        colour=colour.lower(),
        code=Code(**{k: code[k] for k in ("scheme", "value", "meaning")}),
    )


def _parse_attribute(item: Any) -> FindingAttribute:
    _require(isinstance(item, dict), "each attribute must be an object")
    name = item.get("name")
    label = item.get("label", name)
    choices = item.get("choices")
    _require(
        isinstance(name, str) and bool(NAME.match(name)), f"attribute name {name!r} is invalid"
    )
    _require(isinstance(label, str) and len(label) <= 128, f"attribute {name}: label is invalid")
    _require(
        isinstance(choices, dict) and 0 < len(choices) <= 32,
        f"attribute {name}: choices must map 1-32 values to labels",
    )
    parsed: dict[int, str] = {}
    for key, text in choices.items():
        _require(
            str(key).isdigit() and isinstance(text, str), f"attribute {name}: bad choice {key!r}"
        )
        parsed[int(key)] = text
    return FindingAttribute(name=name, label=label, choices=parsed)


def _scale(*labels: str) -> dict[int, str]:
    return {value: label for value, label in enumerate(labels, start=1)}


# The nine nodule characteristics rated by the LIDC-IDRI readers, with the LIDC scales.
LIDC_ATTRIBUTES = (
    FindingAttribute(
        "subtlety",
        "Subtlety",
        _scale(
            "Extremely subtle",
            "Moderately subtle",
            "Fairly subtle",
            "Moderately obvious",
            "Obvious",
        ),
    ),
    FindingAttribute(
        "internalStructure", "Internal structure", _scale("Soft tissue", "Fluid", "Fat", "Air")
    ),
    FindingAttribute(
        "calcification",
        "Calcification",
        _scale("Popcorn", "Laminated", "Solid", "Non-central", "Central", "Absent"),
    ),
    FindingAttribute("sphericity", "Sphericity", _scale("Linear", "2", "Ovoid", "4", "Round")),
    FindingAttribute("margin", "Margin", _scale("Poorly defined", "2", "3", "4", "Sharp")),
    FindingAttribute("lobulation", "Lobulation", _scale("None", "2", "3", "4", "Marked")),
    FindingAttribute("spiculation", "Spiculation", _scale("None", "2", "3", "4", "Marked")),
    FindingAttribute(
        "texture", "Texture", _scale("Non-solid / GGO", "2", "Part solid / mixed", "4", "Solid")
    ),
    FindingAttribute(
        "malignancy",
        "Malignancy",
        _scale(
            "Highly unlikely",
            "Moderately unlikely",
            "Indeterminate",
            "Moderately suspicious",
            "Highly suspicious",
        ),
    ),
)

LIDC_SCHEMA = LabelSchema(
    segments=(Segment(1, "Nodule", "#e6553a", Code("SCT", "27925004", "Nodule")),),
    attributes=LIDC_ATTRIBUTES,
)


def default_schema() -> dict[str, Any]:
    """The schema a new project starts with: one nodule segment and the LIDC characteristics."""
    return LIDC_SCHEMA.to_json()
