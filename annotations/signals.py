"""Events annotations sends to apps further along the chain (which it may not import)."""

from django.dispatch import Signal

# Sent after commit when an annotator hands a task in; kwargs: task_id, series_id (int).
task_submitted = Signal()
# Sent after commit when a task's labels are accepted (training data); kwargs: task_id (int).
labels_accepted = Signal()
