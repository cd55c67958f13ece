"""The label schema: the LIDC default and validation of edited schemas."""

import pytest

from projects.schema import InvalidSchema, default_schema, parse_schema


def test_default_schema_has_a_nodule_segment_and_the_nine_lidc_characteristics():
    schema = parse_schema(default_schema())
    assert [s.name for s in schema.segments] == ["Nodule"]
    assert [a.name for a in schema.attributes] == [
        "subtlety", "internalStructure", "calcification", "sphericity", "margin",
        "lobulation", "spiculation", "texture", "malignancy",
    ]  # fmt: skip
    calcification = next(a for a in schema.attributes if a.name == "calcification")
    assert sorted(calcification.choices) == [1, 2, 3, 4, 5, 6]


def test_schema_round_trips_through_json():
    schema = parse_schema(default_schema())
    assert parse_schema(schema.to_json()) == schema


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"segments": []}, "schema needs segments"),
        ({"segments": [{"name": "", "colour": "#ffffff", "code": {}}]}, "name is required"),
        (
            {"segments": [{"name": "A", "colour": "#fff", "code": {}}]},
            "colour must look like #rrggbb",
        ),
        (
            {"segments": [{"name": "A", "colour": "#ffffff", "code": {"scheme": "SCT"}}]},
            "code needs scheme, value and meaning",
        ),
        ({"attributes": [{"name": "bad name", "choices": {"1": "a"}}]}, "is invalid"),
        ({"attributes": [{"name": "ok", "choices": {"x": "a"}}]}, "bad choice"),
    ],
)
def test_invalid_schemas_are_refused_naming_the_problem(change, message):
    with pytest.raises(InvalidSchema, match=message):
        parse_schema({**default_schema(), **change})


def test_duplicate_segment_names_are_refused():
    segment = {
        "name": "Nodule",
        "colour": "#ff0000",
        "code": default_schema()["segments"][0]["code"],
    }
    with pytest.raises(InvalidSchema, match="segment names must be unique"):
        parse_schema({"segments": [segment, {**segment, "index": 2}]})
