from typing import Any

from rest_framework import serializers

from annotations.models import Revision, Task


class RevisionOut(serializers.ModelSerializer):
    author = serializers.SerializerMethodField()
    author_kind = serializers.CharField(read_only=True)
    labelmap_url = serializers.SerializerMethodField()

    class Meta:
        model = Revision
        fields = (
            "id", "parent_id", "author", "author_kind", "model_version_id", "created_at",
            "labelmap_sha256", "labelmap_size", "findings", "labelmap_url",
        )  # fmt: skip

    def get_author(self, revision: Revision) -> str:
        if revision.model_version is not None:
            return str(revision.model_version)
        return str(revision.author) if revision.author else ""

    def get_labelmap_url(self, revision: Revision) -> str:
        return f"/api/annotations/revisions/{revision.pk}/labelmap"


class SeriesOut(serializers.Serializer):
    id = serializers.IntegerField()
    study_instance_uid = serializers.CharField(source="study.study_instance_uid")
    series_instance_uid = serializers.CharField()
    modality = serializers.CharField()
    state = serializers.CharField()
    fit_for_3d = serializers.BooleanField(allow_null=True)
    unfit_reason = serializers.CharField()
    geometry = serializers.JSONField(allow_null=True)


class TaskOut(serializers.ModelSerializer):
    project_id = serializers.IntegerField()
    series = SeriesOut()
    latest_revision = RevisionOut(allow_null=True)
    schema = serializers.JSONField(source="project.label_schema")
    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)
    permissions = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = (
            "id", "project_id", "state", "priority", "reader_slot", "assignee", "series",
            "latest_revision", "schema", "permissions", "created_at", "updated_at",
        )  # fmt: skip

    def get_permissions(self, task: Task) -> dict[str, Any]:
        return dict(self.context.get("permissions", {}))


class RevisionIn(serializers.Serializer):
    labelmap = serializers.FileField()
    findings = serializers.JSONField(required=False)
    parent_id = serializers.IntegerField(required=False, allow_null=True, default=None)
