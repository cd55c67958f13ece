"""Pages of a project that annotations owns (mounted under /projects/<project_id>/)."""

from django.urls import path

from annotations import dashboard_views, views

urlpatterns = [
    path("tasks/", views.project_tasks, name="project-tasks"),
    path("tasks/create/", views.create_tasks_page, name="project-tasks-create"),
    path("tasks/<int:task_id>/assign/", views.assign_task_page, name="project-task-assign"),
    path("workflow/", views.workflow_settings, name="project-workflow"),
    path("dashboard/", dashboard_views.dashboard_page, name="project-dashboard"),
    path("dashboard.csv", dashboard_views.dashboard_csv, name="project-dashboard-csv"),
]
