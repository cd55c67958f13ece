"""unet3d: a MONAI 3D U-Net segmenting nodules (class 1) from background (class 0).

Everything that shapes it comes from the plan (`UNetPlan`, the model version's config): the
input spacing and HU window, the architecture, the sliding-window patch, the threshold, and the
uncertainty passes. The trainer reads the same plan, so a model is run as it was trained.

predict: lung-field crop, clip and normalise, resample to the plan's spacing, sliding-window
inference, softmax; the probability of class 1 is brought back onto the series' grid (trilinear,
then pasted into the full grid) and thresholded there, so the labelmap's edges follow the
series' grid rather than the coarser input's. Each 26-connected component is a finding whose
confidence is its mean probability.

Uncertainty, when the plan asks for it: `tta` averages the passes over the input as it is and
flipped along each axis, `mc_dropout` makes each of those that many passes with dropout left on
(both: flips x repeats). The uncertainty map is the variance of the class-1 probability across
the passes, and the series' uncertainty its mean over the predicted voxels (over the lung field
when nothing is predicted).
"""

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from monai.inferers import sliding_window_inference
from monai.networks.nets import UNet

from inference import components as cc
from inference.networks.base import InvalidPlan, Prediction, plan_from_config
from inference.preprocess import (
    HU_HIGH,
    HU_LOW,
    Crop,
    lung_field_crop,
    normalise,
    resample,
    resample_map_back,
)
from inference.volume import Volume

DROPOUT = (torch.nn.Dropout, torch.nn.Dropout1d, torch.nn.Dropout2d, torch.nn.Dropout3d)


@dataclass(frozen=True, slots=True)
class UNetPlan:
    spacing: tuple[float, ...] = (2.5, 1.4, 1.4)  # mm: the network's input grid
    hu_low: float = HU_LOW
    hu_high: float = HU_HIGH
    crop: bool = True  # to the lung field, with a margin
    crop_margin_mm: float = 10.0
    channels: tuple[int, ...] = (8, 16, 32, 64)
    strides: tuple[int, ...] = (2, 2, 2)
    num_res_units: int = 1
    dropout: float = 0.0
    patch_size: tuple[int, ...] = (48, 128, 128)  # slices, rows, columns
    overlap: float = 0.25
    sw_batch_size: int = 2
    blend: str = "gaussian"  # or "constant"
    threshold: float = 0.5  # on the probability of class 1
    min_volume_mm3: float = 10.0  # smaller components are dropped (about a 2.7 mm sphere)
    max_findings: int = 50  # the most confident components are kept
    tta: bool = False
    mc_dropout: int = 0  # passes with dropout on; 0 = off
    seed: int = 0  # of the random weights when none are given
    cpu_threads: int = 0  # 0 = every CPU this process may run on

    def __post_init__(self) -> None:
        if len(self.spacing) != 3 or any(s <= 0 for s in self.spacing):
            raise ValueError("spacing must be three positive numbers (mm)")
        if len(self.channels) < 2 or len(self.strides) != len(self.channels) - 1:
            raise ValueError("strides must have one entry fewer than channels (at least two)")
        if any(c <= 0 for c in self.channels) or any(s <= 0 for s in self.strides):
            raise ValueError("channels and strides must be positive")
        reduction = int(np.prod(self.strides))
        if len(self.patch_size) != 3 or any(p <= 0 or p % reduction for p in self.patch_size):
            raise ValueError(f"patch_size must be three multiples of {reduction}")
        if not 0 <= self.overlap < 1 or not 0 <= self.dropout < 1:
            raise ValueError("overlap and dropout must be in [0, 1)")
        if not 0 < self.threshold < 1:
            raise ValueError("threshold must be in (0, 1)")
        if self.blend not in ("gaussian", "constant"):
            raise ValueError("blend must be gaussian or constant")
        if self.mc_dropout < 0 or (self.mc_dropout and self.dropout == 0):
            raise ValueError("mc_dropout needs dropout > 0 (and must not be negative)")
        if self.sw_batch_size < 1 or self.max_findings < 0 or self.cpu_threads < 0:
            raise ValueError("sw_batch_size must be positive, max_findings and cpu_threads not")
        if self.hu_low >= self.hu_high:
            raise ValueError("hu_low must be below hu_high")


def build(plan: UNetPlan) -> UNet:
    """The network the plan describes (its weights as the seed-free default init)."""
    return UNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=2,
        channels=plan.channels,
        strides=plan.strides,
        num_res_units=plan.num_res_units,
        dropout=plan.dropout,
    )


def random_weights(config: dict[str, Any], seed: int = 0) -> bytes:
    """A state_dict of the plan's network with seeded random weights, serialised as
    `load` reads it: for tests and demos, never for labels anyone should trust."""
    plan = plan_from_config(UNetPlan, config)
    buffer = io.BytesIO()
    torch.save(_seeded(plan, seed).state_dict(), buffer)
    return buffer.getvalue()


def _seeded(plan: UNetPlan, seed: int) -> UNet:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build(plan)


