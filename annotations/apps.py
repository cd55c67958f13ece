from typing import Any

from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Annotations"

    def ready(self) -> None:
        from annotations.panels import register
        from imaging.signals import series_ready

        register()
        series_ready.connect(_series_ready, dispatch_uid="annotations.tasks_on_ready")


def _series_ready(sender: Any, series_id: int, **kwargs: Any) -> None:
    from annotations.services import tasks_for_new_series

    tasks_for_new_series(series_id=series_id)
