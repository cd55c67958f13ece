from typing import Any

from rest_framework import serializers

from accounts.models import Role, User
from projects.models import Assignment, Membership, Project
from projects.schema import InvalidSchema, parse_schema


def _validate_schema(value: Any) -> Any:
    try:
        parse_schema(value)
    except InvalidSchema as error:
        raise serializers.ValidationError(error.detail) from None
    return value


class ProjectOut(serializers.ModelSerializer):
    class Meta:
        model = Project
        fields = (
            "id", "name", "slug", "description", "label_schema", "deidentify",
            "preannotate_on_ingest", "readers_per_series", "assignment", "tasks_on_ingest",
            "created_at", "updated_at",
        )  # fmt: skip


class ProjectCreateIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True, default="")
    label_schema = serializers.JSONField(required=False, validators=[_validate_schema])
    deidentify = serializers.BooleanField(required=False, default=True)


class ProjectUpdateIn(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    label_schema = serializers.JSONField(required=False, validators=[_validate_schema])
    deidentify = serializers.BooleanField(required=False)
    preannotate_on_ingest = serializers.BooleanField(required=False)
    readers_per_series = serializers.IntegerField(min_value=1, max_value=4, required=False)
    assignment = serializers.ChoiceField(choices=Assignment.choices, required=False)
    tasks_on_ingest = serializers.BooleanField(required=False)


class MemberOut(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="user.id")
    username = serializers.CharField(source="user.username")
    display_name = serializers.CharField(source="user.display_name")

    class Meta:
        model = Membership
        fields = ("user_id", "username", "display_name", "role", "created_at")


class MemberIn(serializers.Serializer):
    username = serializers.SlugRelatedField(
        slug_field="username", queryset=User.objects.filter(is_active=True)
    )
    role = serializers.ChoiceField(choices=Role.choices)
