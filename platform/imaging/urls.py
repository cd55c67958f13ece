from django.urls import path

from imaging import api

urlpatterns = [
    path("projects/<int:project_id>/studies/", api.StudyList.as_view(), name="api-study-list"),
]
