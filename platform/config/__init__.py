"""Site configuration: settings, URL map, WSGI/ASGI entry points, the Celery app, shared errors."""

from config.celery_app import app as celery_app

__all__ = ["celery_app"]
