"""WADO-RS rendered frames (PS3.18 8.3.5 and 10.4.1.1.3): a frame as JPEG or PNG, windowed.

The window comes from the `window=center,width[,function]` parameter, else from the instance's
WindowCenter/WindowWidth, else from the frame's own range. Pixel values are mapped to modality
units (RescaleSlope/Intercept) first, as the window is given in those units (HU for CT).
"""

import io
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from PIL import Image

from config.errors import PlatformError
from imaging.dicomweb.auth import Caller
from imaging.dicomweb.caching import IMMUTABLE, cached, etag_of, is_fresh, not_modified
from imaging.dicomweb.endpoint import dicomweb_view
from imaging.dicomweb.frame_reads import FRAME_FIELDS, decoded_pixels
from imaging.dicomweb.frames import parse_frame_numbers
from imaging.dicomweb.lookups import cached_instance_in
from imaging.dicomweb.negotiation import rendered_type
from imaging.models import Instance

FUNCTIONS = ("LINEAR", "LINEAR_EXACT", "SIGMOID")
DEFAULT_QUALITY = 90
MAX_VIEWPORT = 4096
VARY = ("Accept",)


@dataclass(frozen=True, slots=True)
class Window:
    center: float
    width: float
    function: str = "LINEAR"


@dataclass(frozen=True, slots=True)
class RenderOptions:
    window: Window | None  # None: from the instance's metadata, else the frame's range
    quality: int
    viewport: tuple[int, int] | None