class UNet3D:
    name = "unet3d"

    def __init__(self) -> None:
        self.plan = UNetPlan()
        self.device = torch.device("cpu")
        self.model: UNet | None = None

    def load(self, weights: bytes | None, config: dict[str, Any], device: torch.device) -> None:
        plan = plan_from_config(UNetPlan, config)
        if weights is None:
            model = _seeded(plan, plan.seed)
        else:
            model = build(plan)
            try:
                state = torch.load(io.BytesIO(weights), map_location="cpu", weights_only=True)
                model.load_state_dict(state)
            except (RuntimeError, KeyError, TypeError, EOFError, ValueError) as error:
                raise InvalidPlan(
                    f"the weights do not fit the plan's network: {str(error)[:300]}"
                ) from None
        if device.type == "cpu":
            torch.set_num_threads(plan.cpu_threads or len(os.sched_getaffinity(0)))
        self.plan, self.device, self.model = plan, device, model.to(device).eval()

    def predict(self, volume: Volume) -> Prediction:
        if self.model is None:
            raise RuntimeError("unet3d must be loaded before it predicts")
        plan = self.plan
        if plan.crop:
            field, crop = lung_field_crop(volume, margin_mm=plan.crop_margin_mm)
        else:
            field, crop = volume, _whole(volume)
        grid, _ = resample(field, plan.spacing)
        image = torch.from_numpy(normalise(grid.voxels, plan.hu_low, plan.hu_high))
        with torch.inference_mode():
            passes = self._passes(image[None, None].to(self.device))
            stack = torch.stack(passes)
            probability = stack.mean(dim=0).cpu().numpy()
            variance = stack.var(dim=0, unbiased=False).cpu().numpy() if len(passes) > 1 else None
        probability = crop.paste(resample_map_back(probability, field.voxels.shape))
        labelmap, findings = _findings(volume, probability, plan)
        if variance is None:
            return Prediction(labelmap, findings, uncertainty_map=None, uncertainty=None)
        uncertainty_map = crop.paste(resample_map_back(variance, field.voxels.shape))
        where = labelmap > 0
        if not where.any():  # nothing predicted: how unsure it is about the whole lung field
            where = crop.paste(np.ones(field.voxels.shape, dtype=bool))
        return Prediction(
            labelmap=labelmap,
            findings=findings,
            uncertainty_map=np.maximum(uncertainty_map, 0.0).astype(np.float32),
            uncertainty=float(uncertainty_map[where].mean()),
        )

    def _passes(self, image: torch.Tensor) -> list[torch.Tensor]:
        """The class-1 probability (the input grid, D x H x W) of each pass the plan asks for:
        one, or one per flip (`tta`), each repeated `mc_dropout` times with dropout on."""
        plan = self.plan
        assert self.model is not None
        model = self.model
        flips: list[list[int]] = [[]]
        if plan.tta:
            flips += [[2], [3], [4]]  # slices, rows, columns of a (batch, channel, ...) tensor
        dropouts = [m for m in model.modules() if isinstance(m, DROPOUT)] if plan.mc_dropout else []
        for dropout in dropouts:  # only dropout: normalisation stays as in evaluation
            dropout.train()
        try:
            passes = []
            for dims in flips:
                for _ in range(plan.mc_dropout or 1):
                    probability = self._infer(torch.flip(image, dims) if dims else image, model)
                    passes.append(
                        torch.flip(probability, [d - 2 for d in dims]) if dims else probability
                    )
            return passes
        finally:
            for dropout in dropouts:
                dropout.eval()

    def _infer(
        self, image: torch.Tensor, model: Callable[[torch.Tensor], torch.Tensor]
    ) -> torch.Tensor:
        plan = self.plan
        logits = sliding_window_inference(
            inputs=image,
            roi_size=plan.patch_size,
            sw_batch_size=plan.sw_batch_size,
            predictor=model,
            overlap=plan.overlap,
            mode=plan.blend,
        )
        assert isinstance(logits, torch.Tensor)
        return torch.softmax(logits, dim=1)[0, 1]


def _whole(volume: Volume) -> Crop:
    a, b, c = volume.voxels.shape
    return Crop(slices=(slice(0, a), slice(0, b), slice(0, c)), original_shape=(a, b, c))


def _findings(
    volume: Volume, probability: np.ndarray, plan: UNetPlan
) -> tuple[np.ndarray, list[dict[str, Any]]]:
    """The labelmap (uint8) and findings of a probability map on the series' grid: components
    above the threshold, without the specks, the most confident `max_findings` of them."""
    labels, count = cc.connected_components(probability >= plan.threshold)
    if count == 0:
        return np.zeros(labels.shape, dtype=np.uint8), []
    voxel_mm3 = float(np.prod(volume.spacing))
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:] * voxel_mm3
    confidence = cc.mean_per_component(probability, labels, count)
    kept = [int(n) + 1 for n in np.flatnonzero(sizes >= plan.min_volume_mm3)]
    kept.sort(key=lambda label: confidence[label - 1], reverse=True)
    kept = kept[: plan.max_findings]
    labels = cc.relabel(labels, kept)
    measured = cc.measure(labels, volume)
    findings = cc.findings(measured, [confidence[label - 1] for label in kept])
    return (labels > 0).astype(np.uint8), findings
