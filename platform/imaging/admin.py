from django.contrib import admin
from django.http import HttpRequest

from imaging.models import DeidMapping, Instance, Patient, Series, Study


@admin.register(Patient)
class PatientAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "patient_id", "created_at")
    list_filter = ("project",)


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "study_instance_uid", "study_date", "modalities")
    list_filter = ("project",)


@admin.register(Series)
class SeriesAdmin(admin.ModelAdmin):
    list_display = ("id", "project", "series_instance_uid", "modality", "instance_count")
    list_filter = ("project", "modality")


@admin.register(Instance)
class InstanceAdmin(admin.ModelAdmin):
    list_display = ("id", "series", "sop_instance_uid", "instance_number", "size")
    raw_id_fields = ("series",)


@admin.register(DeidMapping)
class DeidMappingAdmin(admin.ModelAdmin):
    """Original identifiers are PHI: site admins (superusers) only, and read-only."""

    list_display = ("project", "kind", "original", "replacement", "created_at")
    list_filter = ("project", "kind")
    search_fields = ("replacement",)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_active and request.user.is_superuser)

    def has_view_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return self.has_module_permission(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False
