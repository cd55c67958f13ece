"""The network plugin interface: a name, `load` (weights and plan) and `predict` (a volume).

A network takes a series' volume in HU on its own grid and returns a labelmap of that grid with
one finding per connected component; how it gets there (classical image processing, a U-Net,
resampling, crops) is its own business. Adding one is adding a module and a line in
`inference.networks.NETWORKS`.
"""

from dataclasses import MISSING, dataclass, fields
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import numpy as np
import torch

from config.errors import PlatformError
from inference.volume import Volume

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


class InvalidPlan(PlatformError):
    """A model's plan (its config) names an unknown setting or a value out of range."""

    code = "invalid_plan"


@dataclass(frozen=True, slots=True)
class Prediction:
    labelmap: np.ndarray  # uint8, the input volume's shape, 1 = nodule (segment index 1)
    findings: list[dict[str, Any]]  # one per connected component (inference.components.finding)
    uncertainty_map: np.ndarray | None  # float32, the input volume's shape, or None
    uncertainty: float | None  # one score for the series, or None


class Network(Protocol):
    name: str

    def load(self, weights: bytes | None, config: dict[str, Any], device: torch.device) -> None:
        """Take the plan (raises InvalidPlan) and the weights; after it `predict` may run."""
        ...

    def predict(self, volume: Volume) -> Prediction:
        """Segment the nodules of one series' volume."""
        ...


PlanT = TypeVar("PlanT", bound="DataclassInstance")


def plan_from_config(plan: type[PlanT], config: dict[str, Any]) -> PlanT:
    """The plan dataclass `plan` with each of its fields that `config` names taken from it, of
    its default's type (lists become tuples); keys it does not name are left for others (the
    trainer reads the same config). Raises InvalidPlan for a value of the wrong kind."""
    values: dict[str, object] = {}
    for field in fields(plan):
        if field.name not in config:
            continue
        default = field.default
        if default is MISSING:
            raise TypeError(f"plan field {field.name} needs a default")
        values[field.name] = _coerce(field.name, config[field.name], default)
    try:
        return plan(**values)
    except (TypeError, ValueError) as error:
        raise InvalidPlan(f"invalid plan: {error}") from None


def _coerce(name: str, value: object, default: object) -> object:
    """`value` as the type of `default`; InvalidPlan when it is not that kind of value."""
    try:
        if isinstance(default, bool) and isinstance(value, bool):
            return value
        if isinstance(default, tuple) and isinstance(value, list | tuple) and value:
            kind = type(default[0]) if default else float
            return tuple(_number(kind, v) for v in value)
        if isinstance(default, int | float) and not isinstance(default, bool):
            return _number(type(default), value)
        if isinstance(default, str) and isinstance(value, str):
            return value
    except (TypeError, ValueError):
        pass
    raise InvalidPlan(f"invalid plan: {name} must be like {default!r}, not {value!r}")


def _number(kind: type, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(value)
    if kind is int:
        if value != int(value):
            raise ValueError(value)
        return int(value)
    return float(value)
