from django.contrib import admin

from annotations.models import Consensus, Review, Revision, Task
from projects.admin import ReadOnlyAdmin


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "series", "reader_slot", "state", "priority", "assignee")
    list_filter = ("project", "state")
    raw_id_fields = ("series", "assignee", "reviewer")
    # States move only through the state machine (annotations.services), which audits them.
    readonly_fields = (
        "state", "latest_revision", "reviewer", "started_at", "submitted_at",
        "review_started_at", "accepted_at", "rework_count", "created_by",
    )  # fmt: skip


@admin.register(Revision)
class RevisionAdmin(ReadOnlyAdmin):
    list_display = ("id", "task", "author", "model_version", "created_at")


@admin.register(Review)
class ReviewAdmin(ReadOnlyAdmin):
    list_display = ("id", "task", "reviewer", "decision", "model_dice", "created_at")
    list_filter = ("decision",)


@admin.register(Consensus)
class ConsensusAdmin(ReadOnlyAdmin):
    list_display = ("id", "project", "series", "state", "created_at", "resolved_at")
