from typing import Any

from django.apps import AppConfig


class InferenceConfig(AppConfig):
    name = "inference"
    verbose_name = "Inference"

    def ready(self) -> None:
        from imaging.signals import series_ready

        series_ready.connect(_series_ready, dispatch_uid="inference.preannotate_on_ready")


def _series_ready(sender: Any, series_id: int, **kwargs: Any) -> None:
    from inference.services import on_series_ready

    on_series_ready(series_id=series_id)
