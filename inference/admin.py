from django.contrib import admin

from inference.models import InferenceRun, ModelVersion


@admin.register(ModelVersion)
class ModelVersionAdmin(admin.ModelAdmin):
    list_display = ("name", "version", "project", "architecture", "status", "created_at")
    list_filter = ("project", "status", "architecture")


@admin.register(InferenceRun)
class InferenceRunAdmin(admin.ModelAdmin):
    list_display = ("id", "series", "model_version", "state", "stage", "device", "updated_at")
    list_filter = ("state",)
    raw_id_fields = ("series", "revision")
