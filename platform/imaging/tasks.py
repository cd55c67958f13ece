from datetime import timedelta

from celery import shared_task

from imaging import processing
from imaging.services import SETTLE_SECONDS


@shared_task(name="imaging.process_series", acks_late=True)
def process_series(series_id: int) -> bool:
    # Skips when instances arrived since it was queued: the run queued by the last one does it.
    return processing.process_series(
        series_id=series_id, settle=timedelta(seconds=SETTLE_SECONDS - 0.5)
    )
