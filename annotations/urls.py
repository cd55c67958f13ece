"""API routes of annotations (/api/annotations/)."""

from django.urls import path

from annotations import api

urlpatterns = [
    path("tasks/next/", api.NextTask.as_view(), name="api-next-task"),
    path("tasks/<int:task_id>/", api.TaskDetail.as_view(), name="api-task"),
    path("tasks/<int:task_id>/revisions/", api.RevisionList.as_view(), name="api-revisions"),
    path("tasks/<int:task_id>/submit/", api.TaskSubmit.as_view(), name="api-task-submit"),
    path("tasks/<int:task_id>/review/", api.StartReview.as_view(), name="api-task-review"),
    path("tasks/<int:task_id>/release/", api.ReleaseReview.as_view(), name="api-task-release"),
    path("tasks/<int:task_id>/accept/", api.Accept.as_view(), name="api-task-accept"),
    path("tasks/<int:task_id>/rework/", api.Rework.as_view(), name="api-task-rework"),
    path("tasks/<int:task_id>/reopen/", api.Reopen.as_view(), name="api-task-reopen"),
    path("tasks/<int:task_id>/history/", api.TaskHistory.as_view(), name="api-task-history"),
    path("consensus/<int:consensus_id>/", api.ConsensusDetail.as_view(), name="api-consensus"),
    path(
        "consensus/<int:consensus_id>/resolve/",
        api.ConsensusResolve.as_view(),
        name="api-consensus-resolve",
    ),
    path(
        "consensus/<int:consensus_id>/labelmap",
        api.ConsensusLabelmap.as_view(),
        name="api-consensus-labelmap",
    ),
    path(
        "series/<int:series_id>/consensus/",
        api.SeriesConsensus.as_view(),
        name="api-series-consensus",
    ),
    path("projects/<int:project_id>/tasks/", api.ProjectTasks.as_view(), name="api-project-tasks"),
    path(
        "revisions/<int:revision_id>/labelmap",
        api.RevisionLabelmap.as_view(),
        name="api-revision-labelmap",
    ),
]
