from celery import shared_task
from django.conf import settings

from inference import services


@shared_task(
    name="inference.preannotate",
    acks_late=True,
    reject_on_worker_lost=True,
    max_retries=settings.INFERENCE_MAX_ATTEMPTS,
)
def preannotate(run_id: int) -> str:
    # Routed to the gpu queue (settings.CELERY_TASK_ROUTES); a killed worker's message is
    # redelivered and the service finds its run row again.
    return services.run_preannotation(run_id=run_id).state
