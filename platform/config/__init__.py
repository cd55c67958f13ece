"""Site configuration: settings, URL map, WSGI/ASGI entry points, the Celery app, shared errors."""

from config.memory import tune_allocator

# Before anything else: every process (web, worker, beat, manage.py) imports this package first.
tune_allocator()

from config.celery_app import app as celery_app  # noqa: E402 - after the allocator is tuned

__all__ = ["celery_app"]
