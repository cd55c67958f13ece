"""The networks a model version can name (`ModelVersion.architecture`), by name."""

from collections.abc import Callable

from inference.networks.base import InvalidPlan, Network, Prediction
from inference.networks.classical import ClassicalDetector
from inference.networks.unet import UNet3D

NETWORKS: dict[str, Callable[[], Network]] = {
    ClassicalDetector.name: ClassicalDetector,
    UNet3D.name: UNet3D,
}

__all__ = ["NETWORKS", "InvalidPlan", "Network", "Prediction"]
