"""/healthz: is the database answering, is the broker reachable, are workers consuming each queue.

Answers 200 when all are up and 503 otherwise, with the state of each part as JSON, so a load
balancer and a person can both read it.
"""

import logging
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from config.celery_app import app as celery_app

logger = logging.getLogger(__name__)
QUEUES = ("default", "gpu")


def check_database() -> dict[str, Any]:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return {"ok": True, "vendor": connection.vendor}
    except Exception as error:  # any driver error means "down"; say which
        logger.warning("health: database down: %s", type(error).__name__)
        return {"ok": False, "error": type(error).__name__}


def check_broker() -> dict[str, Any]:
    transport = settings.CELERY_BROKER_URL.split("://", 1)[0]
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=2)
        return {"ok": True, "transport": transport}
    except Exception as error:
        logger.warning("health: broker down: %s", type(error).__name__)
        return {"ok": False, "transport": transport, "error": type(error).__name__}


def check_workers() -> dict[str, Any]:
    """Ask every worker which queues it consumes; a queue with no consumer is down."""
    try:
        replies = celery_app.control.inspect(timeout=settings.HEALTH_WORKER_TIMEOUT).active_queues()
    except Exception as error:
        return {"ok": False, "error": type(error).__name__, "workers": [], "queues": {}}
    replies = replies or {}
    consumers = {
        queue: sorted(w for w, qs in replies.items() if any(q["name"] == queue for q in qs))
        for queue in QUEUES
    }
    return {
        "ok": bool(replies) and all(consumers.values()),
        "workers": sorted(replies),
        "queues": {
            queue: {"ok": bool(names), "workers": names} for queue, names in consumers.items()
        },
    }


@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    report = {"database": check_database(), "broker": check_broker()}
    report["workers"] = (
        check_workers() if report["broker"]["ok"] else {"ok": False, "error": "broker down"}
    )
    healthy = all(part["ok"] for part in report.values())
    return JsonResponse({"ok": healthy, **report}, status=200 if healthy else 503)
