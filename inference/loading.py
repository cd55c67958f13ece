"""Loading a model version into a network, once per worker process."""

import hashlib
import logging
from functools import lru_cache

import torch
from django.conf import settings

from config.errors import PlatformError
from inference.models import ModelVersion
from inference.networks import NETWORKS
from inference.networks.base import Network

logger = logging.getLogger(__name__)


class WeightsInvalid(PlatformError):
    code = "weights_invalid"


def inference_device() -> torch.device:
    """CUDA when present (unless settings say otherwise), else CPU."""
    choice = settings.INFERENCE_DEVICE
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def load_network(model: ModelVersion) -> Network:
    """The ready network for `model`; weights are checked against the registry's checksum."""
    return _cached(model.pk, model.weights_sha256, str(inference_device()))


@lru_cache(maxsize=4)
def _cached(model_id: int, weights_sha256: str, device: str) -> Network:
    # Keyed by checksum too: re-registered weights never reuse a stale network.
    model = ModelVersion.objects.get(pk=model_id)
    weights: bytes | None = None
    if model.weights:
        with model.weights.open("rb") as stored:
            weights = stored.read()
        if hashlib.sha256(weights).hexdigest() != weights_sha256:
            raise WeightsInvalid(
                f"weights of {model} do not match their registered checksum; not loaded"
            )
    if model.architecture not in NETWORKS:
        raise WeightsInvalid(f"unknown architecture {model.architecture!r}")
    network = NETWORKS[model.architecture]()
    network.load(weights, dict(model.config), torch.device(device))
    logger.info("inference: loaded model %s on %s", model.pk, device)
    return network
