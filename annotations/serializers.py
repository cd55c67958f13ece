from typing import Any

from rest_framework import serializers

from accounts.models import User
from annotations.models import Consensus, Review, Revision, Task
from projects.models import Assignment


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
    reviewer = serializers.CharField(source="reviewer.username", allow_null=True, default=None)
    permissions = serializers.SerializerMethodField()
    mode = serializers.SerializerMethodField()
    reviews = serializers.SerializerMethodField()

    class Meta:
        model = Task
        fields = (
            "id", "project_id", "state", "priority", "due_date", "reader_slot", "assignee",
            "reviewer", "series", "latest_revision", "schema", "permissions", "mode", "reviews",
            "rework_count", "created_at", "updated_at",
        )  # fmt: skip

    def get_mode(self, task: Task) -> str:
        return str(self.context.get("mode", "read"))

    def get_reviews(self, task: Task) -> list[dict[str, Any]]:
        return list(self.context.get("reviews", []))

    def get_permissions(self, task: Task) -> dict[str, Any]:
        return dict(self.context.get("permissions", {}))


class RevisionIn(serializers.Serializer):
    labelmap = serializers.FileField()
    findings = serializers.JSONField(required=False)
    parent_id = serializers.IntegerField(required=False, allow_null=True, default=None)


class TaskRow(serializers.ModelSerializer):
    """A task in a list: no schema, no revision payloads."""

    assignee = serializers.CharField(source="assignee.username", allow_null=True, default=None)
    reviewer = serializers.CharField(source="reviewer.username", allow_null=True, default=None)

    class Meta:
        model = Task
        fields = (
            "id", "series_id", "reader_slot", "state", "priority", "due_date", "assignee",
            "reviewer", "latest_revision_id", "rework_count", "created_at", "updated_at",
        )  # fmt: skip


class ReviewOut(serializers.ModelSerializer):
    reviewer = serializers.CharField(source="reviewer.username")

    class Meta:
        model = Review
        fields = (
            "id", "revision_id", "reviewer", "decision", "comment", "finding_comments",
            "model_version_id", "model_dice", "created_at",
        )  # fmt: skip


class TasksIn(serializers.Serializer):
    series_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=10000
    )
    study_ids = serializers.ListField(
        child=serializers.IntegerField(), required=False, default=list, max_length=10000
    )
    readers = serializers.IntegerField(min_value=1, max_value=4, required=False)
    priority = serializers.IntegerField(required=False, default=0)
    due_date = serializers.DateField(required=False, allow_null=True, default=None)
    assignment = serializers.ChoiceField(choices=Assignment.choices, required=False)
    assignees = serializers.ListField(
        child=serializers.SlugRelatedField(
            slug_field="username", queryset=User.objects.filter(is_active=True)
        ),
        required=False,
        default=list,
        max_length=4,
    )

    def validate(self, data: dict[str, Any]) -> dict[str, Any]:
        if not data["series_ids"] and not data["study_ids"]:
            raise serializers.ValidationError("choose series_ids or study_ids")
        return data


class TaskChangeIn(serializers.Serializer):
    assignee = serializers.SlugRelatedField(
        slug_field="username",
        queryset=User.objects.filter(is_active=True),
        required=False,
        allow_null=True,
    )
    priority = serializers.IntegerField(required=False)
    due_date = serializers.DateField(required=False, allow_null=True)


class DecisionIn(serializers.Serializer):
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
    finding_comments = serializers.JSONField(required=False, default=None)


class ConsensusOut(serializers.ModelSerializer):
    resolved_by = serializers.CharField(source="resolved_by.username", default=None)
    reader_revision_ids = serializers.SerializerMethodField()
    proposed_labelmap_url = serializers.SerializerMethodField()
    labelmap_url = serializers.SerializerMethodField()

    class Meta:
        model = Consensus
        fields = (
            "id", "series_id", "state", "matches", "agreement", "proposed_findings", "decisions",
            "findings", "resolved_by", "resolved_at", "created_at", "reader_revision_ids",
            "proposed_labelmap_url", "labelmap_url",
        )  # fmt: skip

    def get_reader_revision_ids(self, consensus: Consensus) -> list[int]:
        return sorted(r.pk for r in consensus.reader_revisions.all())

    def get_proposed_labelmap_url(self, consensus: Consensus) -> str:
        return f"/api/annotations/consensus/{consensus.pk}/labelmap?which=proposed"

    def get_labelmap_url(self, consensus: Consensus) -> str | None:
        if not consensus.labelmap:
            return None
        return f"/api/annotations/consensus/{consensus.pk}/labelmap?which=final"


class ResolveIn(serializers.Serializer):
    include = serializers.ListField(child=serializers.IntegerField(min_value=0), max_length=500)
    comment = serializers.CharField(required=False, allow_blank=True, default="", max_length=4000)
