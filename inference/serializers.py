from rest_framework import serializers

from inference.models import InferenceRun, ModelVersion


class ModelVersionOut(serializers.ModelSerializer):
    class Meta:
        model = ModelVersion
        fields = (
            "id", "project_id", "name", "version", "architecture", "config", "weights_sha256",
            "metrics", "status", "created_at", "updated_at",
        )  # fmt: skip


class InferenceRunOut(serializers.ModelSerializer):
    model = serializers.CharField(source="model_version.__str__")
    uncertainty_map_url = serializers.SerializerMethodField()

    def get_uncertainty_map_url(self, run: InferenceRun) -> str | None:
        if not run.uncertainty_map or run.revision_id is None:
            return None
        return f"/api/inference/revisions/{run.revision_id}/uncertainty"

    class Meta:
        model = InferenceRun
        fields = (
            "id", "series_id", "model_version_id", "model", "state", "stage", "error", "device",
            "timings", "peak_memory_mb", "uncertainty", "uncertainty_map_url", "attempts",
            "revision_id", "created_at", "updated_at",
        )  # fmt: skip
