from celery import shared_task

from annotations import consensus


@shared_task(name="annotations.build_consensus", acks_late=True, reject_on_worker_lost=True)
def build_consensus(series_id: int) -> int | None:
    # Default queue. Safe to run twice: an unresolved consensus is rebuilt, a resolved one kept.
    made = consensus.build_consensus(series_id=series_id)
    return made.pk if made else None
