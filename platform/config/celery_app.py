"""The Celery app: two queues, `default` (ingest post-processing, exports, metrics) and `gpu`
(inference, training; one task at a time per GPU worker), settings from Django's CELERY_*."""

import os

from celery import Celery
from kombu import Exchange, Queue

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("noduleflow")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.task_queues = (
    Queue("default", Exchange("default"), routing_key="default"),
    Queue("gpu", Exchange("gpu"), routing_key="gpu"),
)
app.autodiscover_tasks()
