"""API routes of annotations (/api/annotations/)."""

from django.urls import path

from annotations import api

urlpatterns = [
    path("tasks/next/", api.NextTask.as_view(), name="api-next-task"),
    path("tasks/<int:task_id>/", api.TaskDetail.as_view(), name="api-task"),
    path("tasks/<int:task_id>/revisions/", api.RevisionList.as_view(), name="api-revisions"),
    path("tasks/<int:task_id>/submit/", api.TaskSubmit.as_view(), name="api-task-submit"),
    path(
        "revisions/<int:revision_id>/labelmap",
        api.RevisionLabelmap.as_view(),
        name="api-revision-labelmap",
    ),
]
