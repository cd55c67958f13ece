from django.contrib import admin

from imaging.models import Instance, Patient, Series, Study


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
