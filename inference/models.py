"""The model registry and the runs of models on series."""

from django.db import models

from imaging.models import Series
from projects.models import Project


class ModelStatus(models.TextChoices):
    CANDIDATE = "candidate", "Candidate"
    ACTIVE = "active", "Active"
    RETIRED = "retired", "Retired"


class ModelVersion(models.Model):
    """A model that can pre-annotate: its architecture, plan (config) and weights in storage."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="model_versions")
    name = models.CharField(max_length=100)
    version = models.CharField(max_length=40)
    architecture = models.CharField(max_length=64)  # key in inference.networks.NETWORKS
    # The plan: input spacing, patch size, channels, thresholds... (nnU-Net style).
    config = models.JSONField(default=dict, blank=True)
    weights = models.FileField(upload_to="models/", max_length=255, blank=True)
    weights_sha256 = models.CharField(max_length=64, blank=True)
    metrics = models.JSONField(default=dict, blank=True)
    status = models.CharField(
        max_length=16, choices=ModelStatus.choices, default=ModelStatus.CANDIDATE
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=("project", "name", "version"), name="model_version_unique"
            ),
            models.UniqueConstraint(
                fields=("project",),
                condition=models.Q(status="active"),
                name="one_active_model_per_project",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.version}"


class RunState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class InferenceRun(models.Model):
    """One model version on one series; unique, so a retried task finds its own run."""

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="inference_runs")
    model_version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="runs")
    state = models.CharField(max_length=16, choices=RunState.choices, default=RunState.QUEUED)
    stage = models.CharField(max_length=32, blank=True)  # what it is doing now, for the UI
    error = models.TextField(blank=True)
    device = models.CharField(max_length=32, blank=True)
    # Seconds per stage: load, preprocess, network, postprocess, save.
    timings = models.JSONField(default=dict, blank=True)
    peak_memory_mb = models.FloatField(null=True, blank=True)
    uncertainty = models.FloatField(null=True, blank=True)
    # Voxel-wise uncertainty (TTA / MC-dropout variance) in the labelmap wire format, uint8
    # scaled so 255 is the largest possible variance of a probability (0.25).
    uncertainty_map = models.FileField(upload_to="uncertainty/", max_length=255, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    revision = models.OneToOneField(
        "annotations.Revision", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("series", "model_version"), name="inference_run_unique")
        ]

    def __str__(self) -> str:
        return f"inference run #{self.pk}"
