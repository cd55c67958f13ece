from django.contrib import admin

from annotations.models import Task


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "series", "reader_slot", "state", "priority", "assignee")
    list_filter = ("project", "state")
    raw_id_fields = ("series", "assignee")
