"""DRF renderers for binary API responses (labelmaps, uncertainty maps)."""

from typing import Any

from rest_framework.renderers import BaseRenderer


class OctetStreamRenderer(BaseRenderer):
    """Lets a client ask for `application/octet-stream` without DRF answering 406 first."""

    media_type = "application/octet-stream"
    format = "bin"
    charset = None
    render_style = "binary"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> Any:
        return data
