from django.urls import path

from annotations import views

urlpatterns = [
    path("next/", views.next_task, name="next-task"),
    path("<int:task_id>/", views.task_page, name="task-page"),
    path("<int:task_id>/history/", views.task_history, name="task-history"),
    path("consensus/<int:consensus_id>/", views.consensus_page, name="consensus-page"),
]
