from rest_framework import serializers

from imaging.models import Study


class StudyOut(serializers.ModelSerializer):
    series_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Study
        fields = (
            "id", "study_instance_uid", "study_date", "description", "modalities",
            "series_count", "created_at",
        )  # fmt: skip
