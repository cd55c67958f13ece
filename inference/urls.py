"""API routes of inference (/api/inference/)."""

from django.urls import path

from inference import api

urlpatterns = [
    path("projects/<int:project_id>/models/", api.ModelList.as_view(), name="api-models"),
    path(
        "projects/<int:project_id>/models/rollback/",
        api.ModelRollback.as_view(),
        name="api-model-rollback",
    ),
    path("models/<int:model_id>/activate/", api.ModelActivate.as_view(), name="api-model-activate"),
    path(
        "series/<int:series_id>/preannotate/",
        api.SeriesPreannotate.as_view(),
        name="api-series-preannotate",
    ),
    path("series/<int:series_id>/runs/", api.SeriesRuns.as_view(), name="api-series-runs"),
    path(
        "revisions/<int:revision_id>/uncertainty",
        api.RevisionUncertainty.as_view(),
        name="api-revision-uncertainty",
    ),
]
