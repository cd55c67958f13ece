from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from annotations.models import Consensus, Review, Revision, Task


class ReadOnlyAdmin(admin.ModelAdmin):
    """For append-only records: visible to site admins, never changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


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