def _float(text: str, name: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise PlatformError(f"{name} must be a number, not {text!r}") from None
    if not np.isfinite(value):
        raise PlatformError(f"{name} must be a finite number")
    return value


def parse_window(text: str) -> Window:
    parts = [part.strip() for part in text.split(",")]
    if len(parts) not in (2, 3):
        raise PlatformError("window must be center,width or center,width,function")
    center, width = _float(parts[0], "window center"), _float(parts[1], "window width")
    function = parts[2].upper().replace("-", "_") if len(parts) == 3 else "LINEAR"
    if function not in FUNCTIONS:
        raise PlatformError(f"window function must be one of {', '.join(FUNCTIONS).lower()}")
    if not (width >= 1 if function == "LINEAR" else width > 0):
        raise PlatformError("window width must be at least 1 (above 0 for exact and sigmoid)")
    return Window(center, width, function)


def parse_options(params: Any) -> RenderOptions:
    window = parse_window(params["window"]) if params.get("window") else None
    quality = DEFAULT_QUALITY
    if params.get("quality"):
        try:
            quality = int(params["quality"])
        except ValueError:
            quality = 0
        if not 1 <= quality <= 100:
            raise PlatformError("quality must be an integer from 1 to 100")
    viewport = None
    if params.get("viewport"):
        try:
            width, height = (int(v) for v in params["viewport"].split(",")[:2])
        except ValueError:
            raise PlatformError("viewport must be width,height in pixels") from None
        if not (0 < width <= MAX_VIEWPORT and 0 < height <= MAX_VIEWPORT):
            raise PlatformError(f"viewport width and height must be 1-{MAX_VIEWPORT}")
        viewport = (width, height)
    return RenderOptions(window, quality, viewport)


def _first(metadata: dict[str, Any], tag: str) -> Any:
    values = metadata.get(tag, {}).get("Value")
    return values[0] if values else None


def voi_lut(values: np.ndarray, window: Window) -> np.ndarray:
    """The VOI LUT functions of PS3.3 C.11.2.1.2, mapping to 0-255."""
    center, width = window.center, window.width
    if window.function == "SIGMOID":
        out = 255.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    elif window.function == "LINEAR_EXACT":
        out = ((values - center) / width + 0.5) * 255.0
    elif width <= 1:
        out = np.where(values > center - 0.5, 255.0, 0.0)
    else:
        out = ((values - (center - 0.5)) / (width - 1) + 0.5) * 255.0
    return np.clip(out, 0, 255).astype(np.uint8)


def render(instance: Instance, number: int, options: RenderOptions, media_type: str) -> bytes:
    metadata = json.loads(instance.metadata_json)
    pixels = decoded_pixels(
        instance,
        number,
        bits_stored=_first(metadata, "00280101"),
        signed=_first(metadata, "00280103") == 1,
    )
    if instance.samples_per_pixel == 3:
        image = Image.fromarray(_eight_bit(pixels, options.window), mode="RGB")
    else:
        slope = float(_first(metadata, "00281053") or 1.0)
        intercept = float(_first(metadata, "00281052") or 0.0)
        gray = _windowed(pixels, slope, intercept, metadata, options.window)
        if _first(metadata, "00280004") == "MONOCHROME1":
            gray = 255 - gray
        image = Image.fromarray(gray, mode="L")
    if options.viewport is not None:
        image = _fit(image, options.viewport)
    out = io.BytesIO()
    if media_type == "image/png":
        image.save(out, format="PNG")
    else:
        image.save(out, format="JPEG", quality=options.quality)
    return out.getvalue()


def _windowed(
    pixels: np.ndarray,
    slope: float,
    intercept: float,
    metadata: dict[str, Any],
    window: Window | None,
) -> np.ndarray:
    """Modality then VOI LUT to 0-255. Integer pixels go through a table of the stored values
    from the frame's lowest to its highest: the same arithmetic per value, once per value."""
    if pixels.dtype.kind in "iu" and pixels.dtype.itemsize <= 2:
        low, high = int(pixels.min()), int(pixels.max())
        levels = np.arange(low, high + 1, dtype=np.float64) * slope + intercept
        # The frame's own lowest and highest stored values are in the table, so its extremes are
        # the frame's (the rescale is monotonic).
        table = voi_lut(levels, window or _default_window(metadata, levels))
        return np.take(table, np.subtract(pixels, low, dtype=np.int32))
    values = pixels.astype(np.float64) * slope + intercept
    return voi_lut(values, window or _default_window(metadata, values))


def _eight_bit(pixels: np.ndarray, window: Window | None) -> np.ndarray:
    if window is not None:
        return voi_lut(pixels.astype(np.float64), window)
    if pixels.dtype == np.uint8:
        return pixels
    top = float(pixels.max()) or 1.0
    return (pixels.astype(np.float64) * (255.0 / top)).astype(np.uint8)


def _default_window(metadata: dict[str, Any], values: np.ndarray) -> Window:
    center, width = _first(metadata, "00281050"), _first(metadata, "00281051")
    function = str(_first(metadata, "00281056") or "LINEAR").upper()
    if center is not None and width is not None and float(width) > 0:
        return Window(float(center), float(width), function if function in FUNCTIONS else "LINEAR")
    low, high = float(values.min()), float(values.max())
    return Window((low + high) / 2, max(high - low, 1.0), "LINEAR_EXACT")


def _fit(image: Image.Image, viewport: tuple[int, int]) -> Image.Image:
    scale = min(viewport[0] / image.width, viewport[1] / image.height)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.Resampling.LANCZOS)


def _rendered(
    request: HttpRequest, project_id: int, study: str, series: str, sop: str, frames: str
) -> HttpResponseBase:
    media_type = rendered_type(request.headers.get("Accept"))
    options = parse_options(request.GET)
    instance = cached_instance_in(project_id, study, series, sop, *FRAME_FIELDS, "metadata_json")
    numbers = parse_frame_numbers(frames, instance)
    if len(numbers) != 1:
        raise PlatformError("a rendered image is one frame: ask for one frame number")
    etag = etag_of(instance.sha256, numbers[0], options, media_type)
    if is_fresh(request, etag):
        return not_modified(etag, IMMUTABLE, VARY)
    response = HttpResponse(
        render(instance, numbers[0], options, media_type), content_type=media_type
    )
    return cached(response, etag, IMMUTABLE, VARY)


@dicomweb_view("GET")
def rendered_instance(
    request: HttpRequest, caller: Caller, project_id: int, study: str, series: str, sop: str
) -> HttpResponseBase:
    return _rendered(request, project_id, study, series, sop, "1")


@dicomweb_view("GET")
def rendered_frame(
    request: HttpRequest,
    caller: Caller,
    project_id: int,
    study: str,
    series: str,
    sop: str,
    frames: str,
) -> HttpResponseBase:
    return _rendered(request, project_id, study, series, sop, frames)
