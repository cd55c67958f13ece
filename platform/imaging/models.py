"""The DICOM hierarchy as stored: Patient → Study → Series → Instance, scoped to one project.

UIDs are unique within a project (de-identification remaps them per project, and the same
study may be imported into two projects). Indexed tags live in columns for QIDO-RS.
"""

from django.db import models

from projects.models import Project


class Patient(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="patients")
    patient_id = models.CharField(max_length=64)
    patient_name = models.CharField(max_length=324, blank=True)
    birth_date = models.CharField(max_length=8, blank=True)
    sex = models.CharField(max_length=16, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("project", "patient_id"), name="patient_unique_id")
        ]

    def __str__(self) -> str:
        return f"patient #{self.pk}"


class Study(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="studies")
    patient = models.ForeignKey(Patient, on_delete=models.CASCADE, related_name="studies")
    study_instance_uid = models.CharField(max_length=64)
    study_date = models.CharField(max_length=8, blank=True)
    study_time = models.CharField(max_length=16, blank=True)
    accession_number = models.CharField(max_length=16, blank=True)
    study_id = models.CharField(max_length=16, blank=True)
    description = models.CharField(max_length=64, blank=True)
    modalities = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "studies"
        constraints = [
            models.UniqueConstraint(
                fields=("project", "study_instance_uid"), name="study_unique_uid"
            )
        ]
        indexes = [models.Index(fields=("project", "study_date"))]

    def __str__(self) -> str:
        return f"study #{self.pk}"


class Series(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="series")
    study = models.ForeignKey(Study, on_delete=models.CASCADE, related_name="series")
    series_instance_uid = models.CharField(max_length=64)
    modality = models.CharField(max_length=16, blank=True)
    series_number = models.IntegerField(null=True, blank=True)
    description = models.CharField(max_length=64, blank=True)
    instance_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "series"
        constraints = [
            models.UniqueConstraint(
                fields=("project", "series_instance_uid"), name="series_unique_uid"
            )
        ]

    def __str__(self) -> str:
        return f"series #{self.pk}"


class Instance(models.Model):
    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="instances")
    sop_instance_uid = models.CharField(max_length=64)
    sop_class_uid = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    transfer_syntax_uid = models.CharField(max_length=64)
    rows = models.PositiveIntegerField(default=0)
    columns = models.PositiveIntegerField(default=0)
    number_of_frames = models.PositiveIntegerField(default=1)
    file = models.FileField(upload_to="dicom/", max_length=255)
    size = models.PositiveBigIntegerField(default=0)
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("series", "sop_instance_uid"), name="instance_unique_uid"
            )
        ]

    def __str__(self) -> str:
        return f"instance #{self.pk}"
