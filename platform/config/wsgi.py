"""WSGI entry point (gunicorn config.wsgi:application)."""

import os
import threading

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

from imaging import ingest_pool

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Load every view and the reverse-lookup table while the worker boots, not in the first request
# it serves: about a second of imports (NumPy, SciPy, pydicom) that a client would wait through.
get_resolver().resolve("/healthz")
get_resolver().reverse("healthz")

# The ingest pool's workers start now, beside the first requests, not in the first STOW.
threading.Thread(target=ingest_pool.start, name="ingest-pool-start", daemon=True).start()
