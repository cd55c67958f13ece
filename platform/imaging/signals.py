"""Events imaging sends to apps further along the chain (which it may not import)."""

from django.dispatch import Signal

# Sent once a series is post-processed and ready; kwargs: series_id (int).
series_ready = Signal()
