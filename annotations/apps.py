from typing import Any

from django.apps import AppConfig


class AnnotationsConfig(AppConfig):
    name = "annotations"
    verbose_name = "Annotations"

    def ready(self) -> None:
        from annotations.panels import register
        from imaging.signals import series_ready

        register()
        from annotations.signals import task_submitted

        series_ready.connect(_series_ready, dispatch_uid="annotations.tasks_on_ready")
        task_submitted.connect(_task_submitted, dispatch_uid="annotations.consensus_on_submit")


def _series_ready(sender: Any, series_id: int, **kwargs: Any) -> None:
    from annotations.services import tasks_for_new_series

    tasks_for_new_series(series_id=series_id)


def _task_submitted(sender: Any, task_id: int, series_id: int, **kwargs: Any) -> None:
    """The last reader of a multi-reader series to hand in starts its consensus (in a worker:
    decoding several labelmaps takes longer than a request should)."""
    from annotations.consensus import HANDED_IN
    from annotations.models import Task
    from annotations.tasks import build_consensus

    states = list(Task.objects.filter(series_id=series_id).values_list("state", flat=True))
    if len(states) > 1 and all(state in HANDED_IN for state in states):
        build_consensus.delay(series_id)
